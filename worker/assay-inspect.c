/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * assay-inspect: the example analysis engine, and a template for your own.
 *
 *   assay-inspect FILE
 *       Prints the inspection of FILE (see assay-inspection.c) as one line of JSON on
 *       stdout and exits 0; on an error, prints a message on stderr and exits 1 (2 for a
 *       wrong command line).
 *   assay-inspect --serve ADDR [--max-size SIZE]
 *       Answers `POST /` with the request body's inspection (application/json) until
 *       SIGTERM or SIGINT. ADDR is HOST:PORT; ":PORT" is 127.0.0.1, and port 0 picks a free
 *       one. The URL listened on is printed on stdout as one line, and every request is
 *       logged on stderr as one line. Bodies over SIZE (default 1G) are answered 413, other
 *       methods 405, other paths 404.
 *
 * The body is inspected as it arrives, in the pieces the server reads, so memory does not
 * grow with it and nothing is written to disk; the last step (libmagic) runs in a thread.
 */
#include "config.h"

#include "assay-inspection.h"

#include <glib-unix.h>
#include <libsoup/soup.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_SIZE (G_GUINT64_CONSTANT (1) << 30)
#define REQUEST_KEY "assay-inspect-request"

typedef struct
{
  guint64 max_size;
} Engine;

typedef struct
{
  Engine         *engine;
  gint64          started;   /* monotonic time, µs */
  guint64         received;  /* body bytes */
  AssayInspector *inspector; /* set once the request is accepted, until it is answered */
  gboolean        finished;  /* the message is done with, answered or abandoned */
} Request;

static void
request_free (Request *request)
{
  g_clear_pointer (&request->inspector, assay_inspector_free);
  g_free (request);
}

static void
set_json_response (SoupServerMessage *msg,
                   guint              status,
                   const char        *json)
{
  char *body = g_strconcat (json, "\n", NULL);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
                                    strlen (body));
}

static void
set_error_response (SoupServerMessage *msg,
                    guint              status,
                    const char        *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = assay_inspection_to_string (root);
  set_json_response (msg, status, json);
}

static void
reject_too_large (SoupServerMessage *msg,
                  guint64            max_size)
{
  g_autofree char *message = g_strdup_printf ("The body is larger than %" G_GUINT64_FORMAT
                                              " bytes", max_size);

  /* Without "Expect: 100-continue" the client sends the body anyway: the server reads the
   * rest and drops it, then answers (and closes the connection, as after every request). */
  set_error_response (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, message);
}

static void
got_chunk_cb (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  Request *request = user_data;
  const guint8 *data;
  gsize len;

  data = g_bytes_get_data (chunk, &len);
  request->received += len;

  if (request->inspector == NULL)
    return; /* rejected */

  if (request->received > request->engine->max_size)
    {
      g_clear_pointer (&request->inspector, assay_inspector_free);
      reject_too_large (msg, request->engine->max_size);
      return;
    }

  /* A piece is at most a few KiB (the server's read size), so this never holds up the main
   * loop for long. */
  assay_inspector_update (request->inspector, data, len);
}

static void
finished_cb (SoupServerMessage *msg,
             gpointer           user_data)
{
  Request *request = user_data;

  request->finished = TRUE;
}

static void
request_started_cb (SoupServer        *server,
                    SoupServerMessage *msg,
                    gpointer           user_data)
{
  Request *request = g_new0 (Request, 1);

  request->engine = user_data;
  request->started = g_get_monotonic_time ();
  g_object_set_data_full (G_OBJECT (msg), REQUEST_KEY, request, (GDestroyNotify) request_free);

  /* Bodies never pile up in memory: an accepted one goes piece by piece to the inspector
   * (got_chunk_cb), the rest of a refused one is read and dropped. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);

  /* One request a connection. libsoup 3.2 (Debian 12 has 3.2.3) never notices that a client
   * closed an idle keep-alive connection, and keeps its socket open in CLOSE_WAIT for good
   * (fixed in 3.3.0 by commit d20c6601): a long-running engine would run out of descriptors.
   * (3.2.3 also keeps one GSocket object, some 340 bytes, per connection: nothing to do here.) */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk_cb), request);
  g_signal_connect (msg, "finished", G_CALLBACK (finished_cb), request);
}

static void
request_done_cb (SoupServer        *server,
                 SoupServerMessage *msg,
                 gpointer           user_data)
{
  gboolean aborted = GPOINTER_TO_INT (user_data);
  Request *request = g_object_get_data (G_OBJECT (msg), REQUEST_KEY);
  GUri *uri = soup_server_message_get_uri (msg);
  const char *remote = soup_server_message_get_remote_host (msg);
  g_autofree char *status = NULL;

  if (aborted)
    status = g_strdup ("aborted");
  else
    status = g_strdup_printf ("%u", soup_server_message_get_status (msg));

  g_message ("%s %s %s %" G_GUINT64_FORMAT " bytes %.1f ms from %s",
             soup_server_message_get_method (msg), uri != NULL ? g_uri_get_path (uri) : "-",
             status, request != NULL ? request->received : 0,
             request != NULL ? (g_get_monotonic_time () - request->started) / 1000.0 : 0.0,
             remote != NULL ? remote : "-");
}

/* Called once the headers are in: refuses what it can before the body comes. */
static void
early_handler_cb (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  Engine *engine = user_data;
  Request *request = g_object_get_data (G_OBJECT (msg), REQUEST_KEY);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  g_assert (request != NULL);

  if (g_strcmp0 (soup_server_message_get_method (msg), SOUP_METHOD_POST) != 0)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                    "POST");
      set_error_response (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only POST is allowed");
      return;
    }

  if (!g_str_equal (path, "/"))
    {
      set_error_response (msg, SOUP_STATUS_NOT_FOUND, "POST the file to /");
      return;
    }

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      (guint64) soup_message_headers_get_content_length (headers) > engine->max_size)
    {
      reject_too_large (msg, engine->max_size);
      return;
    }

  request->inspector = assay_inspector_new ();
}

static void
inspect_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  AssayInspector *inspector = task_data;
  g_autoptr(JsonNode) result = NULL;
  GError *error = NULL;

  result = assay_inspector_finish (inspector, &error);
  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, assay_inspection_to_string (result), g_free);
}

static void
inspected_cb (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(SoupServerMessage) msg = user_data;
  Request *request = g_object_get_data (G_OBJECT (msg), REQUEST_KEY);
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;

  json = g_task_propagate_pointer (G_TASK (result), &error);
  if (request->finished)
    return; /* the client went away */

  if (json != NULL)
    set_json_response (msg, SOUP_STATUS_OK, json);
  else
    {
      g_warning ("Could not inspect a request body: %s", error->message);
      set_error_response (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
    }
  soup_server_message_unpause (msg);
}

/* Called once the whole body is in, for requests early_handler_cb accepted. */
static void
handler_cb (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  Request *request = g_object_get_data (G_OBJECT (msg), REQUEST_KEY);
  g_autoptr(GTask) task = NULL;

  if (request == NULL || request->inspector == NULL)
    {
      set_error_response (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "The request was not read");
      return;
    }

  soup_server_message_pause (msg);
  task = g_task_new (NULL, NULL, inspected_cb, g_object_ref (msg));
  g_task_set_source_tag (task, handler_cb);
  g_task_set_task_data (task, g_steal_pointer (&request->inspector),
                        (GDestroyNotify) assay_inspector_free);
  g_task_run_in_thread (task, inspect_thread);
}

static gboolean
listen_on (SoupServer  *server,
           const char  *address,
           GError     **error)
{
  g_autoptr(GSocketConnectable) parsed = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) socket_address = NULL;
  const char *host;
  guint16 port;

  if (address[0] == ':')
    {
      guint64 value;

      if (!g_ascii_string_to_unsigned (address + 1, 10, 0, G_MAXUINT16, &value, error))
        return FALSE;
      host = "127.0.0.1";
      port = (guint16) value;
    }
  else
    {
      parsed = g_network_address_parse (address, 0, error);
      if (parsed == NULL)
        return FALSE;
      host = g_network_address_get_hostname (G_NETWORK_ADDRESS (parsed));
      port = g_network_address_get_port (G_NETWORK_ADDRESS (parsed));
    }

  inet = g_inet_address_new_from_string (host);
  if (inet == NULL)
    {
      g_autoptr(GResolver) resolver = g_resolver_get_default ();
      GList *addresses = g_resolver_lookup_by_name (resolver, host, NULL, error);

      if (addresses == NULL)
        return FALSE;
      inet = g_object_ref (addresses->data);
      g_resolver_free_addresses (addresses);
    }

  socket_address = g_inet_socket_address_new (inet, port);

  return soup_server_listen (server, socket_address, 0, error);
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);

  return G_SOURCE_CONTINUE;
}

static int
serve (const char *address,
       guint64     max_size)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  Engine engine = { .max_size = max_size };
  GSList *uris;
  guint sigterm_id;
  guint sigint_id;

  server = soup_server_new ("server-header", "assay-inspect/" PACKAGE_VERSION " ", NULL);
  g_signal_connect (server, "request-started", G_CALLBACK (request_started_cb), &engine);
  g_signal_connect (server, "request-finished", G_CALLBACK (request_done_cb),
                    GINT_TO_POINTER (FALSE));
  g_signal_connect (server, "request-aborted", G_CALLBACK (request_done_cb),
                    GINT_TO_POINTER (TRUE));
  soup_server_add_early_handler (server, NULL, early_handler_cb, &engine, NULL);
  soup_server_add_handler (server, NULL, handler_cb, &engine, NULL);

  if (!listen_on (server, address, &error))
    {
      g_printerr ("assay-inspect: cannot listen on “%s”: %s\n", address, error->message);
      return EXIT_FAILURE;
    }

  uris = soup_server_get_uris (server);
  url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_print ("%s\n", url);
  fflush (stdout);
  g_message ("Listening on %s, bodies up to %" G_GUINT64_FORMAT " bytes", url, max_size);

  sigterm_id = g_unix_signal_add (SIGTERM, quit_cb, loop);
  sigint_id = g_unix_signal_add (SIGINT, quit_cb, loop);
  g_main_loop_run (loop);
  g_source_remove (sigterm_id);
  g_source_remove (sigint_id);

  g_message ("Stopping");
  soup_server_disconnect (server);

  return EXIT_SUCCESS;
}

static int
inspect (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;

  result = assay_inspect_file (file, NULL, &error);
  if (result == NULL)
    {
      g_printerr ("assay-inspect: cannot inspect “%s”: %s\n", path, error->message);
      return EXIT_FAILURE;
    }

  json = assay_inspection_to_string (result);
  if (fputs (json, stdout) == EOF || fputc ('\n', stdout) == EOF || fflush (stdout) != 0)
    {
      g_printerr ("assay-inspect: cannot write the result: %s\n", g_strerror (errno));
      return EXIT_FAILURE;
    }

  return EXIT_SUCCESS;
}

/* Bytes, or with a K, M or G suffix (powers of 1024). */
static gboolean
parse_size (const char  *text,
            guint64     *out,
            GError     **error)
{
  g_autofree char *digits = g_strdup (text);
  gsize len = strlen (digits);
  guint64 multiplier = 1;
  guint64 value;

  if (len > 0)
    {
      switch (g_ascii_toupper (digits[len - 1]))
        {
        case 'K': multiplier = G_GUINT64_CONSTANT (1) << 10; break;
        case 'M': multiplier = G_GUINT64_CONSTANT (1) << 20; break;
        case 'G': multiplier = G_GUINT64_CONSTANT (1) << 30; break;
        default: break;
        }
      if (multiplier > 1)
        digits[len - 1] = '\0';
    }

  if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT64 / multiplier, &value, error))
    return FALSE;

  *out = value * multiplier;
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *max_size_text = NULL;
  gboolean version = FALSE;
  guint64 max_size = DEFAULT_MAX_SIZE;
  const GOptionEntry entries[] = {
    { "serve", 0, 0, G_OPTION_ARG_STRING, &address,
      "Answer POST / on ADDR (HOST:PORT; :PORT is 127.0.0.1, port 0 any free one)", "ADDR" },
    { "max-size", 0, 0, G_OPTION_ARG_STRING, &max_size_text,
      "With --serve, the largest body accepted, in bytes or with K, M, G (default 1G)",
      "SIZE" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("[FILE]");
  g_option_context_set_summary (context,
                                "Inspect FILE and print its inspection as JSON, or with "
                                "--serve inspect the bodies POSTed to ADDR.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("assay-inspect: %s\n", error->message);
      return 2;
    }

  if (version)
    {
      g_print ("assay-inspect %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  if (max_size_text != NULL && !parse_size (max_size_text, &max_size, &error))
    {
      g_printerr ("assay-inspect: --max-size: %s\n", error->message);
      return 2;
    }

  if (address != NULL)
    {
      if (argc != 1)
        {
          g_printerr ("assay-inspect: --serve takes no FILE\n");
          return 2;
        }
      return serve (address, max_size);
    }

  if (argc != 2)
    {
      g_printerr ("Usage: assay-inspect FILE | --serve ADDR [--max-size SIZE] | --version\n");
      return 2;
    }

  return inspect (argv[1]);
}
