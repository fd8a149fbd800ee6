/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "test-servers.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long a server may take to accept connections, and to exit after SIGTERM. */
#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS  5000
#define PORT_ATTEMPTS    5

struct _AssayTestServer
{
  char             *kind;  /* "s3rver", "dynalite", "sigv4-proxy" */
  GSubprocess      *process;
  GDataInputStream *output; /* the proxy's stdout */
  char             *dir;   /* temporary directory, removed on stop */
  char             *url;
  guint16           port;
};

static const char *
tests_source_dir (void)
{
  return ASSAY_TESTS_SOURCE_DIR;
}

static char *
find_node_modules (void)
{
  const char *env = g_getenv ("ASSAY_TEST_NODE_MODULES");
  g_autofree char *dir = NULL;
  g_autofree char *s3rver = NULL;
  g_autofree char *dynalite = NULL;

  dir = env != NULL ? g_strdup (env) : g_build_filename (tests_source_dir (), "node_modules", NULL);
  s3rver = g_build_filename (dir, "s3rver", "bin", "s3rver.js", NULL);
  dynalite = g_build_filename (dir, "dynalite", "cli.js", NULL);
  if (!g_file_test (s3rver, G_FILE_TEST_EXISTS) || !g_file_test (dynalite, G_FILE_TEST_EXISTS))
    g_error ("test-servers: s3rver and dynalite are not installed in %s: run ./run deps", dir);

  return g_steal_pointer (&dir);
}

static char *
find_node (void)
{
  char *node = g_find_program_in_path ("node");

  if (node == NULL)
    g_error ("test-servers: node is not on PATH: run ./run deps");

  return node;
}

/* A port that was free a moment ago: bind 127.0.0.1:0, read the port, close. The server
 * then binds it; if someone took it in between, the caller starts again on another. */
static guint16
pick_free_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    g_error ("test-servers: socket: %s", g_strerror (errno));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) != 0
      || getsockname (fd, (struct sockaddr *) &addr, &len) != 0)
    g_error ("test-servers: cannot bind 127.0.0.1:0: %s", g_strerror (errno));
  close (fd);

  return ntohs (addr.sin_port);
}

/* In the child: die with the test program, even when it aborts before stopping us. */
static void
child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
show_logs (void)
{
  return g_getenv ("ASSAY_TEST_SERVER_LOGS") != NULL;
}

/* stdout: silenced, or with ASSAY_TEST_SERVER_LOGS set, onto the test's stderr (stdout
 * carries TAP). */
static GSubprocessLauncher *
launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher;

  if (show_logs () && (flags & G_SUBPROCESS_FLAGS_STDOUT_PIPE) == 0)
    {
      launcher = g_subprocess_launcher_new (flags & ~G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
      g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
    }
  else
    launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  return launcher;
}

static gboolean
process_running (GSubprocess *process)
{
  /* GSubprocess reaps its child on GLib's worker thread: no main loop needed. */
  return g_subprocess_get_identifier (process) != NULL;
}

static gboolean
port_accepts (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;

  g_socket_client_set_timeout (client, 1);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);

  return connection != NULL;
}

/* Waits until @self's port accepts connections. FALSE when the process exited first
 * (the port was probably taken); aborts the test after START_TIMEOUT_MS. */
static gboolean
wait_accepting (AssayTestServer *self)
{
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < deadline)
    {
      if (!process_running (self->process))
        return FALSE;
      if (port_accepts (self->port))
        return TRUE;
      g_usleep (20 * G_TIME_SPAN_MILLISECOND);
    }

  g_error ("test-servers: %s did not accept connections on 127.0.0.1:%u within %d ms",
           self->kind, self->port, START_TIMEOUT_MS);
  return FALSE;
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  gboolean *done = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *done = TRUE;
}

static gboolean
flag_cb (gpointer user_data)
{
  gboolean *flag = user_data;

  *flag = TRUE;
  return G_SOURCE_REMOVE;
}

/* SIGTERM, up to STOP_TIMEOUT_MS, then SIGKILL. */
static void
terminate (GSubprocess *process)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) timeout = NULL;
  gboolean done = FALSE;
  gboolean timed_out = FALSE;

  if (!process_running (process))
    {
      g_subprocess_wait (process, NULL, NULL);
      return;
    }

  g_main_context_push_thread_default (context);
  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait_async (process, NULL, wait_cb, &done);
  timeout = g_timeout_source_new (STOP_TIMEOUT_MS);
  g_source_set_callback (timeout, flag_cb, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (!done && !timed_out)
    g_main_context_iteration (context, TRUE);
  if (!done)
    {
      g_subprocess_force_exit (process);
      while (!done)
        g_main_context_iteration (context, TRUE);
    }
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
    }
  g_remove (path);
}

static AssayTestServer *
server_new (const char *kind)
{
  AssayTestServer *self = g_new0 (AssayTestServer, 1);
  g_autofree char *template = g_strdup_printf ("assay-%s-XXXXXX", kind);
  g_autoptr(GError) error = NULL;

  self->kind = g_strdup (kind);
  self->dir = g_dir_make_tmp (template, &error);
  if (self->dir == NULL)
    g_error ("test-servers: %s", error->message);

  return self;
}

/* Starts node with @args, where "{PORT}" is a free port (another one is tried if the
 * server exits before accepting: taken in between), "{DIR}" the server's temporary
 * directory, "{NM}/…" a path in node_modules and "{SRC}/…" one in tests/. */
static AssayTestServer *
start_node_server (const char         *kind,
                   const char * const *args)
{
  g_autoptr(AssayTestServer) self = server_new (kind);
  g_autofree char *node_modules = find_node_modules ();
  g_autofree char *node = find_node ();

  for (guint attempt = 1; attempt <= PORT_ATTEMPTS; attempt++)
    {
      g_autoptr(GSubprocessLauncher) launcher = NULL;
      g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GError) error = NULL;

      self->port = pick_free_port ();
      g_ptr_array_add (argv, g_strdup (node));
      for (guint i = 0; args[i] != NULL; i++)
        {
          g_autoptr(GString) arg = g_string_new (args[i]);

          if (strcmp (args[i], "{PORT}") == 0)
            g_string_printf (arg, "%u", self->port);
          else if (strcmp (args[i], "{QUIET}") == 0)
            {
              if (show_logs ())
                continue;
              g_string_assign (arg, "--silent");
            }
          else if (strcmp (args[i], "{DIR}") == 0)
            g_string_assign (arg, self->dir);
          else if (g_str_has_prefix (args[i], "{NM}/"))
            {
              g_autofree char *path = g_build_filename (node_modules, args[i] + 5, NULL);
              g_string_assign (arg, path);
            }
          else if (g_str_has_prefix (args[i], "{SRC}/"))
            {
              g_autofree char *path = g_build_filename (tests_source_dir (), args[i] + 6, NULL);
              g_string_assign (arg, path);
            }
          else
            g_string_assign (arg, args[i]);
          g_ptr_array_add (argv, g_string_free (g_steal_pointer (&arg), FALSE));
        }
      g_ptr_array_add (argv, NULL);

      launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
      g_subprocess_launcher_setenv (launcher, "NODE_PATH", node_modules, TRUE);
      g_subprocess_launcher_setenv (launcher, "ASSAY_TEST_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID,
                                    TRUE);
      g_subprocess_launcher_setenv (launcher, "ASSAY_TEST_SECRET_ACCESS_KEY",
                                    ASSAY_TEST_SECRET_ACCESS_KEY, TRUE);
      g_clear_object (&self->process);
      self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata,
                                                    &error);
      if (self->process == NULL)
        g_error ("test-servers: cannot start %s: %s", kind, error->message);

      if (wait_accepting (self))
        {
          self->url = g_strdup_printf ("http://127.0.0.1:%u", self->port);
          g_debug ("test-servers: %s on %s", kind, self->url);
          return g_steal_pointer (&self);
        }
      g_debug ("test-servers: %s exited before accepting on port %u (attempt %u)",
               kind, self->port, attempt);
    }

  g_error ("test-servers: %s exited before accepting connections, %d times: "
           "see its messages above", kind, PORT_ATTEMPTS);
  return NULL;
}

AssayTestServer *
assay_test_server_start_s3rver (void)
{
  /* s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its
   * legacy provider: without it, every truncated listing is a 500. */
  static const char * const args[] = {
    "--openssl-legacy-provider",
    "--require", "{SRC}/integration/s3rver-test-key.js",
    "{NM}/s3rver/bin/s3rver.js",
    "-d", "{DIR}",
    "-a", "127.0.0.1",
    "-p", "{PORT}",
    "{QUIET}",
    "--configure-bucket", ASSAY_TEST_BUCKET,
    NULL,
  };

  return start_node_server ("s3rver", args);
}

AssayTestServer *
assay_test_server_start_dynalite (void)
{
  static const char * const args[] = {
    "{NM}/dynalite/cli.js",
    "--host", "127.0.0.1",
    "--port", "{PORT}",
    "--createTableMs", "50",
    "--deleteTableMs", "50",
    "--updateTableMs", "50",
    NULL,
  };

  return start_node_server ("dynalite", args);
}

typedef struct
{
  char    *line;
  GError  *error;
  gboolean done;
} ReadLine;

static void
read_line_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ReadLine *state = user_data;

  state->line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, NULL,
                                                      &state->error);
  state->done = TRUE;
}

/* The proxy's first line on stdout, its port; NULL if it exits or stays silent. */
static char *
read_first_line (AssayTestServer *self)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSource) timeout = NULL;
  ReadLine state = { 0 };
  gboolean timed_out = FALSE;

  g_main_context_push_thread_default (context);
  g_data_input_stream_read_line_async (self->output, G_PRIORITY_DEFAULT, cancellable,
                                       read_line_cb, &state);
  timeout = g_timeout_source_new (START_TIMEOUT_MS);
  g_source_set_callback (timeout, flag_cb, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (!state.done)
    {
      if (timed_out)
        g_cancellable_cancel (cancellable);
      g_main_context_iteration (context, TRUE);
    }
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);

  if (state.error != NULL)
    {
      g_debug ("test-servers: reading the proxy's port: %s", state.error->message);
      g_clear_error (&state.error);
    }

  return state.line;
}

AssayTestServer *
assay_test_server_start_proxy (AssayTestServer *backend,
                               const char      *service)
{
  return assay_test_server_start_proxy_on_port (backend, service, 0);
}

AssayTestServer *
assay_test_server_start_proxy_on_port (AssayTestServer *backend,
                                       const char      *service,
                                       guint16          wanted_port)
{
  g_autoptr(AssayTestServer) self = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *script = NULL;
  g_autofree char *line = NULL;
  g_autofree char *port_arg = g_strdup_printf ("%u", wanted_port);
  const char *python;
  guint64 port = 0;

  g_return_val_if_fail (backend != NULL, NULL);
  g_return_val_if_fail (service != NULL, NULL);

  python = g_getenv ("ASSAY_TEST_PYTHON");
  if (python == NULL)
    python = "/usr/bin/python3"; /* Debian's, with python3-botocore */
  script = g_build_filename (tests_source_dir (), "integration", "sigv4-proxy.py", NULL);

  self = server_new ("sigv4-proxy");
  launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  self->process = g_subprocess_launcher_spawn (launcher, &error,
                                               python, script,
                                               "--backend", backend->url,
                                               "--service", service,
                                               "--region", ASSAY_TEST_REGION,
                                               "--access-key-id", ASSAY_TEST_ACCESS_KEY_ID,
                                               "--secret-access-key", ASSAY_TEST_SECRET_ACCESS_KEY,
                                               "--port", port_arg,
                                               show_logs () ? "--verbose" : NULL,
                                               NULL);
  if (self->process == NULL)
    g_error ("test-servers: cannot start %s %s: %s", python, script, error->message);
  self->output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (self->process));

  line = read_first_line (self);
  if (line == NULL || !g_ascii_string_to_unsigned (line, 10, 1, G_MAXUINT16, &port, NULL))
    g_error ("test-servers: the SigV4 proxy did not start (needs %s with python3-botocore: "
             "run ./run deps); see its messages above", python);
  self->port = port;
  if (!wait_accepting (self))
    g_error ("test-servers: the SigV4 proxy exited after printing its port");
  self->url = g_strdup_printf ("http://127.0.0.1:%u", self->port);
  g_debug ("test-servers: sigv4-proxy for %s on %s → %s", service, self->url, backend->url);

  return g_steal_pointer (&self);
}

const char *
assay_test_server_get_url (AssayTestServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->url;
}

guint16
assay_test_server_get_port (AssayTestServer *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->port;
}

static JsonNode *
proxy_call (AssayTestServer *self,
            const char      *method,
            const char      *path)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  JsonNode *node;

  g_assert (self->output != NULL); /* only the proxy keeps counts */

  uri = g_strconcat (self->url, path, NULL);
  message = soup_message_new (method, uri);
  body = soup_session_send_and_read (session, message, NULL, &error);
  if (body == NULL || soup_message_get_status (message) != SOUP_STATUS_OK)
    g_error ("test-servers: %s %s: %s", method, uri,
             error != NULL ? error->message : soup_message_get_reason_phrase (message));
  node = json_from_string (g_bytes_get_data (body, NULL), &error);
  if (node == NULL)
    g_error ("test-servers: %s %s: %s", method, uri, error->message);

  return node;
}

guint
assay_test_server_count_requests (AssayTestServer *self,
                                  const char      *method,
                                  const char      *path_prefix)
{
  g_autoptr(JsonNode) node = NULL;
  JsonObject *forwarded;
  g_autoptr(GList) names = NULL;
  guint count = 0;

  g_return_val_if_fail (self != NULL, 0);

  node = proxy_call (self, "GET", "/__assay_proxy/stats");
  forwarded = json_object_get_object_member (json_node_get_object (node), "forwarded");
  names = json_object_get_members (forwarded);
  for (const GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      const char *space = strchr (name, ' ');

      g_assert (space != NULL);
      if (method != NULL && (strlen (method) != (gsize) (space - name)
                             || strncmp (name, method, space - name) != 0))
        continue;
      if (path_prefix != NULL && !g_str_has_prefix (space + 1, path_prefix))
        continue;
      count += json_object_get_int_member (forwarded, name);
    }

  return count;
}

guint
assay_test_server_count_refused (AssayTestServer *self)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (self != NULL, 0);

  node = proxy_call (self, "GET", "/__assay_proxy/stats");

  return json_object_get_int_member (json_node_get_object (node), "refused");
}

void
assay_test_server_reset_counts (AssayTestServer *self)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_if_fail (self != NULL);

  node = proxy_call (self, "POST", "/__assay_proxy/reset");
}

void
assay_test_server_stop (AssayTestServer *self)
{
  if (self == NULL)
    return;

  if (self->process != NULL)
    terminate (self->process);
  g_clear_object (&self->output);
  g_clear_object (&self->process);
  if (self->dir != NULL)
    remove_tree (self->dir);
  g_free (self->dir);
  g_free (self->url);
  g_free (self->kind);
  g_free (self);
}
