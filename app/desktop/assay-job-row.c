/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-job-row.h"

#include "assay-util.h"

#include <glib/gi18n.h>

struct _AssayJobRow
{
  GObject parent_instance;

  char *path;
  char *file_name;
  char *job_id;
  guint64 size;
  AssayJobRowStatus status;
  double fraction;      /* of the upload, estimated */
  double rate;
  gint64 eta;
  char *stamps[5];   /* created, assigned, uploaded, processing, processed */
  char *timeline;
  char *error_code;
  char *error_message;
  GBytes *result;
  char *size_label;
  char *detail;
};

G_DEFINE_FINAL_TYPE (AssayJobRow, assay_job_row, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (AssayJobRowStatus, assay_job_row_status,
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_QUEUED, "queued"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_UPLOADING, "uploading"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_PAUSED, "paused"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_UPLOADED, "uploaded"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_PROCESSING, "processing"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_PROCESSED, "processed"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_FAILED, "failed"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_CANCELLED, "cancelled"))

G_DEFINE_ENUM_TYPE (AssayJobRowVerdict, assay_job_row_verdict,
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_VERDICT_NONE, "none"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_VERDICT_CLEAN, "clean"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_VERDICT_INFECTED, "infected"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_VERDICT_UNSCANNABLE, "unscannable"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_ROW_VERDICT_INVALID, "invalid"))

enum
{
  PROP_0,
  PROP_PATH,
  PROP_FILE_NAME,
  PROP_JOB_ID,
  PROP_SIZE,
  PROP_SIZE_LABEL,
  PROP_STATUS,
  PROP_STATUS_LABEL,
  PROP_PROGRESS,
  PROP_RATE,
  PROP_ETA,
  PROP_DETAIL,
  PROP_TIMELINE,
  PROP_ERROR_CODE,
  PROP_ERROR_MESSAGE,
  PROP_VERDICT,
  PROP_VERDICT_LABEL,
  PROP_VERDICT_ICON,
  PROP_MARKED,
  PROP_HAS_RESULT,
  PROP_ACTIVE,
  PROP_FAILED,
  PROP_PROCESSED,
  N_PROPS
};

enum
{
  RETRY_REQUESTED,
  CANCEL_REQUESTED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
assay_job_row_finalize (GObject *object)
{
  AssayJobRow *self = ASSAY_JOB_ROW (object);

  g_free (self->path);
  g_free (self->file_name);
  g_free (self->job_id);
  for (guint i = 0; i < G_N_ELEMENTS (self->stamps); i++)
    g_free (self->stamps[i]);
  g_free (self->timeline);
  g_free (self->error_code);
  g_free (self->error_message);
  g_clear_pointer (&self->result, assay_wipe_bytes_free);
  g_free (self->size_label);
  g_free (self->detail);

  G_OBJECT_CLASS (assay_job_row_parent_class)->finalize (object);
}

static void
assay_job_row_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  AssayJobRow *self = ASSAY_JOB_ROW (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_FILE_NAME:
      g_value_set_string (value, self->file_name);
      break;
    case PROP_JOB_ID:
      g_value_set_string (value, self->job_id);
      break;
    case PROP_SIZE:
      g_value_set_uint64 (value, self->size);
      break;
    case PROP_SIZE_LABEL:
      g_value_set_string (value, self->size_label);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_STATUS_LABEL:
      g_value_set_string (value, assay_job_row_get_status_label (self));
      break;
    case PROP_PROGRESS:
      g_value_set_double (value, assay_job_row_get_progress (self));
      break;
    case PROP_RATE:
      g_value_set_double (value, self->rate);
      break;
    case PROP_ETA:
      g_value_set_int64 (value, self->eta);
      break;
    case PROP_DETAIL:
      g_value_set_string (value, self->detail);
      break;
    case PROP_TIMELINE:
      g_value_set_string (value, self->timeline);
      break;
    case PROP_ERROR_CODE:
      g_value_set_string (value, self->error_code);
      break;
    case PROP_ERROR_MESSAGE:
      g_value_set_string (value, self->error_message);
      break;
    case PROP_VERDICT:
      g_value_set_enum (value, assay_job_row_get_verdict (self));
      break;
    case PROP_VERDICT_LABEL:
      switch (assay_job_row_get_verdict (self))
        {
        case ASSAY_JOB_ROW_VERDICT_INFECTED:
          g_value_set_string (value, _("Infected"));
          break;
        case ASSAY_JOB_ROW_VERDICT_UNSCANNABLE:
          g_value_set_string (value, _("Could not be scanned"));
          break;
        case ASSAY_JOB_ROW_VERDICT_INVALID:
          g_value_set_string (value, _("Invalid file"));
          break;
        case ASSAY_JOB_ROW_VERDICT_CLEAN:
          g_value_set_string (value, _("Clean"));
          break;
        case ASSAY_JOB_ROW_VERDICT_NONE:
        default:
          g_value_set_string (value, "");
          break;
        }
      break;
    case PROP_VERDICT_ICON:
      switch (assay_job_row_get_verdict (self))
        {
        case ASSAY_JOB_ROW_VERDICT_INFECTED:
          g_value_set_string (value, "dialog-error-symbolic");
          break;
        case ASSAY_JOB_ROW_VERDICT_UNSCANNABLE:
        case ASSAY_JOB_ROW_VERDICT_INVALID:
          g_value_set_string (value, "dialog-warning-symbolic");
          break;
        case ASSAY_JOB_ROW_VERDICT_CLEAN:
          g_value_set_string (value, "emblem-ok-symbolic");
          break;
        case ASSAY_JOB_ROW_VERDICT_NONE:
        default:
          g_value_set_string (value, "text-x-generic-symbolic");
          break;
        }
      break;
    case PROP_MARKED:
      g_value_set_boolean (value, assay_job_row_get_verdict (self) > ASSAY_JOB_ROW_VERDICT_CLEAN);
      break;
    case PROP_HAS_RESULT:
      g_value_set_boolean (value, self->result != NULL);
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, self->status == ASSAY_JOB_ROW_UPLOADING ||
                                  self->status == ASSAY_JOB_ROW_QUEUED);
      break;
    case PROP_PROCESSED:
      /* a result is on the store: decrypted already, or fetched when it is shown */
      g_value_set_boolean (value, self->status == ASSAY_JOB_ROW_PROCESSED);
      break;
    case PROP_FAILED:
      /* what a new attempt may cure: not a file found infected, unscannable or invalid */
      g_value_set_boolean (value, (self->status == ASSAY_JOB_ROW_FAILED ||
                                   self->status == ASSAY_JOB_ROW_CANCELLED) &&
                                  assay_job_row_get_verdict (self) <= ASSAY_JOB_ROW_VERDICT_CLEAN);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_job_row_class_init (AssayJobRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = assay_job_row_finalize;
  object_class->get_property = assay_job_row_get_property;

  properties[PROP_PATH] = g_param_spec_string ("path", NULL, NULL, NULL, flags);
  properties[PROP_FILE_NAME] = g_param_spec_string ("file-name", NULL, NULL, NULL, flags);
  properties[PROP_JOB_ID] = g_param_spec_string ("job-id", NULL, NULL, NULL, flags);
  properties[PROP_SIZE] = g_param_spec_uint64 ("size", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_SIZE_LABEL] = g_param_spec_string ("size-label", NULL, NULL, NULL, flags);
  properties[PROP_STATUS] = g_param_spec_enum ("status", NULL, NULL, ASSAY_TYPE_JOB_ROW_STATUS,
                                               ASSAY_JOB_ROW_QUEUED, flags);
  properties[PROP_STATUS_LABEL] = g_param_spec_string ("status-label", NULL, NULL, NULL, flags);
  properties[PROP_PROGRESS] = g_param_spec_double ("progress", NULL, NULL, 0, 1, 0, flags);
  properties[PROP_RATE] = g_param_spec_double ("rate", NULL, NULL, 0, G_MAXDOUBLE, 0, flags);
  properties[PROP_ETA] = g_param_spec_int64 ("eta", NULL, NULL, -1, G_MAXINT64, -1, flags);
  properties[PROP_DETAIL] = g_param_spec_string ("detail", NULL, NULL, NULL, flags);
  properties[PROP_TIMELINE] = g_param_spec_string ("timeline", NULL, NULL, NULL, flags);
  properties[PROP_ERROR_CODE] = g_param_spec_string ("error-code", NULL, NULL, NULL, flags);
  properties[PROP_ERROR_MESSAGE] = g_param_spec_string ("error-message", NULL, NULL, NULL,
                                                        flags);
  properties[PROP_VERDICT] = g_param_spec_enum ("verdict", NULL, NULL, ASSAY_TYPE_JOB_ROW_VERDICT,
                                                ASSAY_JOB_ROW_VERDICT_NONE, flags);
  properties[PROP_VERDICT_LABEL] = g_param_spec_string ("verdict-label", NULL, NULL, NULL, flags);
  properties[PROP_VERDICT_ICON] = g_param_spec_string ("verdict-icon", NULL, NULL, NULL, flags);
  properties[PROP_MARKED] = g_param_spec_boolean ("marked", NULL, NULL, FALSE, flags);
  properties[PROP_HAS_RESULT] = g_param_spec_boolean ("has-result", NULL, NULL, FALSE, flags);
  properties[PROP_ACTIVE] = g_param_spec_boolean ("active", NULL, NULL, FALSE, flags);
  properties[PROP_FAILED] = g_param_spec_boolean ("failed", NULL, NULL, FALSE, flags);
  properties[PROP_PROCESSED] = g_param_spec_boolean ("processed", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The row asks its list to act; AssayJobList connects to both. */
  signals[RETRY_REQUESTED] = g_signal_new ("retry-requested", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                           0);
  signals[CANCEL_REQUESTED] = g_signal_new ("cancel-requested", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                            0);
}

static void
assay_job_row_init (AssayJobRow *self)
{
  self->eta = -1;
}

/* g_set_str() comes with GLib 2.76. */
static gboolean
set_str (char       **field,
         const char  *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

static char *
format_eta (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup (_("estimating time left"));
  if (seconds >= 3600)
    return g_strdup_printf (_("%d:%02d:%02d left"), (int) (seconds / 3600),
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf (_("%d:%02d left"), (int) (seconds / 60), (int) (seconds % 60));
}

/* The second line of the row: rate and ETA while uploading, the error on failure, the
 * timeline otherwise. */
static void
update_detail (AssayJobRow *self)
{
  g_autofree char *detail = NULL;

  switch (self->status)
    {
    case ASSAY_JOB_ROW_UPLOADING:
      {
        g_autofree char *rate = g_format_size ((guint64) self->rate);
        g_autofree char *eta = format_eta (self->eta);

        /* TRANSLATORS: an upload's rate and the time it has left, "2.1 MB/s, 0:42 left" */
        detail = g_strdup_printf (_("%s/s, %s"), rate, eta);
        break;
      }
    case ASSAY_JOB_ROW_FAILED:
    case ASSAY_JOB_ROW_CANCELLED:
      if (self->error_code != NULL)
        detail = g_strdup_printf ("%s: %s", self->error_code,
                                  self->error_message ? self->error_message : "");
      else
        detail = g_strdup (self->error_message ? self->error_message : "");
      break;
    case ASSAY_JOB_ROW_QUEUED:
    case ASSAY_JOB_ROW_PAUSED:
    case ASSAY_JOB_ROW_UPLOADED:
    case ASSAY_JOB_ROW_PROCESSING:
    case ASSAY_JOB_ROW_PROCESSED:
    default:
      detail = g_strdup (self->timeline ? self->timeline : "");
      break;
    }
  if (g_strcmp0 (detail, self->detail) == 0)
    return;
  g_free (self->detail);
  self->detail = g_steal_pointer (&detail);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DETAIL]);
}

AssayJobRow *
assay_job_row_new (const char *path)
{
  AssayJobRow *self;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_object_new (ASSAY_TYPE_JOB_ROW, NULL);
  self->path = g_strdup (path);
  self->file_name = g_path_get_basename (path);
  self->size_label = g_format_size (0);
  update_detail (self);
  return self;
}

const char *
assay_job_row_get_path (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), NULL);
  return self->path;
}

const char *
assay_job_row_get_file_name (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), NULL);
  return self->file_name;
}

const char *
assay_job_row_get_job_id (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), NULL);
  return self->job_id;
}

void
assay_job_row_set_job_id (AssayJobRow *self,
                          const char  *job_id)
{
  g_return_if_fail (ASSAY_IS_JOB_ROW (self));

  if (set_str (&self->job_id, job_id))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_JOB_ID]);
}

guint64
assay_job_row_get_size (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), 0);
  return self->size;
}

void
assay_job_row_set_size (AssayJobRow *self,
                        guint64      size)
{
  g_return_if_fail (ASSAY_IS_JOB_ROW (self));

  if (self->size == size)
    return;
  self->size = size;
  g_free (self->size_label);
  self->size_label = g_format_size (size);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
}

AssayJobRowStatus
assay_job_row_get_status (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), ASSAY_JOB_ROW_QUEUED);
  return self->status;
}

void
assay_job_row_set_status (AssayJobRow       *self,
                          AssayJobRowStatus  status)
{
  g_return_if_fail (ASSAY_IS_JOB_ROW (self));

  if (self->status == status)
    return;
  self->status = status;
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAILED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROCESSED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERDICT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERDICT_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERDICT_ICON]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MARKED]);
  update_detail (self);
  g_object_thaw_notify (G_OBJECT (self));
}

/* The fraction the bar shows: read while uploading, full once uploaded. */
double
assay_job_row_get_progress (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), 0);

  switch (self->status)
    {
    case ASSAY_JOB_ROW_QUEUED:
      return 0;
    case ASSAY_JOB_ROW_UPLOADING:
    case ASSAY_JOB_ROW_PAUSED:
    case ASSAY_JOB_ROW_FAILED:
    case ASSAY_JOB_ROW_CANCELLED:
      return CLAMP (self->fraction, 0.0, 1.0);
    case ASSAY_JOB_ROW_UPLOADED:
    case ASSAY_JOB_ROW_PROCESSING:
    case ASSAY_JOB_ROW_PROCESSED:
    default:
      return 1.0;
    }
}

/**
 * assay_job_row_set_transfer:
 * @fraction: how much of the upload is done, 0 to 1
 * @rate: bytes per second
 * @eta: seconds left, -1 when unknown
 */
void
assay_job_row_set_transfer (AssayJobRow *self,
                            double       fraction,
                            double       rate,
                            gint64       eta)
{
  g_return_if_fail (ASSAY_IS_JOB_ROW (self));

  g_object_freeze_notify (G_OBJECT (self));
  if (self->fraction != fraction)
    {
      self->fraction = fraction;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
    }
  if (self->rate != rate)
    {
      self->rate = rate;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RATE]);
    }
  if (self->eta != eta)
    {
      self->eta = eta;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ETA]);
    }
  update_detail (self);
  g_object_thaw_notify (G_OBJECT (self));
}

/* A time of the protocol ("2026-11-22T18:27:42.123Z") as local "18:27:42". */
static char *
format_stamp (const char *stamp)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_iso8601 (stamp, NULL);
  g_autoptr(GDateTime) local = NULL;

  if (utc == NULL)
    return g_strdup (stamp);
  local = g_date_time_to_local (utc);
  return g_date_time_format (local, "%X");
}

void
assay_job_row_set_timeline (AssayJobRow *self,
                            const char  *created,
                            const char  *assigned,
                            const char  *uploaded,
                            const char  *processing,
                            const char  *processed)
{
  const char *stamps[] = { created, assigned, uploaded, processing, processed };
  /* TRANSLATORS: the stages of a job's timeline, each followed by its time */
  const char *names[] = { N_("created"), N_("assigned"), N_("uploaded"), N_("processing"),
                          N_("processed") };
  g_autoptr(GString) text = g_string_new (NULL);

  g_return_if_fail (ASSAY_IS_JOB_ROW (self));

  for (guint i = 0; i < G_N_ELEMENTS (stamps); i++)
    {
      g_autofree char *when = NULL;

      set_str (&self->stamps[i], stamps[i]);
      if (stamps[i] == NULL)
        continue;
      when = format_stamp (stamps[i]);
      if (text->len > 0)
        g_string_append (text, " → ");
      g_string_append_printf (text, "%s %s", _(names[i]), when);
    }
  if (set_str (&self->timeline, text->str))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMELINE]);
      update_detail (self);
    }
}

const char *
assay_job_row_get_timeline (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), NULL);
  return self->timeline;
}

void
assay_job_row_set_error (AssayJobRow *self,
                         const char  *code,
                         const char  *message)
{
  g_return_if_fail (ASSAY_IS_JOB_ROW (self));

  g_object_freeze_notify (G_OBJECT (self));
  if (set_str (&self->error_code, code))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_CODE]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERDICT]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERDICT_LABEL]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERDICT_ICON]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MARKED]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAILED]);
    }
  if (set_str (&self->error_message, message))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_MESSAGE]);
  update_detail (self);
  g_object_thaw_notify (G_OBJECT (self));
}

const char *
assay_job_row_get_error_code (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), NULL);
  return self->error_code;
}

const char *
assay_job_row_get_error_message (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), NULL);
  return self->error_message;
}

AssayJobRowVerdict
assay_job_row_get_verdict (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), ASSAY_JOB_ROW_VERDICT_NONE);

  if (self->status == ASSAY_JOB_ROW_FAILED && self->error_code != NULL)
    {
      if (g_str_equal (self->error_code, "INFECTED"))
        return ASSAY_JOB_ROW_VERDICT_INFECTED;
      if (g_str_equal (self->error_code, "UNSCANNABLE"))
        return ASSAY_JOB_ROW_VERDICT_UNSCANNABLE;
      if (g_str_equal (self->error_code, "INVALID"))
        return ASSAY_JOB_ROW_VERDICT_INVALID;
    }
  if (self->status == ASSAY_JOB_ROW_PROCESSED)
    return ASSAY_JOB_ROW_VERDICT_CLEAN;
  return ASSAY_JOB_ROW_VERDICT_NONE;
}

/* Takes a reference on @plaintext, the decrypted result (wiped when the row goes). */
void
assay_job_row_set_result (AssayJobRow *self,
                          GBytes      *plaintext)
{
  g_return_if_fail (ASSAY_IS_JOB_ROW (self));

  g_clear_pointer (&self->result, assay_wipe_bytes_free);
  self->result = plaintext ? g_bytes_ref (plaintext) : NULL;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_RESULT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS_LABEL]);
}

GBytes *
assay_job_row_get_result (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), NULL);
  return self->result;
}

const char *
assay_job_row_get_status_label (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), NULL);

  switch (self->status)
    {
    case ASSAY_JOB_ROW_QUEUED:
      return _("Waiting");
    case ASSAY_JOB_ROW_UPLOADING:
      return _("Uploading");
    case ASSAY_JOB_ROW_PAUSED:
      return _("Paused");
    case ASSAY_JOB_ROW_UPLOADED:
      return _("Waiting for a processor");
    case ASSAY_JOB_ROW_PROCESSING:
      return _("Processing");
    case ASSAY_JOB_ROW_PROCESSED:
      return self->result ? _("Result ready") : _("Processed");
    case ASSAY_JOB_ROW_FAILED:
      return _("Failed");
    case ASSAY_JOB_ROW_CANCELLED:
      return _("Cancelled");
    default:
      return "";
    }
}

const char *
assay_job_row_get_detail (AssayJobRow *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW (self), NULL);
  return self->detail;
}

void
assay_job_row_request_retry (AssayJobRow *self)
{
  g_return_if_fail (ASSAY_IS_JOB_ROW (self));
  g_signal_emit (self, signals[RETRY_REQUESTED], 0);
}

void
assay_job_row_request_cancel (AssayJobRow *self)
{
  g_return_if_fail (ASSAY_IS_JOB_ROW (self));
  g_signal_emit (self, signals[CANCEL_REQUESTED], 0);
}
