/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-worker"

#include "config.h"

#include "assay-version-range.h"
#include "assay-id.h"

#include <string.h>

G_DEFINE_QUARK (assay-version-range-error-quark, assay_version_range_error)

typedef struct
{
  guint64 major;
  guint64 minor;
  guint64 patch;
  char **pre; /* the pre-release identifiers, or NULL */
} Version;

typedef enum
{
  OP_EQ,
  OP_GT,
  OP_GE,
  OP_LT,
  OP_LE,
} Op;

typedef struct
{
  Op op;
  Version version;
} Comparator;

struct _AssayVersionRange
{
  gatomicrefcount ref_count;
  char *text;
  GPtrArray *sets; /* GArray of Comparator */
};

G_DEFINE_BOXED_TYPE (AssayVersionRange, assay_version_range, assay_version_range_ref,
                     assay_version_range_unref)

static void
version_clear (Version *version)
{
  g_clear_pointer (&version->pre, g_strfreev);
}

static void
comparator_clear (gpointer data)
{
  version_clear (&((Comparator *) data)->version);
}

/* Parses `MAJOR.MINOR.PATCH[-pre]` (the protocol's form: no build metadata). */
static gboolean
version_parse (const char *text,
               Version    *out)
{
  g_auto(GStrv) parts = NULL;
  const char *dash;
  g_autofree char *core = NULL;
  guint64 numbers[3];

  if (!assay_version_is_valid (text))
    return FALSE;
  dash = strchr (text, '-');
  core = dash ? g_strndup (text, dash - text) : g_strdup (text);
  parts = g_strsplit (core, ".", 3);
  for (guint i = 0; i < 3; i++)
    if (!g_ascii_string_to_unsigned (parts[i], 10, 0, G_MAXUINT64 - 1, &numbers[i], NULL))
      return FALSE;
  *out = (Version) {
    .major = numbers[0],
    .minor = numbers[1],
    .patch = numbers[2],
    .pre = dash ? g_strsplit (dash + 1, ".", -1) : NULL,
  };
  return TRUE;
}

static gboolean
is_numeric (const char *identifier)
{
  for (const char *p = identifier; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

/* Semver 2.0, rule 11: numeric identifiers compare as numbers and below alphanumeric
 * ones, which compare in ASCII order; a shorter list of equal identifiers is lower. */
static int
compare_pre (char **a,
             char **b)
{
  guint i;

  if (a == NULL || b == NULL)
    return (a == NULL) - (b == NULL); /* no pre-release is higher */
  for (i = 0; a[i] != NULL && b[i] != NULL; i++)
    {
      gboolean a_num = is_numeric (a[i]);
      gboolean b_num = is_numeric (b[i]);
      int c;

      if (a_num && b_num)
        {
          /* no leading zeros: the longer number is the larger */
          gsize la = strlen (a[i]);
          gsize lb = strlen (b[i]);

          c = la != lb ? (la < lb ? -1 : 1) : strcmp (a[i], b[i]);
        }
      else if (a_num != b_num)
        c = a_num ? -1 : 1;
      else
        c = strcmp (a[i], b[i]);
      if (c != 0)
        return c < 0 ? -1 : 1;
    }
  return (a[i] != NULL) - (b[i] != NULL);
}

#define CMP(x, y) ((x) < (y) ? -1 : (x) > (y) ? 1 : 0)

static gboolean
same_core (const Version *a,
           const Version *b)
{
  return a->major == b->major && a->minor == b->minor && a->patch == b->patch;
}

static int
version_compare (const Version *a,
                 const Version *b)
{
  if (a->major != b->major)
    return CMP (a->major, b->major);
  if (a->minor != b->minor)
    return CMP (a->minor, b->minor);
  if (a->patch != b->patch)
    return CMP (a->patch, b->patch);
  return compare_pre (a->pre, b->pre);
}

/**
 * assay_version_compare:
 * Compares two versions of the protocol's form by semver precedence; a version that is
 * not of that form is lower than every one that is.
 * Returns: negative, 0 or positive as @a is lower, equal or higher than @b
 */
int
assay_version_compare (const char *a,
                       const char *b)
{
  Version va = { 0 }, vb = { 0 };
  gboolean a_ok = version_parse (a, &va);
  gboolean b_ok = version_parse (b, &vb);
  int c = a_ok && b_ok ? version_compare (&va, &vb) : CMP (a_ok, b_ok);

  version_clear (&va);
  version_clear (&vb);
  return c;
}

static gboolean
comparator_holds (const Comparator *comparator,
                  const Version    *version)
{
  int c = version_compare (version, &comparator->version);

  switch (comparator->op)
    {
    case OP_EQ:
      return c == 0;
    case OP_GT:
      return c > 0;
    case OP_GE:
      return c >= 0;
    case OP_LT:
      return c < 0;
    case OP_LE:
      return c <= 0;
    default:
      g_assert_not_reached ();
    }
}

static void
add_comparator (GArray        *set,
                Op             op,
                const Version *version)
{
  Comparator comparator = {
    .op = op,
    .version = *version,
  };

  comparator.version.pre = g_strdupv (version->pre);
  g_array_append_val (set, comparator);
}

static gboolean
invalid (GError     **error,
         const char  *text,
         const char  *why)
{
  g_set_error (error, ASSAY_VERSION_RANGE_ERROR, ASSAY_VERSION_RANGE_ERROR_INVALID,
               "“%s” is not a version range (%s): write comparators such as “>=2.0.0 <3.0.0”, "
               "“^2.1.0” or “~2.1.0”",
               text, why);
  return FALSE;
}

/* Adds one comparator token (an operator and a version) to @set; ^ and ~ add two. */
static gboolean
parse_comparator (GArray      *set,
                  const char  *token,
                  const char  *text,
                  GError     **error)
{
  static const struct
  {
    const char *prefix;
    int op; /* an Op, or '^' / '~' */
  } ops[] = {
    { ">=", OP_GE }, { "<=", OP_LE }, { ">", OP_GT }, { "<", OP_LT },
    { "=", OP_EQ },  { "^", '^' },    { "~", '~' },   { "", OP_EQ },
  };
  Version version = { 0 };
  Version upper = { 0 };
  guint i;

  for (i = 0; !g_str_has_prefix (token, ops[i].prefix); i++)
    ;
  if (!version_parse (token + strlen (ops[i].prefix), &version))
    {
      g_autofree char *why = g_strdup_printf ("“%s” is not MAJOR.MINOR.PATCH[-pre]",
                                              token + strlen (ops[i].prefix));

      return invalid (error, text, why);
    }

  switch (ops[i].op)
    {
    case '^':
      /* the first non-zero part may not change */
      if (version.major > 0)
        upper = (Version) { version.major + 1, 0, 0, NULL };
      else if (version.minor > 0)
        upper = (Version) { 0, version.minor + 1, 0, NULL };
      else
        upper = (Version) { 0, 0, version.patch + 1, NULL };
      break;
    case '~':
      upper = (Version) { version.major, version.minor + 1, 0, NULL };
      break;
    default:
      add_comparator (set, ops[i].op, &version);
      version_clear (&version);
      return TRUE;
    }

  /* `<X.Y.Z-0`: below every pre-release of the next version, as node-semver does */
  upper.pre = g_new0 (char *, 2);
  upper.pre[0] = g_strdup ("0");
  add_comparator (set, OP_GE, &version);
  add_comparator (set, OP_LT, &upper);
  version_clear (&version);
  version_clear (&upper);
  return TRUE;
}

static gboolean
parse_set (GArray      *set,
           const char  *part,
           const char  *text,
           GError     **error)
{
  g_auto(GStrv) tokens = g_strsplit_set (part, " \t", -1);
  g_autofree char *pending = NULL;

  for (guint i = 0; tokens[i] != NULL; i++)
    {
      g_autofree char *token = NULL;

      if (*tokens[i] == '\0')
        continue;
      /* an operator alone (`>= 2.0.0`) belongs to the next token */
      if (strspn (tokens[i], "<>=^~") == strlen (tokens[i]))
        {
          if (pending != NULL)
            return invalid (error, text, "two operators in a row");
          pending = g_strdup (tokens[i]);
          continue;
        }
      token = g_strconcat (pending ? pending : "", tokens[i], NULL);
      g_clear_pointer (&pending, g_free);
      if (!parse_comparator (set, token, text, error))
        return FALSE;
    }
  if (pending != NULL)
    return invalid (error, text, "an operator without a version");
  if (set->len == 0)
    return invalid (error, text, "an empty set of comparators");
  return TRUE;
}

static AssayVersionRange *
range_new (const char *text)
{
  AssayVersionRange *self = g_new0 (AssayVersionRange, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->text = g_strstrip (g_strdup (text));
  self->sets = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  return self;
}

/**
 * assay_version_range_new:
 * Returns: (transfer full) (nullable): the range @text writes, or %NULL with @error set
 */
AssayVersionRange *
assay_version_range_new (const char  *text,
                         GError     **error)
{
  g_autoptr(AssayVersionRange) self = NULL;
  g_auto(GStrv) parts = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  self = range_new (text);
  if (*self->text == '\0')
    {
      invalid (error, text, "it is empty");
      return NULL;
    }
  parts = g_strsplit (text, "||", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      GArray *set = g_array_new (FALSE, TRUE, sizeof (Comparator));

      g_array_set_clear_func (set, comparator_clear);
      g_ptr_array_add (self->sets, set);
      if (!parse_set (set, parts[i], text, error))
        return NULL;
    }
  return g_steal_pointer (&self);
}

/**
 * assay_version_range_new_for_major:
 * @version: a version, usually PACKAGE_VERSION
 * Returns: (transfer full): `>=M.0.0 <M+1.0.0` for @version's major version M
 */
AssayVersionRange *
assay_version_range_new_for_major (const char *version)
{
  Version parsed = { 0 };
  g_autofree char *text = NULL;
  AssayVersionRange *self;

  if (!version_parse (version, &parsed))
    g_return_val_if_reached (NULL);
  text = g_strdup_printf (">=%" G_GUINT64_FORMAT ".0.0 <%" G_GUINT64_FORMAT ".0.0", parsed.major,
                          parsed.major + 1);
  version_clear (&parsed);
  self = assay_version_range_new (text, NULL);
  g_assert (self != NULL);
  return self;
}

AssayVersionRange *
assay_version_range_ref (AssayVersionRange *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
assay_version_range_unref (AssayVersionRange *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_ptr_array_unref (self->sets);
  g_free (self->text);
  g_free (self);
}

static gboolean
set_accepts (GArray        *set,
             const Version *version)
{
  gboolean pre_allowed = version->pre == NULL;

  for (guint i = 0; i < set->len; i++)
    {
      const Comparator *comparator = &g_array_index (set, Comparator, i);

      if (!comparator_holds (comparator, version))
        return FALSE;
      if (comparator->version.pre != NULL && same_core (&comparator->version, version))
        pre_allowed = TRUE;
    }
  return pre_allowed;
}

/**
 * assay_version_range_accepts:
 * Returns: %TRUE when @version is of the protocol's form and in the range
 */
gboolean
assay_version_range_accepts (AssayVersionRange *self,
                             const char        *version)
{
  Version parsed = { 0 };
  gboolean accepted = FALSE;

  g_return_val_if_fail (self != NULL, FALSE);

  if (version == NULL || !version_parse (version, &parsed))
    return FALSE;
  for (guint i = 0; i < self->sets->len && !accepted; i++)
    accepted = set_accepts (g_ptr_array_index (self->sets, i), &parsed);
  version_clear (&parsed);
  return accepted;
}

/* Returns: the range as it was written, trimmed */
const char *
assay_version_range_to_string (AssayVersionRange *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->text;
}
