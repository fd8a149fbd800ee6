/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the lifecycle tests share: a scan stage that finds "EICAR", and a loopback
 * webhook receiver. */
#include "config.h"

#include "lifecycle-helpers.h"
#include "assay-failure.h"

/* ------------------------------------------------------------------------------------- */
/* A scan stage for the tests: INFECTED when the file holds "EICAR", else clean. */

struct _TestScan
{
  GObject parent_instance;
};

static void test_scan_stage_init (AssayStageInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestScan, test_scan, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ASSAY_TYPE_STAGE, test_scan_stage_init))

static void
test_scan_class_init (TestScanClass *klass)
{
}

static void
test_scan_init (TestScan *self)
{
}

static const char *
test_scan_get_name (AssayStage *stage)
{
  return "scan";
}

static void
test_scan_run_async (AssayStage          *stage,
                     const char          *path,
                     AssayJob            *job,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (stage, cancellable, callback, user_data);
  g_autofree char *text = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &text, &len, NULL));
  if (g_strstr_len (text, len, "EICAR") != NULL)
    g_task_return_new_error (task, ASSAY_FAILURE, ASSAY_FAILURE_INFECTED,
                             "infected: Eicar-Test-Signature");
  else
    g_task_return_pointer (task, g_bytes_new_static ("{\"verdict\":\"clean\"}", 19),
                           (GDestroyNotify) g_bytes_unref);
}

static GBytes *
test_scan_run_finish (AssayStage    *stage,
                      GAsyncResult  *result,
                      GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
test_scan_stage_init (AssayStageInterface *iface)
{
  iface->get_name = test_scan_get_name;
  iface->run_async = test_scan_run_async;
  iface->run_finish = test_scan_run_finish;
}

/* ------------------------------------------------------------------------------------- */
/* A loopback webhook receiver: answers 500 to the first @fail_first POSTs, then 200. */

static void
receiver_cb (SoupServer        *server,
             SoupServerMessage *message,
             const char        *path,
             GHashTable        *query,
             gpointer           data)
{
  Receiver *r = data;
  SoupMessageBody *body = soup_server_message_get_request_body (message);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);

  g_assert_cmpstr (soup_server_message_get_method (message), ==, "POST");
  g_assert_cmpstr (soup_message_headers_get_content_type (
                     soup_server_message_get_request_headers (message), NULL), ==,
                   "application/json");
  r->posts++;
  if (r->posts <= r->fail_first)
    {
      soup_server_message_set_status (message, 500, NULL);
      return;
    }
  g_ptr_array_add (r->bodies, g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes)));
  soup_server_message_set_status (message, 204, NULL);
}

Receiver *
receiver_start (guint fail_first)
{
  Receiver *r = g_new0 (Receiver, 1);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  r->fail_first = fail_first;
  r->bodies = g_ptr_array_new_with_free_func (g_free);
  r->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (r->server, "/alert", receiver_cb, r, NULL);
  soup_server_listen_local (r->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (r->server);
  r->url = g_strdup_printf ("http://127.0.0.1:%d/alert", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return r;
}

void
receiver_free (Receiver *r)
{
  soup_server_disconnect (r->server);
  g_object_unref (r->server);
  g_ptr_array_unref (r->bodies);
  g_free (r->url);
  g_free (r);
}

