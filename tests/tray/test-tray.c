/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-tray.h"

#include <signal.h>

/*
 * The tray against a real session bus (the test runs under dbus-run-session) and a
 * StatusNotifierWatcher mocked with python3-dbusmock (tests/tray/sni-watcher.py). The
 * tray exports on one connection (the app's), the test looks at it from another (a
 * host's) through GDBusProxy, so every call goes through the bus daemon.
 */

#define WATCHER_NAME "org.kde.StatusNotifierWatcher"
#define WATCHER_PATH "/StatusNotifierWatcher"
#define ITEM_IFACE   "org.kde.StatusNotifierItem"
#define MENU_IFACE   "com.canonical.dbusmenu"
#define WAIT_SECONDS 20

typedef struct
{
  GDBusConnection    *tray_bus;   /* the application's connection */
  GDBusConnection    *host_bus;   /* a tray host's connection */
  GSubprocess        *watcher;
  GSimpleActionGroup *actions;
  GMenu              *menu;
  GMenu              *controls;   /* the first section: Show, Pause */
  AssayTray          *tray;
  GDBusProxy         *item;
  GDBusProxy         *dbusmenu;
  GPtrArray          *signals;    /* (s@*) tuples: name, parameters, as the host got them */
  guint               show_count;
  guint               quit_count;
} Fixture;

static gboolean
timed_out_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until @cond holds; fails the test after WAIT_SECONDS. */
#define wait_for(cond)                                                              \
  G_STMT_START                                                                      \
  {                                                                                 \
    gboolean timed_out_ = FALSE, holds_ = FALSE;                                    \
    guint timeout_id_ = g_timeout_add_seconds (WAIT_SECONDS, timed_out_cb,          \
                                               &timed_out_);                        \
    while (!(holds_ = (cond)) && !timed_out_)                                       \
      g_main_context_iteration (NULL, TRUE);                                        \
    if (!timed_out_)                                                                \
      g_source_remove (timeout_id_);                                                \
    if (!holds_)                                                                    \
      g_error ("Timed out after %d s waiting for: %s", WAIT_SECONDS, #cond);        \
  }                                                                                 \
  G_STMT_END

/* Runs the main context for @ms milliseconds. */
static void
spin (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, timed_out_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
assert_printed (GVariant   *value,
                const char *expected)
{
  g_autofree char *printed = g_variant_print (value, FALSE);

  g_assert_cmpstr (printed, ==, expected);
}

static GDBusConnection *
new_session_connection (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  GDBusConnection *bus;

  address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  bus = g_dbus_connection_new_for_address_sync (
      address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
          | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);
  return bus;
}

/* A method call through the bus that keeps the main context running meanwhile: the
 * tray answers on it. */
static GVariant *
call (GDBusConnection *bus,
      const char      *destination,
      const char      *path,
      const char      *interface,
      const char      *method,
      GVariant        *parameters,
      const char      *reply_type,
      GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_dbus_connection_call (bus, destination, path, interface, method, parameters,
                          reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result_cb, &result);
  wait_for (result != NULL);
  return g_dbus_connection_call_finish (bus, result, error);
}

static GVariant *
proxy_call (GDBusProxy *proxy,
            const char *method,
            GVariant   *parameters,
            GError    **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_dbus_proxy_call (proxy, method, parameters, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                     store_result_cb, &result);
  wait_for (result != NULL);
  return g_dbus_proxy_call_finish (proxy, result, error);
}

static GVariant *
proxy_call_ok (GDBusProxy *proxy,
               const char *method,
               GVariant   *parameters)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = proxy_call (proxy, method, parameters, &error);

  g_assert_no_error (error);
  return reply;
}

/* --- the mock watcher --------------------------------------------------------------- */

static void
name_appeared_cb (GDBusConnection *connection,
                  const char      *name,
                  const char      *owner,
                  gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
name_vanished_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  *(gboolean *) user_data = FALSE;
}

static void
wait_for_name (GDBusConnection *bus,
               const char      *name,
               gboolean         owned)
{
  gboolean has_owner = !owned;
  guint watch;

  watch = g_bus_watch_name_on_connection (bus, name, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          name_appeared_cb, name_vanished_cb, &has_owner, NULL);
  wait_for (has_owner == owned);
  g_bus_unwatch_name (watch);
}

static void
start_watcher (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *template = NULL;
  const char *python = g_getenv ("ASSAY_TEST_PYTHON");

  g_assert_null (fixture->watcher);
  template = g_test_build_filename (G_TEST_DIST, "tray", "sni-watcher.py", NULL);
  fixture->watcher = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                                       python ? python : "python3", "-m", "dbusmock",
                                       "--session", "--template", template, NULL);
  g_assert_no_error (error);
  wait_for_name (fixture->host_bus, WATCHER_NAME, TRUE);
}

static void
stop_watcher (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (fixture->watcher, SIGTERM);
  g_subprocess_wait (fixture->watcher, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&fixture->watcher);
  wait_for_name (fixture->host_bus, WATCHER_NAME, FALSE);
}

/* The names the watcher holds, as hosts read them. */
static gboolean
watcher_has_item (Fixture    *fixture,
                  const char *service)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autofree const char **names = NULL;

  reply = call (fixture->host_bus, WATCHER_NAME, WATCHER_PATH,
                "org.freedesktop.DBus.Properties", "Get",
                g_variant_new ("(ss)", WATCHER_NAME, "RegisteredStatusNotifierItems"), "(v)",
                &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &items);
  names = g_variant_get_strv (items, NULL);
  return g_strv_contains (names, service);
}

/* --- fixture ------------------------------------------------------------------------ */

static void
show_activated_cb (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  ((Fixture *) user_data)->show_count++;
}

static void
quit_activated_cb (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  ((Fixture *) user_data)->quit_count++;
}

static void
proxy_signal_cb (GDBusProxy *proxy,
                 const char *sender,
                 const char *signal_name,
                 GVariant   *parameters,
                 Fixture    *fixture)
{
  g_ptr_array_add (fixture->signals,
                   g_variant_ref_sink (g_variant_new ("(s@*)", signal_name, parameters)));
}

/* The parameters of the latest @name signal the host got, or NULL. */
static GVariant *
last_signal (Fixture    *fixture,
             const char *name)
{
  for (guint i = fixture->signals->len; i > 0; i--)
    {
      GVariant *received = g_ptr_array_index (fixture->signals, i - 1);
      g_autoptr(GVariant) member = g_variant_get_child_value (received, 0);

      if (g_str_equal (g_variant_get_string (member, NULL), name))
        return g_variant_get_child_value (received, 1);
    }
  return NULL;
}

static gboolean
has_signal (Fixture    *fixture,
            const char *name)
{
  g_autoptr(GVariant) parameters = last_signal (fixture, name);

  return parameters != NULL;
}

static GDBusProxy *
new_proxy (Fixture    *fixture,
           const char *path,
           const char *interface)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GDBusProxy *proxy;

  g_dbus_proxy_new (fixture->host_bus, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, NULL,
                    g_dbus_connection_get_unique_name (fixture->tray_bus), path, interface,
                    NULL, store_result_cb, &result);
  wait_for (result != NULL);
  proxy = g_dbus_proxy_new_finish (result, &error);
  g_assert_no_error (error);
  g_signal_connect (proxy, "g-signal", G_CALLBACK (proxy_signal_cb), fixture);
  return proxy;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  const GActionEntry entries[] = {
    { "show", show_activated_cb },
    { "pause", NULL, NULL, "false" },
    { "open-folder" },
    { "quit", quit_activated_cb },
  };
  gboolean with_watcher = GPOINTER_TO_INT (user_data);
  g_autoptr(GMenu) files = g_menu_new ();

  fixture->signals = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  fixture->tray_bus = new_session_connection ();
  fixture->host_bus = new_session_connection ();
  if (with_watcher)
    start_watcher (fixture);

  fixture->actions = g_simple_action_group_new ();
  g_action_map_add_action_entries (G_ACTION_MAP (fixture->actions), entries,
                                   G_N_ELEMENTS (entries), fixture);
  g_simple_action_set_enabled (
      G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (fixture->actions),
                                                   "open-folder")),
      FALSE);

  fixture->menu = g_menu_new ();
  fixture->controls = g_menu_new ();
  g_menu_append (fixture->controls, "Show", "app.show");
  g_menu_append (fixture->controls, "_Pause", "app.pause");
  g_menu_append_section (fixture->menu, NULL, G_MENU_MODEL (fixture->controls));
  g_menu_append (files, "Open Folder", "app.open-folder");
  g_menu_append (files, "Quit", "app.quit");
  g_menu_append_section (fixture->menu, NULL, G_MENU_MODEL (files));

  fixture->tray = assay_tray_new (fixture->tray_bus, "io.github.assay.Assay",
                                  G_MENU_MODEL (fixture->menu), G_ACTION_GROUP (fixture->actions));
  g_object_set (fixture->tray, "title", "Assay", "icon-name", "io.github.assay.Assay", NULL);

  fixture->item = new_proxy (fixture, ASSAY_TRAY_ITEM_PATH, ITEM_IFACE);
  fixture->dbusmenu = new_proxy (fixture, ASSAY_TRAY_MENU_PATH, MENU_IFACE);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->item);
  g_clear_object (&fixture->dbusmenu);
  g_assert_finalize_object (fixture->tray);
  if (fixture->watcher != NULL)
    stop_watcher (fixture);
  g_clear_object (&fixture->controls);
  g_clear_object (&fixture->menu);
  g_clear_object (&fixture->actions);
  g_dbus_connection_close_sync (fixture->tray_bus, NULL, NULL);
  g_dbus_connection_close_sync (fixture->host_bus, NULL, NULL);
  /* GDBus may still hold the connections a moment (its worker thread, idle replies). */
  g_clear_object (&fixture->tray_bus);
  g_clear_object (&fixture->host_bus);
  g_clear_pointer (&fixture->signals, g_ptr_array_unref);
}

static void
notify_count_cb (GObject    *object,
                 GParamSpec *pspec,
                 guint      *count)
{
  (*count)++;
}

/* --- the item ----------------------------------------------------------------------- */

static void
test_registers_unique_name (Fixture       *fixture,
                            gconstpointer  user_data)
{
  const char *unique_name = g_dbus_connection_get_unique_name (fixture->tray_bus);
  g_autoptr(GVariant) names = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  const char *name, *name_owner;

  wait_for (assay_tray_get_registered (fixture->tray));
  g_assert_true (watcher_has_item (fixture, unique_name));

  /* No well-known name is owned by the app's connection (so it works in Flatpak). */
  names = call (fixture->host_bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                "org.freedesktop.DBus", "ListNames", NULL, "(as)", &error);
  g_assert_no_error (error);
  g_variant_get (names, "(as)", &iter);
  while (g_variant_iter_next (iter, "&s", &name))
    {
      g_autoptr(GVariant) owner = NULL;

      if (name[0] == ':')
        continue;
      owner = call (fixture->host_bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                    "org.freedesktop.DBus", "GetNameOwner", g_variant_new ("(s)", name), "(s)",
                    &error);
      g_assert_no_error (error);
      g_variant_get (owner, "(&s)", &name_owner);
      g_assert_cmpstr (name_owner, !=, unique_name);
    }
}

static char *
cached_string (GDBusProxy *proxy,
               const char *property)
{
  g_autoptr(GVariant) value = g_dbus_proxy_get_cached_property (proxy, property);

  g_assert_nonnull (value);
  return g_variant_dup_string (value, NULL);
}

static gboolean
cached_tooltip_text_is (GDBusProxy *proxy,
                        const char *expected)
{
  g_autoptr(GVariant) tooltip = g_dbus_proxy_get_cached_property (proxy, "ToolTip");
  const char *text;

  g_variant_get (tooltip, "(sa(iiay)s&s)", NULL, NULL, NULL, &text);
  return g_str_equal (text, expected);
}

static void
test_item_properties (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(GVariant) tooltip = NULL;
  g_autoptr(GVariant) menu = NULL;
  g_autoptr(GVariant) is_menu = NULL;
  g_autoptr(GVariant) signal = NULL;
  g_autoptr(GVariant) fresh = NULL;
  g_autofree char *value = NULL;
  const char *tip_icon, *tip_title, *tip_text;
  guint notified = 0;

  g_assert_cmpstr ((value = cached_string (fixture->item, "Category")), ==, "ApplicationStatus");
  g_clear_pointer (&value, g_free);
  g_assert_cmpstr ((value = cached_string (fixture->item, "Id")), ==, "io.github.assay.Assay");
  g_clear_pointer (&value, g_free);
  g_assert_cmpstr ((value = cached_string (fixture->item, "Title")), ==, "Assay");
  g_clear_pointer (&value, g_free);
  g_assert_cmpstr ((value = cached_string (fixture->item, "Status")), ==, "Active");
  g_clear_pointer (&value, g_free);
  g_assert_cmpstr ((value = cached_string (fixture->item, "IconName")), ==,
                   "io.github.assay.Assay");
  g_clear_pointer (&value, g_free);
  menu = g_dbus_proxy_get_cached_property (fixture->item, "Menu");
  g_assert_cmpstr (g_variant_get_string (menu, NULL), ==, ASSAY_TRAY_MENU_PATH);
  is_menu = g_dbus_proxy_get_cached_property (fixture->item, "ItemIsMenu");
  g_assert_false (g_variant_get_boolean (is_menu));
  tooltip = g_dbus_proxy_get_cached_property (fixture->item, "ToolTip");
  g_assert_cmpstr (g_variant_get_type_string (tooltip), ==, "(sa(iiay)ss)");
  g_variant_get (tooltip, "(&sa(iiay)&s&s)", &tip_icon, NULL, &tip_title, &tip_text);
  g_assert_cmpstr (tip_title, ==, "Assay");
  g_assert_cmpstr (tip_text, ==, "");
  g_clear_pointer (&tooltip, g_variant_unref);

  /* Status: NewStatus with the new value, and the property follows. */
  g_signal_connect (fixture->tray, "notify::status", G_CALLBACK (notify_count_cb), &notified);
  assay_tray_set_status (fixture->tray, ASSAY_TRAY_STATUS_NEEDS_ATTENTION);
  g_assert_cmpuint (notified, ==, 1);
  wait_for ((signal = last_signal (fixture, "NewStatus")) != NULL);
  g_assert_cmpstr (g_variant_get_type_string (signal), ==, "(s)");
  assert_printed (signal, "('NeedsAttention',)");
  wait_for (g_strcmp0 ((g_free (value), value = cached_string (fixture->item, "Status")),
                       "NeedsAttention")
            == 0);
  fresh = call (fixture->host_bus, g_dbus_connection_get_unique_name (fixture->tray_bus),
                ASSAY_TRAY_ITEM_PATH, "org.freedesktop.DBus.Properties", "Get",
                g_variant_new ("(ss)", ITEM_IFACE, "Status"), "(v)", NULL);
  assert_printed (fresh, "(<'NeedsAttention'>,)");
  g_clear_pointer (&signal, g_variant_unref);

  /* The dbusmenu's status follows: "notice" while the item needs attention. */
  wait_for (g_strcmp0 ((g_free (value), value = cached_string (fixture->dbusmenu, "Status")),
                       "notice")
            == 0);

  /* Icon. */
  assay_tray_set_icon_name (fixture->tray, "io.github.assay.Assay-symbolic");
  wait_for ((signal = last_signal (fixture, "NewIcon")) != NULL);
  wait_for (g_strcmp0 ((g_free (value), value = cached_string (fixture->item, "IconName")),
                       "io.github.assay.Assay-symbolic")
            == 0);
  g_clear_pointer (&signal, g_variant_unref);

  /* Tooltip: one NewToolTip for both parts. */
  g_ptr_array_set_size (fixture->signals, 0);
  assay_tray_set_tooltip (fixture->tray, "Uploading", "3 of 7 files, 120 of 300 MB");
  g_assert_cmpstr (assay_tray_get_tooltip_text (fixture->tray), ==,
                   "3 of 7 files, 120 of 300 MB");
  wait_for ((signal = last_signal (fixture, "NewToolTip")) != NULL);
  wait_for (cached_tooltip_text_is (fixture->item, "3 of 7 files, 120 of 300 MB"));
  tooltip = g_dbus_proxy_get_cached_property (fixture->item, "ToolTip");
  g_variant_get (tooltip, "(&sa(iiay)&s&s)", &tip_icon, NULL, &tip_title, &tip_text);
  g_assert_cmpstr (tip_title, ==, "Uploading");
  g_assert_cmpstr (tip_icon, ==, "io.github.assay.Assay-symbolic");
  g_clear_pointer (&signal, g_variant_unref);

  /* Title. */
  assay_tray_set_title (fixture->tray, "Assay (paused)");
  wait_for ((signal = last_signal (fixture, "NewTitle")) != NULL);
  wait_for (g_strcmp0 ((g_free (value), value = cached_string (fixture->item, "Title")),
                       "Assay (paused)")
            == 0);
  g_clear_pointer (&signal, g_variant_unref);

  /* Setting the same value again says nothing. */
  g_ptr_array_set_size (fixture->signals, 0);
  assay_tray_set_status (fixture->tray, ASSAY_TRAY_STATUS_NEEDS_ATTENTION);
  assay_tray_set_tooltip (fixture->tray, "Uploading", "3 of 7 files, 120 of 300 MB");
  g_assert_cmpuint (notified, ==, 1);
  spin (100);
  g_assert_cmpuint (fixture->signals->len, ==, 0);
}

static void
test_item_activate (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(GVariant) reply = NULL;

  /* No activate-action: a click does nothing. */
  reply = proxy_call_ok (fixture->item, "Activate", g_variant_new ("(ii)", 10, 20));
  g_clear_pointer (&reply, g_variant_unref);
  g_assert_cmpuint (fixture->show_count, ==, 0);

  g_object_set (fixture->tray, "activate-action", "app.show", NULL);
  reply = proxy_call_ok (fixture->item, "Activate", g_variant_new ("(ii)", 10, 20));
  g_clear_pointer (&reply, g_variant_unref);
  wait_for (fixture->show_count == 1);

  /* The other methods answer and activate nothing. */
  reply = proxy_call_ok (fixture->item, "SecondaryActivate", g_variant_new ("(ii)", 0, 0));
  g_clear_pointer (&reply, g_variant_unref);
  reply = proxy_call_ok (fixture->item, "ContextMenu", g_variant_new ("(ii)", 0, 0));
  g_clear_pointer (&reply, g_variant_unref);
  reply = proxy_call_ok (fixture->item, "Scroll", g_variant_new ("(is)", 1, "vertical"));
  spin (50);
  g_assert_cmpuint (fixture->show_count, ==, 1);
  g_assert_cmpuint (fixture->quit_count, ==, 0);
}

/* --- the menu ----------------------------------------------------------------------- */

typedef struct
{
  int         id;
  const char *type;
  const char *label;
  gboolean    enabled;
  const char *toggle_type;
  int         toggle_state;
} ExpectedItem;

static void
assert_item (GVariant           *layout_item,
             const ExpectedItem *expected)
{
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) children = NULL;
  const char *type = "standard", *label = NULL, *toggle_type = "";
  gboolean enabled = TRUE;
  int id, toggle_state = -1;

  g_variant_get (layout_item, "(i@a{sv}@av)", &id, &props, &children);
  g_variant_lookup (props, "type", "&s", &type);
  g_variant_lookup (props, "label", "&s", &label);
  g_variant_lookup (props, "enabled", "b", &enabled);
  g_variant_lookup (props, "toggle-type", "&s", &toggle_type);
  g_variant_lookup (props, "toggle-state", "i", &toggle_state);

  g_assert_cmpint (id, >, 0);
  g_assert_cmpstr (type, ==, expected->type);
  g_assert_cmpstr (label, ==, expected->label);
  g_assert_cmpint (enabled, ==, expected->enabled);
  g_assert_cmpstr (toggle_type, ==, expected->toggle_type);
  g_assert_cmpint (toggle_state, ==, expected->toggle_state);
  g_assert_cmpuint (g_variant_n_children (children), ==, 0);
}

/* GetLayout of the whole menu: the revision, and the ids of the root's children. */
static guint
get_layout (Fixture            *fixture,
            const ExpectedItem *expected,
            guint               n_expected,
            int                *ids)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) children = NULL;
  const char *children_display = NULL;
  guint revision;
  int root_id;

  reply = proxy_call_ok (fixture->dbusmenu, "GetLayout",
                         g_variant_new ("(ii^as)", 0, -1, (const char *[]) { NULL }));
  g_variant_get (reply, "(u(i@a{sv}@av))", &revision, &root_id, &props, &children);
  g_assert_cmpint (root_id, ==, 0);
  g_assert_true (g_variant_lookup (props, "children-display", "&s", &children_display));
  g_assert_cmpstr (children_display, ==, "submenu");
  g_assert_cmpuint (g_variant_n_children (children), ==, n_expected);
  for (guint i = 0; i < n_expected; i++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (children, i);
      g_autoptr(GVariant) child = g_variant_get_variant (boxed);

      assert_item (child, &expected[i]);
      g_variant_get_child (child, 0, "i", &ids[i]);
    }

  return revision;
}

static gboolean properties_updated (Fixture    *fixture,
                                    int         id,
                                    const char *property,
                                    GVariant   *expected);

static const ExpectedItem initial_menu[] = {
  { 0, "standard", "Show", TRUE, "", -1 },
  { 0, "standard", "_Pause", TRUE, "checkmark", 0 },
  { 0, "separator", NULL, TRUE, "", -1 },
  { 0, "standard", "Open Folder", FALSE, "", -1 },
  { 0, "standard", "Quit", TRUE, "", -1 },
};

static void
test_menu_layout (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) children = NULL;
  g_autoptr(GVariant) version = NULL;
  g_autoptr(GVariant) direction = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  int ids[G_N_ELEMENTS (initial_menu)];
  const char *label;
  int id;

  get_layout (fixture, initial_menu, G_N_ELEMENTS (initial_menu), ids);

  version = g_dbus_proxy_get_cached_property (fixture->dbusmenu, "Version");
  g_assert_cmpuint (g_variant_get_uint32 (version), ==, 3);
  direction = g_dbus_proxy_get_cached_property (fixture->dbusmenu, "TextDirection");
  g_assert_cmpstr (g_variant_get_string (direction, NULL), ==, "ltr");

  /* Depth 0: the item alone; property names filter the properties. */
  reply = proxy_call_ok (fixture->dbusmenu, "GetLayout",
                         g_variant_new ("(ii^as)", 0, 0, (const char *[]) { NULL }));
  g_variant_get (reply, "(u(i@a{sv}@av))", NULL, &id, NULL, &children);
  g_assert_cmpuint (g_variant_n_children (children), ==, 0);
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&children, g_variant_unref);

  reply = proxy_call_ok (fixture->dbusmenu, "GetLayout",
                         g_variant_new ("(ii^as)", ids[1], -1, (const char *[]) { "label", NULL }));
  g_variant_get (reply, "(u(i@a{sv}@av))", NULL, &id, &props, NULL);
  g_assert_cmpint (id, ==, ids[1]);
  g_assert_cmpuint (g_variant_n_children (props), ==, 1);
  g_assert_true (g_variant_lookup (props, "label", "&s", &label));
  g_assert_cmpstr (label, ==, "_Pause");
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&props, g_variant_unref);

  /* GetProperty and GetGroupProperties. */
  reply = proxy_call_ok (fixture->dbusmenu, "GetProperty",
                         g_variant_new ("(is)", ids[1], "toggle-state"));
  g_variant_get (reply, "(v)", &value);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 0);
  g_clear_pointer (&reply, g_variant_unref);

  reply = proxy_call_ok (fixture->dbusmenu, "GetGroupProperties",
                         g_variant_new ("(@ai^as)",
                                        g_variant_new_fixed_array (G_VARIANT_TYPE_INT32,
                                                                   (gint32[]) { ids[3], 9999 },
                                                                   2, sizeof (gint32)),
                                        (const char *[]) { "enabled", NULL }));
  expected = g_strdup_printf ("([(%d, {'enabled': <false>})],)", ids[3]);
  assert_printed (reply, expected);
  g_clear_pointer (&reply, g_variant_unref);

  /* Unknown ids and properties are errors that say what to do. */
  reply = proxy_call (fixture->dbusmenu, "GetLayout",
                      g_variant_new ("(ii^as)", 9999, -1, (const char *[]) { NULL }), &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "GetLayout"));
  g_clear_error (&error);
  reply = proxy_call (fixture->dbusmenu, "GetProperty",
                      g_variant_new ("(is)", ids[0], "toggle-state"), &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  /* AboutToShow: nothing to update; AboutToShowGroup names the unknown ids. */
  reply = proxy_call_ok (fixture->dbusmenu, "AboutToShow", g_variant_new ("(i)", 0));
  assert_printed (reply, "(false,)");
  g_clear_pointer (&reply, g_variant_unref);
  reply = proxy_call_ok (fixture->dbusmenu, "AboutToShowGroup",
                         g_variant_new ("(@ai)",
                                        g_variant_new_fixed_array (G_VARIANT_TYPE_INT32,
                                                                   (gint32[]) { 0, 9999 }, 2,
                                                                   sizeof (gint32))));
  assert_printed (reply, "([], [9999])");
  g_clear_pointer (&reply, g_variant_unref);

  /* hidden-when="action-missing": hidden until the action is added. */
  {
    g_autoptr(GMenuItem) report = g_menu_item_new ("Report", "app.report");
    g_autoptr(GSimpleAction) action = g_simple_action_new ("report", NULL);
    g_autoptr(GVariant) visible = NULL;
    g_autoptr(GVariant) children_after = NULL;
    g_autoptr(GVariant) last = NULL;
    int report_id;

    g_ptr_array_set_size (fixture->signals, 0);
    g_menu_item_set_attribute (report, "hidden-when", "s", "action-missing");
    g_menu_append_item (fixture->controls, report);
    wait_for (has_signal (fixture, "LayoutUpdated"));
    reply = proxy_call_ok (fixture->dbusmenu, "GetLayout",
                           g_variant_new ("(ii^as)", 0, 1, (const char *[]) { NULL }));
    g_variant_get (reply, "(u(i@a{sv}@av))", NULL, NULL, NULL, &children_after);
    g_assert_cmpuint (g_variant_n_children (children_after), ==, 6);
    g_variant_get_child (children_after, 2, "v", &last);
    g_variant_get (last, "(i@a{sv}@av)", &report_id, &props, NULL);
    g_assert_true (g_variant_lookup (props, "label", "&s", &label));
    g_assert_cmpstr (label, ==, "Report");
    visible = g_variant_lookup_value (props, "visible", G_VARIANT_TYPE_BOOLEAN);
    g_assert_false (g_variant_get_boolean (visible));

    g_action_map_add_action (G_ACTION_MAP (fixture->actions), G_ACTION (action));
    wait_for (properties_updated (fixture, report_id, "visible", g_variant_new_boolean (TRUE)));
    g_assert_true (properties_updated (fixture, report_id, "enabled",
                                       g_variant_new_boolean (TRUE)));
  }
}

/* Whether the latest ItemsPropertiesUpdated set @property of item @id to @expected. */
static gboolean
properties_updated (Fixture    *fixture,
                    int         id,
                    const char *property,
                    GVariant   *expected)
{
  g_autoptr(GVariant) signal = last_signal (fixture, "ItemsPropertiesUpdated");
  g_autoptr(GVariant) expected_sunk = g_variant_ref_sink (expected);
  g_autoptr(GVariantIter) updated = NULL;
  GVariant *props;
  int item_id;

  if (signal == NULL)
    return FALSE;
  g_variant_get (signal, "(a(ia{sv})a(ias))", &updated, NULL);
  while (g_variant_iter_next (updated, "(i@a{sv})", &item_id, &props))
    {
      g_autoptr(GVariant) owned = props;
      g_autoptr(GVariant) value = NULL;

      if (item_id != id)
        continue;
      value = g_variant_lookup_value (props, property, NULL);
      if (value != NULL && g_variant_equal (value, expected_sunk))
        return TRUE;
    }
  return FALSE;
}

static void
test_menu_events (Fixture       *fixture,
                  gconstpointer  user_data)
{
  const ExpectedItem paused_menu[] = {
    { 0, "standard", "Show", TRUE, "", -1 },
    { 0, "standard", "_Pause", TRUE, "checkmark", 1 },
    { 0, "separator", NULL, TRUE, "", -1 },
    { 0, "standard", "Open Folder", TRUE, "", -1 },
    { 0, "standard", "Quit", TRUE, "", -1 },
  };
  const ExpectedItem resume_menu[] = {
    { 0, "standard", "Show", TRUE, "", -1 },
    { 0, "standard", "_Resume", TRUE, "checkmark", 1 },
    { 0, "separator", NULL, TRUE, "", -1 },
    { 0, "standard", "Open Folder", TRUE, "", -1 },
    { 0, "standard", "Quit", TRUE, "", -1 },
  };
  int ids[G_N_ELEMENTS (initial_menu)];
  int new_ids[G_N_ELEMENTS (initial_menu)];
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) state = NULL;
  g_autoptr(GVariant) layout_updated = NULL;
  g_autoptr(GError) error = NULL;
  GAction *open_folder;
  guint revision, new_revision, signalled_revision;
  int parent;

  revision = get_layout (fixture, initial_menu, G_N_ELEMENTS (initial_menu), ids);

  /* Clicking Pause activates app.pause: its state toggles, the host is told. */
  reply = proxy_call_ok (fixture->dbusmenu, "Event",
                         g_variant_new ("(isvu)", ids[1], "clicked", g_variant_new_int32 (0), 0));
  g_clear_pointer (&reply, g_variant_unref);
  state = g_action_group_get_action_state (G_ACTION_GROUP (fixture->actions), "pause");
  g_assert_true (g_variant_get_boolean (state));
  wait_for (properties_updated (fixture, ids[1], "toggle-state", g_variant_new_int32 (1)));

  /* An action getting enabled is sent too. */
  open_folder = g_action_map_lookup_action (G_ACTION_MAP (fixture->actions), "open-folder");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (open_folder), TRUE);
  wait_for (properties_updated (fixture, ids[3], "enabled", g_variant_new_boolean (TRUE)));
  get_layout (fixture, paused_menu, G_N_ELEMENTS (paused_menu), new_ids);
  g_assert_cmpmem (ids, sizeof ids, new_ids, sizeof new_ids);

  /* Clicking the other items activates their actions. */
  reply = proxy_call_ok (fixture->dbusmenu, "Event",
                         g_variant_new ("(isvu)", ids[0], "clicked", g_variant_new_int32 (0), 0));
  g_clear_pointer (&reply, g_variant_unref);
  g_assert_cmpuint (fixture->show_count, ==, 1);
  /* A hover is not a click. */
  reply = proxy_call_ok (fixture->dbusmenu, "Event",
                         g_variant_new ("(isvu)", ids[4], "hovered", g_variant_new_int32 (0), 0));
  g_clear_pointer (&reply, g_variant_unref);
  g_assert_cmpuint (fixture->quit_count, ==, 0);

  /* EventGroup: the valid events run, the unknown ids come back. */
  reply = proxy_call_ok (fixture->dbusmenu, "EventGroup",
                         g_variant_new_parsed ("([(%i, 'clicked', <0>, uint32 0),"
                                               "  (9999, 'clicked', <0>, uint32 0)],)",
                                               ids[4]));
  assert_printed (reply, "([9999],)");
  g_clear_pointer (&reply, g_variant_unref);
  g_assert_cmpuint (fixture->quit_count, ==, 1);

  /* A disabled item does nothing when clicked. */
  g_simple_action_set_enabled (G_SIMPLE_ACTION (open_folder), FALSE);
  g_simple_action_set_enabled (
      G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (fixture->actions), "quit")),
      FALSE);
  reply = proxy_call_ok (fixture->dbusmenu, "Event",
                         g_variant_new ("(isvu)", ids[4], "clicked", g_variant_new_int32 (0), 0));
  g_clear_pointer (&reply, g_variant_unref);
  g_assert_cmpuint (fixture->quit_count, ==, 1);
  g_simple_action_set_enabled (
      G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (fixture->actions), "quit")),
      TRUE);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (open_folder), TRUE);

  /* The model changes (the app relabels Pause): LayoutUpdated, a newer revision. */
  g_ptr_array_set_size (fixture->signals, 0);
  g_menu_remove (fixture->controls, 1);
  g_menu_insert (fixture->controls, 1, "_Resume", "app.pause");
  wait_for ((layout_updated = last_signal (fixture, "LayoutUpdated")) != NULL);
  g_variant_get (layout_updated, "(ui)", &signalled_revision, &parent);
  g_assert_cmpint (parent, ==, 0);
  g_assert_cmpuint (signalled_revision, >, revision);
  new_revision = get_layout (fixture, resume_menu, G_N_ELEMENTS (resume_menu), new_ids);
  g_assert_cmpuint (new_revision, ==, signalled_revision);

  /* An event for an item of the old layout fails rather than hitting another item. */
  reply = proxy_call (fixture->dbusmenu, "Event",
                      g_variant_new ("(isvu)", ids[1], "clicked", g_variant_new_int32 (0), 0),
                      &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  state = (g_variant_unref (state),
           g_action_group_get_action_state (G_ACTION_GROUP (fixture->actions), "pause"));
  g_assert_true (g_variant_get_boolean (state));

  /* Clicking Resume toggles the state back. */
  reply = proxy_call_ok (fixture->dbusmenu, "Event",
                         g_variant_new ("(isvu)", new_ids[1], "clicked", g_variant_new_int32 (0),
                                        0));
  g_clear_pointer (&reply, g_variant_unref);
  wait_for (properties_updated (fixture, new_ids[1], "toggle-state", g_variant_new_int32 (0)));
  state = (g_variant_unref (state),
           g_action_group_get_action_state (G_ACTION_GROUP (fixture->actions), "pause"));
  g_assert_false (g_variant_get_boolean (state));
}

/* A submenu of radio items: a string-state action with targets, as for a preset. */
static void
test_menu_submenu_radio (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(GSimpleAction) compression = NULL;
  g_autoptr(GMenu) presets = g_menu_new ();
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) children = NULL;
  g_autoptr(GVariant) submenu = NULL;
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) entries = NULL;
  g_autoptr(GVariant) state = NULL;
  const char *children_display, *label, *toggle_type;
  int submenu_id, fast_id = -1, smallest_id = -1, toggle_state;

  compression = g_simple_action_new_stateful ("compression", G_VARIANT_TYPE_STRING,
                                              g_variant_new_string ("fast"));
  g_action_map_add_action (G_ACTION_MAP (fixture->actions), G_ACTION (compression));
  g_menu_append (presets, "Fast", "app.compression::fast");
  g_menu_append (presets, "Smallest", "app.compression::smallest");
  g_ptr_array_set_size (fixture->signals, 0);
  g_menu_append_submenu (fixture->menu, "Compression", G_MENU_MODEL (presets));
  wait_for (has_signal (fixture, "LayoutUpdated"));

  /* Depth 1: the submenu is there, its items are not. */
  reply = proxy_call_ok (fixture->dbusmenu, "GetLayout",
                         g_variant_new ("(ii^as)", 0, 1, (const char *[]) { NULL }));
  g_variant_get (reply, "(u(i@a{sv}@av))", NULL, NULL, NULL, &children);
  /* The last section is set apart from the submenu after it. */
  g_assert_cmpuint (g_variant_n_children (children), ==, 7);
  g_variant_get_child (children, 6, "v", &submenu);
  g_variant_get (submenu, "(i@a{sv}@av)", &submenu_id, &props, &entries);
  g_assert_true (g_variant_lookup (props, "children-display", "&s", &children_display));
  g_assert_cmpstr (children_display, ==, "submenu");
  g_assert_true (g_variant_lookup (props, "label", "&s", &label));
  g_assert_cmpstr (label, ==, "Compression");
  g_assert_cmpuint (g_variant_n_children (entries), ==, 0);
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&props, g_variant_unref);
  g_clear_pointer (&entries, g_variant_unref);
  g_clear_pointer (&submenu, g_variant_unref);

  /* The submenu itself: radio items, the current preset on. */
  reply = proxy_call_ok (fixture->dbusmenu, "GetLayout",
                         g_variant_new ("(ii^as)", submenu_id, -1, (const char *[]) { NULL }));
  g_variant_get (reply, "(u(i@a{sv}@av))", NULL, NULL, NULL, &entries);
  g_assert_cmpuint (g_variant_n_children (entries), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GVariant) entry = NULL;
      g_autoptr(GVariant) entry_props = NULL;
      int id;

      g_variant_get_child (entries, i, "v", &entry);
      g_variant_get (entry, "(i@a{sv}@av)", &id, &entry_props, NULL);
      g_assert_true (g_variant_lookup (entry_props, "toggle-type", "&s", &toggle_type));
      g_assert_cmpstr (toggle_type, ==, "radio");
      g_assert_true (g_variant_lookup (entry_props, "toggle-state", "i", &toggle_state));
      g_assert_cmpint (toggle_state, ==, i == 0 ? 1 : 0);
      if (i == 0)
        fast_id = id;
      else
        smallest_id = id;
    }

  /* Clicking Smallest sets the state to its target; both items change. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = proxy_call_ok (fixture->dbusmenu, "Event",
                         g_variant_new ("(isvu)", smallest_id, "clicked",
                                        g_variant_new_int32 (0), 0));
  state = g_action_group_get_action_state (G_ACTION_GROUP (fixture->actions), "compression");
  g_assert_cmpstr (g_variant_get_string (state, NULL), ==, "smallest");
  wait_for (properties_updated (fixture, smallest_id, "toggle-state", g_variant_new_int32 (1)));
  g_assert_true (properties_updated (fixture, fast_id, "toggle-state", g_variant_new_int32 (0)));
}

/* --- the watcher -------------------------------------------------------------------- */

static void
test_watcher_restart (Fixture       *fixture,
                      gconstpointer  user_data)
{
  const char *unique_name = g_dbus_connection_get_unique_name (fixture->tray_bus);
  guint notified = 0;

  wait_for (assay_tray_get_registered (fixture->tray));
  g_signal_connect (fixture->tray, "notify::registered", G_CALLBACK (notify_count_cb),
                    &notified);

  stop_watcher (fixture);
  wait_for (!assay_tray_get_registered (fixture->tray));
  g_assert_cmpuint (notified, ==, 1);

  /* A new watcher (the shell restarted) knows nothing: the item registers again. */
  start_watcher (fixture);
  wait_for (assay_tray_get_registered (fixture->tray));
  g_assert_cmpuint (notified, ==, 2);
  g_assert_true (watcher_has_item (fixture, unique_name));
}

static void
test_no_watcher (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autofree char *id = NULL;
  guint notified = 0;

  /* No warning (fatal in tests), not registered, still answering. */
  g_signal_connect (fixture->tray, "notify::registered", G_CALLBACK (notify_count_cb),
                    &notified);
  spin (300);
  g_assert_false (assay_tray_get_registered (fixture->tray));
  g_assert_cmpuint (notified, ==, 0);
  g_assert_cmpstr ((id = cached_string (fixture->item, "Id")), ==, "io.github.assay.Assay");

  /* A watcher showing up later (the user enables the extension) gets the item. */
  start_watcher (fixture);
  wait_for (assay_tray_get_registered (fixture->tray));
  g_assert_true (watcher_has_item (fixture, g_dbus_connection_get_unique_name (fixture->tray_bus)));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, with_watcher)                                                    \
  g_test_add (path, Fixture, GINT_TO_POINTER (with_watcher), fixture_set_up, func,      \
              fixture_tear_down)
  ADD ("/tray/item/registers-unique-name", test_registers_unique_name, TRUE);
  ADD ("/tray/item/properties", test_item_properties, TRUE);
  ADD ("/tray/item/activate", test_item_activate, TRUE);
  ADD ("/tray/menu/layout", test_menu_layout, TRUE);
  ADD ("/tray/menu/events", test_menu_events, TRUE);
  ADD ("/tray/menu/submenu-radio", test_menu_submenu_radio, TRUE);
  ADD ("/tray/watcher/restart", test_watcher_restart, TRUE);
  ADD ("/tray/watcher/none", test_no_watcher, FALSE);
#undef ADD

  return g_test_run ();
}
