/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-tray.h"

/*
 * Two D-Bus objects on one connection:
 *
 *   /StatusNotifierItem  org.kde.StatusNotifierItem   the icon, its tooltip and status
 *   /MenuBar             com.canonical.dbusmenu       the menu, as a tree of items
 *
 * The menu tree is rebuilt from the GMenuModel (in an idle, so a burst of changes is one
 * rebuild) and announced with LayoutUpdated; an action's enabled/state changes only send
 * the affected items' properties with ItemsPropertiesUpdated. Item ids are never reused,
 * so an Event for an item of an older layout fails instead of activating another item.
 */

#define WATCHER_NAME  "org.kde.StatusNotifierWatcher"
#define WATCHER_PATH  "/StatusNotifierWatcher"
#define ITEM_IFACE    "org.kde.StatusNotifierItem"
#define MENU_IFACE    "com.canonical.dbusmenu"
#define PROPS_IFACE   "org.freedesktop.DBus.Properties"
#define DBUSMENU_VERSION 3

static const char introspection_xml[] =
  "<node>"
  "  <interface name='org.kde.StatusNotifierItem'>"
  "    <property name='Category' type='s' access='read'/>"
  "    <property name='Id' type='s' access='read'/>"
  "    <property name='Title' type='s' access='read'/>"
  "    <property name='Status' type='s' access='read'/>"
  "    <property name='WindowId' type='i' access='read'/>"
  "    <property name='IconThemePath' type='s' access='read'/>"
  "    <property name='IconName' type='s' access='read'/>"
  "    <property name='IconPixmap' type='a(iiay)' access='read'/>"
  "    <property name='OverlayIconName' type='s' access='read'/>"
  "    <property name='OverlayIconPixmap' type='a(iiay)' access='read'/>"
  "    <property name='AttentionIconName' type='s' access='read'/>"
  "    <property name='AttentionIconPixmap' type='a(iiay)' access='read'/>"
  "    <property name='AttentionMovieName' type='s' access='read'/>"
  "    <property name='ToolTip' type='(sa(iiay)ss)' access='read'/>"
  "    <property name='ItemIsMenu' type='b' access='read'/>"
  "    <property name='Menu' type='o' access='read'/>"
  "    <method name='ContextMenu'><arg name='x' type='i' direction='in'/>"
  "      <arg name='y' type='i' direction='in'/></method>"
  "    <method name='Activate'><arg name='x' type='i' direction='in'/>"
  "      <arg name='y' type='i' direction='in'/></method>"
  "    <method name='SecondaryActivate'><arg name='x' type='i' direction='in'/>"
  "      <arg name='y' type='i' direction='in'/></method>"
  "    <method name='Scroll'><arg name='delta' type='i' direction='in'/>"
  "      <arg name='orientation' type='s' direction='in'/></method>"
  "    <signal name='NewTitle'/>"
  "    <signal name='NewIcon'/>"
  "    <signal name='NewAttentionIcon'/>"
  "    <signal name='NewOverlayIcon'/>"
  "    <signal name='NewToolTip'/>"
  "    <signal name='NewStatus'><arg name='status' type='s'/></signal>"
  "  </interface>"
  "  <interface name='com.canonical.dbusmenu'>"
  "    <property name='Version' type='u' access='read'/>"
  "    <property name='TextDirection' type='s' access='read'/>"
  "    <property name='Status' type='s' access='read'/>"
  "    <property name='IconThemePath' type='as' access='read'/>"
  "    <method name='GetLayout'>"
  "      <arg name='parentId' type='i' direction='in'/>"
  "      <arg name='recursionDepth' type='i' direction='in'/>"
  "      <arg name='propertyNames' type='as' direction='in'/>"
  "      <arg name='revision' type='u' direction='out'/>"
  "      <arg name='layout' type='(ia{sv}av)' direction='out'/>"
  "    </method>"
  "    <method name='GetGroupProperties'>"
  "      <arg name='ids' type='ai' direction='in'/>"
  "      <arg name='propertyNames' type='as' direction='in'/>"
  "      <arg name='properties' type='a(ia{sv})' direction='out'/>"
  "    </method>"
  "    <method name='GetProperty'>"
  "      <arg name='id' type='i' direction='in'/>"
  "      <arg name='name' type='s' direction='in'/>"
  "      <arg name='value' type='v' direction='out'/>"
  "    </method>"
  "    <method name='Event'>"
  "      <arg name='id' type='i' direction='in'/>"
  "      <arg name='eventId' type='s' direction='in'/>"
  "      <arg name='data' type='v' direction='in'/>"
  "      <arg name='timestamp' type='u' direction='in'/>"
  "    </method>"
  "    <method name='EventGroup'>"
  "      <arg name='events' type='a(isvu)' direction='in'/>"
  "      <arg name='idErrors' type='ai' direction='out'/>"
  "    </method>"
  "    <method name='AboutToShow'>"
  "      <arg name='id' type='i' direction='in'/>"
  "      <arg name='needUpdate' type='b' direction='out'/>"
  "    </method>"
  "    <method name='AboutToShowGroup'>"
  "      <arg name='ids' type='ai' direction='in'/>"
  "      <arg name='updatesNeeded' type='ai' direction='out'/>"
  "      <arg name='idErrors' type='ai' direction='out'/>"
  "    </method>"
  "    <signal name='ItemsPropertiesUpdated'>"
  "      <arg name='updatedProps' type='a(ia{sv})'/>"
  "      <arg name='removedProps' type='a(ias)'/>"
  "    </signal>"
  "    <signal name='LayoutUpdated'>"
  "      <arg name='revision' type='u'/>"
  "      <arg name='parent' type='i'/>"
  "    </signal>"
  "    <signal name='ItemActivationRequested'>"
  "      <arg name='id' type='i'/>"
  "      <arg name='timestamp' type='u'/>"
  "    </signal>"
  "  </interface>"
  "</node>";

typedef struct _MenuItem MenuItem;

struct _MenuItem
{
  int        id;
  gboolean   separator;
  gboolean   submenu;
  gboolean   pending_separator; /* a section ended: the next child starts after a separator */
  char      *label;
  char      *icon_name;
  char      *action;            /* the name in the action group ("app." removed), or NULL */
  char      *hidden_when;       /* GMenu's "hidden-when": "action-missing", "action-disabled" */
  GVariant  *target;
  GPtrArray *children;          /* MenuItem, owned */
};

struct _AssayTray
{
  GObject          parent_instance;

  GDBusConnection *connection;
  char            *id;
  GMenuModel      *menu;
  GActionGroup    *actions;

  char            *title;
  char            *icon_name;
  char            *attention_icon_name;
  char            *tooltip_title;
  char            *tooltip_text;
  char            *activate_action;
  AssayTrayStatus  status;
  gboolean         registered;

  GMainContext    *context;
  GCancellable    *register_cancellable; /* the RegisterStatusNotifierItem call */
  guint            item_registration;
  guint            menu_registration;
  guint            watch_id;

  MenuItem        *root;
  GHashTable      *items;           /* id → MenuItem, borrowed from root's tree */
  int              next_id;
  guint            revision;
  GPtrArray       *watched_models;  /* GMenuModel whose items-changed we follow */
  GSource         *rebuild_source;
};

G_DEFINE_FINAL_TYPE (AssayTray, assay_tray, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (AssayTrayStatus, assay_tray_status,
                    G_DEFINE_ENUM_VALUE (ASSAY_TRAY_STATUS_PASSIVE, "passive"),
                    G_DEFINE_ENUM_VALUE (ASSAY_TRAY_STATUS_ACTIVE, "active"),
                    G_DEFINE_ENUM_VALUE (ASSAY_TRAY_STATUS_NEEDS_ATTENTION, "needs-attention"))

enum
{
  PROP_0,
  PROP_CONNECTION,
  PROP_ID,
  PROP_MENU,
  PROP_ACTIONS,
  PROP_TITLE,
  PROP_ICON_NAME,
  PROP_ATTENTION_ICON_NAME,
  PROP_STATUS,
  PROP_TOOLTIP_TITLE,
  PROP_TOOLTIP_TEXT,
  PROP_ACTIVATE_ACTION,
  PROP_REGISTERED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GDBusNodeInfo *
get_node_info (void)
{
  static GDBusNodeInfo *info;

  if (g_once_init_enter (&info))
    {
      GDBusNodeInfo *parsed = g_dbus_node_info_new_for_xml (introspection_xml, NULL);

      g_assert (parsed != NULL);
      g_once_init_leave (&info, parsed);
    }

  return info;
}

/* --- menu items ------------------------------------------------------------------- */

static void
menu_item_free (MenuItem *item)
{
  g_free (item->label);
  g_free (item->icon_name);
  g_free (item->action);
  g_free (item->hidden_when);
  g_clear_pointer (&item->target, g_variant_unref);
  g_clear_pointer (&item->children, g_ptr_array_unref);
  g_free (item);
}

static MenuItem *
menu_item_new (AssayTray *self,
               MenuItem  *parent)
{
  MenuItem *item = g_new0 (MenuItem, 1);

  item->id = parent == NULL ? 0 : self->next_id++;
  g_hash_table_insert (self->items, GINT_TO_POINTER (item->id), item);
  if (parent != NULL)
    {
      if (parent->children == NULL)
        parent->children = g_ptr_array_new_with_free_func ((GDestroyNotify) menu_item_free);
      g_ptr_array_add (parent->children, item);
    }

  return item;
}

/* g_set_str() is GLib 2.76. */
static gboolean
set_str (char       **str_pointer,
         const char  *new_str)
{
  if (g_strcmp0 (*str_pointer, new_str) == 0)
    return FALSE;
  g_free (*str_pointer);
  *str_pointer = g_strdup (new_str);
  return TRUE;
}

/* The name of @detailed_action in the action group: "app.quit" → "quit". */
static char *
action_name_in_group (const char *name)
{
  if (g_str_has_prefix (name, "app."))
    return g_strdup (name + strlen ("app."));
  return g_strdup (name);
}

static const char *
status_to_string (AssayTrayStatus status)
{
  switch (status)
    {
    case ASSAY_TRAY_STATUS_PASSIVE:
      return "Passive";
    case ASSAY_TRAY_STATUS_NEEDS_ATTENTION:
      return "NeedsAttention";
    case ASSAY_TRAY_STATUS_ACTIVE:
    default:
      return "Active";
    }
}

/* What an item's action says about it: enabled, and a checkmark or radio state. */
static void
menu_item_query_action (AssayTray   *self,
                        MenuItem    *item,
                        gboolean    *enabled,
                        gboolean    *visible,
                        const char **toggle_type,
                        int         *toggle_state)
{
  const GVariantType *parameter_type = NULL;
  g_autoptr(GVariant) state = NULL;
  gboolean action_enabled = FALSE;
  gboolean exists = FALSE;

  *enabled = item->submenu;
  *toggle_type = NULL;
  *toggle_state = -1;

  if (item->action != NULL && self->actions != NULL)
    exists = g_action_group_query_action (self->actions, item->action, &action_enabled,
                                          &parameter_type, NULL, NULL, &state);
  *visible = !((g_strcmp0 (item->hidden_when, "action-missing") == 0 && !exists)
               || (g_strcmp0 (item->hidden_when, "action-disabled") == 0 && !action_enabled));
  if (!exists)
    return;

  /* As GTK does: a target the action cannot take leaves the item disabled. */
  if (item->target != NULL)
    *enabled = action_enabled && parameter_type != NULL
               && g_variant_is_of_type (item->target, parameter_type);
  else
    *enabled = action_enabled && parameter_type == NULL;

  if (state == NULL)
    return;
  if (item->target == NULL && g_variant_is_of_type (state, G_VARIANT_TYPE_BOOLEAN))
    {
      *toggle_type = "checkmark";
      *toggle_state = g_variant_get_boolean (state) ? 1 : 0;
    }
  else if (item->target != NULL
           && g_variant_is_of_type (state, g_variant_get_type (item->target)))
    {
      *toggle_type = "radio";
      *toggle_state = g_variant_equal (state, item->target) ? 1 : 0;
    }
}

static gboolean
wanted (const char * const *names,
        const char         *name)
{
  return names == NULL || names[0] == NULL || g_strv_contains (names, name);
}

static GVariant *
menu_item_properties (AssayTray          *self,
                      MenuItem           *item,
                      const char * const *names)
{
  GVariantBuilder builder;
  const char *toggle_type;
  int toggle_state;
  gboolean enabled, visible;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);

  if (item->separator)
    {
      if (wanted (names, "type"))
        g_variant_builder_add (&builder, "{sv}", "type", g_variant_new_string ("separator"));
      return g_variant_builder_end (&builder);
    }

  if (item->submenu && wanted (names, "children-display"))
    g_variant_builder_add (&builder, "{sv}", "children-display",
                           g_variant_new_string ("submenu"));
  if (item->id == 0)
    return g_variant_builder_end (&builder);

  menu_item_query_action (self, item, &enabled, &visible, &toggle_type, &toggle_state);
  if (wanted (names, "label"))
    g_variant_builder_add (&builder, "{sv}", "label",
                           g_variant_new_string (item->label ? item->label : ""));
  if (wanted (names, "enabled"))
    g_variant_builder_add (&builder, "{sv}", "enabled", g_variant_new_boolean (enabled));
  if (wanted (names, "visible"))
    g_variant_builder_add (&builder, "{sv}", "visible", g_variant_new_boolean (visible));
  if (item->icon_name != NULL && wanted (names, "icon-name"))
    g_variant_builder_add (&builder, "{sv}", "icon-name", g_variant_new_string (item->icon_name));
  if (toggle_type != NULL && wanted (names, "toggle-type"))
    g_variant_builder_add (&builder, "{sv}", "toggle-type", g_variant_new_string (toggle_type));
  if (toggle_type != NULL && wanted (names, "toggle-state"))
    g_variant_builder_add (&builder, "{sv}", "toggle-state", g_variant_new_int32 (toggle_state));

  return g_variant_builder_end (&builder);
}

static GVariant *
menu_item_layout (AssayTray          *self,
                  MenuItem           *item,
                  int                 depth,
                  const char * const *names)
{
  GVariantBuilder children;

  g_variant_builder_init (&children, G_VARIANT_TYPE ("av"));
  if (depth != 0 && item->children != NULL)
    {
      for (guint i = 0; i < item->children->len; i++)
        g_variant_builder_add (&children, "v",
                               menu_item_layout (self, g_ptr_array_index (item->children, i),
                                                 depth < 0 ? -1 : depth - 1, names));
    }

  return g_variant_new ("(i@a{sv}av)", item->id, menu_item_properties (self, item, names),
                        &children);
}

/* --- building the tree from the GMenuModel ---------------------------------------- */

static void schedule_rebuild (AssayTray *self);

static void
model_items_changed_cb (GMenuModel *model,
                        int         position,
                        int         removed,
                        int         added,
                        AssayTray  *self)
{
  schedule_rebuild (self);
}

static void
unwatch_models (AssayTray *self)
{
  for (guint i = 0; i < self->watched_models->len; i++)
    g_signal_handlers_disconnect_by_func (g_ptr_array_index (self->watched_models, i),
                                          model_items_changed_cb, self);
  g_ptr_array_set_size (self->watched_models, 0);
}

static char *
icon_name_from_attribute (GVariant *serialized)
{
  g_autoptr(GIcon) icon = NULL;
  const char * const *names;

  if (serialized == NULL)
    return NULL;
  icon = g_icon_deserialize (serialized);
  if (!G_IS_THEMED_ICON (icon))
    return NULL;
  names = g_themed_icon_get_names (G_THEMED_ICON (icon));
  return names != NULL && names[0] != NULL ? g_strdup (names[0]) : NULL;
}

static void
append_model (AssayTray  *self,
              MenuItem   *parent,
              GMenuModel *model)
{
  int n_items;

  g_signal_connect (model, "items-changed", G_CALLBACK (model_items_changed_cb), self);
  g_ptr_array_add (self->watched_models, g_object_ref (model));

  n_items = g_menu_model_get_n_items (model);
  for (int i = 0; i < n_items; i++)
    {
      g_autoptr(GMenuModel) section = NULL;
      g_autoptr(GMenuModel) submenu = NULL;
      g_autoptr(GVariant) icon = NULL;
      g_autofree char *action = NULL;
      MenuItem *item;

      section = g_menu_model_get_item_link (model, i, G_MENU_LINK_SECTION);
      if (section != NULL)
        {
          /* A section is set apart by separators, never leading, trailing or doubled. */
          if (parent->children != NULL && parent->children->len > 0)
            parent->pending_separator = TRUE;
          append_model (self, parent, section);
          if (parent->children != NULL && parent->children->len > 0)
            parent->pending_separator = TRUE;
          continue;
        }

      if (parent->pending_separator)
        {
          menu_item_new (self, parent)->separator = TRUE;
          parent->pending_separator = FALSE;
        }

      item = menu_item_new (self, parent);
      g_menu_model_get_item_attribute (model, i, G_MENU_ATTRIBUTE_LABEL, "s", &item->label);
      if (g_menu_model_get_item_attribute (model, i, G_MENU_ATTRIBUTE_ACTION, "s", &action))
        {
          item->action = action_name_in_group (action);
          item->target = g_menu_model_get_item_attribute_value (model, i,
                                                                G_MENU_ATTRIBUTE_TARGET, NULL);
        }
      g_menu_model_get_item_attribute (model, i, "hidden-when", "s", &item->hidden_when);
      icon = g_menu_model_get_item_attribute_value (model, i, G_MENU_ATTRIBUTE_ICON, NULL);
      item->icon_name = icon_name_from_attribute (icon);

      submenu = g_menu_model_get_item_link (model, i, G_MENU_LINK_SUBMENU);
      if (submenu != NULL)
        {
          item->submenu = TRUE;
          append_model (self, item, submenu);
        }
    }
}

static void
rebuild_menu (AssayTray *self)
{
  unwatch_models (self);
  g_hash_table_remove_all (self->items);
  g_clear_pointer (&self->root, menu_item_free);

  self->root = menu_item_new (self, NULL);
  self->root->submenu = TRUE;
  if (self->menu != NULL)
    append_model (self, self->root, self->menu);
  self->revision++;
}

static gboolean
rebuild_cb (gpointer user_data)
{
  AssayTray *self = user_data;

  g_clear_pointer (&self->rebuild_source, g_source_unref);
  rebuild_menu (self);
  g_dbus_connection_emit_signal (self->connection, NULL, ASSAY_TRAY_MENU_PATH, MENU_IFACE,
                                 "LayoutUpdated", g_variant_new ("(ui)", self->revision, 0),
                                 NULL);
  return G_SOURCE_REMOVE;
}

static void
schedule_rebuild (AssayTray *self)
{
  if (self->rebuild_source != NULL)
    return;

  self->rebuild_source = g_idle_source_new ();
  g_source_set_name (self->rebuild_source, "[assay-tray] rebuild menu");
  g_source_set_callback (self->rebuild_source, rebuild_cb, self, NULL);
  g_source_attach (self->rebuild_source, self->context);
}

/* --- actions ---------------------------------------------------------------------- */

static void
action_changed (AssayTray  *self,
                const char *action_name)
{
  GVariantBuilder updated;
  GVariantBuilder removed;
  GHashTableIter iter;
  gpointer value;
  gboolean any = FALSE;

  g_variant_builder_init (&updated, G_VARIANT_TYPE ("a(ia{sv})"));
  g_variant_builder_init (&removed, G_VARIANT_TYPE ("a(ias)"));

  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MenuItem *item = value;
      const char *toggle_type;
      int toggle_state;
      gboolean enabled, visible;

      if (g_strcmp0 (item->action, action_name) != 0)
        continue;

      any = TRUE;
      g_variant_builder_add (&updated, "(i@a{sv})", item->id,
                             menu_item_properties (self, item, NULL));
      menu_item_query_action (self, item, &enabled, &visible, &toggle_type, &toggle_state);
      if (toggle_type == NULL)
        {
          const char * const gone[] = { "toggle-type", "toggle-state", NULL };

          g_variant_builder_add (&removed, "(i^as)", item->id, gone);
        }
    }

  if (!any)
    {
      g_variant_builder_clear (&updated);
      g_variant_builder_clear (&removed);
      return;
    }

  g_dbus_connection_emit_signal (self->connection, NULL, ASSAY_TRAY_MENU_PATH, MENU_IFACE,
                                 "ItemsPropertiesUpdated",
                                 g_variant_new ("(a(ia{sv})a(ias))", &updated, &removed), NULL);
}

static void
action_added_or_removed_cb (GActionGroup *group,
                 const char   *action_name,
                 AssayTray    *self)
{
  action_changed (self, action_name);
}

static void
action_enabled_changed_cb (GActionGroup *group,
                           const char   *action_name,
                           gboolean      enabled,
                           AssayTray    *self)
{
  action_changed (self, action_name);
}

static void
action_state_changed_cb (GActionGroup *group,
                         const char   *action_name,
                         GVariant     *state,
                         AssayTray    *self)
{
  action_changed (self, action_name);
}

static void
activate_detailed_action (AssayTray  *self,
                          const char *detailed_action)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) target = NULL;
  g_autofree char *name = NULL;
  g_autofree char *in_group = NULL;

  if (self->actions == NULL)
    return;
  /* Checked by assay_tray_set_activate_action(). */
  if (!g_action_parse_detailed_name (detailed_action, &name, &target, &error))
    g_assert_not_reached ();
  in_group = action_name_in_group (name);
  if (g_action_group_get_action_enabled (self->actions, in_group))
    g_action_group_activate_action (self->actions, in_group, target);
  else
    g_debug ("Tray activate-action “%s” is missing or disabled", detailed_action);
}

/* --- the dbusmenu object ---------------------------------------------------------- */

static const char *
text_direction (void)
{
  /* GTK's own way (gtk_get_locale_direction) without linking GTK: its translators
   * say which direction their language runs in. */
  const char *direction = g_dgettext ("gtk40", "default:LTR");

  return g_strcmp0 (direction, "default:RTL") == 0 ? "rtl" : "ltr";
}

static MenuItem *
lookup_item (AssayTray             *self,
             int                    id,
             GDBusMethodInvocation *invocation)
{
  MenuItem *item = g_hash_table_lookup (self->items, GINT_TO_POINTER (id));

  if (item == NULL && invocation != NULL)
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                           "No menu item with id %d (layout revision %u): "
                                           "call GetLayout again",
                                           id, self->revision);
  return item;
}

/* Activates the item's action for a "clicked" event; FALSE if @id is unknown. */
static gboolean
menu_event (AssayTray  *self,
            int         id,
            const char *event_id)
{
  MenuItem *item = lookup_item (self, id, NULL);
  g_autofree char *action = NULL;
  g_autoptr(GVariant) target = NULL;
  const char *toggle_type;
  int toggle_state;
  gboolean enabled, visible;

  if (item == NULL)
    return FALSE;
  if (g_strcmp0 (event_id, "clicked") != 0 || item->action == NULL)
    return TRUE;

  menu_item_query_action (self, item, &enabled, &visible, &toggle_type, &toggle_state);
  if (!enabled || !visible)
    return TRUE;

  /* The item may go away in a rebuild the action triggers. */
  action = g_strdup (item->action);
  target = item->target ? g_variant_ref (item->target) : NULL;
  g_action_group_activate_action (self->actions, action, target);
  return TRUE;
}

static void
menu_method_call (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *object_path,
                  const char            *interface_name,
                  const char            *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  AssayTray *self = user_data;

  if (g_str_equal (method_name, "GetLayout"))
    {
      g_autofree const char **names = NULL;
      MenuItem *item;
      int parent_id, depth;

      g_variant_get (parameters, "(ii^a&s)", &parent_id, &depth, &names);
      if ((item = lookup_item (self, parent_id, invocation)) == NULL)
        return;
      g_dbus_method_invocation_return_value (
          invocation, g_variant_new ("(u@(ia{sv}av))", self->revision,
                                     menu_item_layout (self, item, depth, names)));
    }
  else if (g_str_equal (method_name, "GetGroupProperties"))
    {
      g_autoptr(GVariant) ids = NULL;
      g_autofree const char **names = NULL;
      GVariantBuilder builder;
      const gint32 *id_values;
      gsize n_ids;

      g_variant_get (parameters, "(@ai^a&s)", &ids, &names);
      id_values = g_variant_get_fixed_array (ids, &n_ids, sizeof (gint32));
      g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ia{sv})"));
      if (n_ids == 0)
        {
          /* No ids: every item. */
          GHashTableIter iter;
          gpointer value;

          g_hash_table_iter_init (&iter, self->items);
          while (g_hash_table_iter_next (&iter, NULL, &value))
            g_variant_builder_add (&builder, "(i@a{sv})", ((MenuItem *) value)->id,
                                   menu_item_properties (self, value, names));
        }
      for (gsize i = 0; i < n_ids; i++)
        {
          MenuItem *item = lookup_item (self, id_values[i], NULL);

          if (item != NULL)
            g_variant_builder_add (&builder, "(i@a{sv})", item->id,
                                   menu_item_properties (self, item, names));
        }
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(a(ia{sv}))", &builder));
    }
  else if (g_str_equal (method_name, "GetProperty"))
    {
      g_autoptr(GVariant) props = NULL;
      g_autoptr(GVariant) value = NULL;
      const char *name;
      MenuItem *item;
      int id;

      g_variant_get (parameters, "(i&s)", &id, &name);
      if ((item = lookup_item (self, id, invocation)) == NULL)
        return;
      props = g_variant_ref_sink (menu_item_properties (self, item, NULL));
      value = g_variant_lookup_value (props, name, NULL);
      if (value == NULL)
        g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                               G_DBUS_ERROR_INVALID_ARGS,
                                               "Menu item %d has no property “%s”", id, name);
      else
        g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", value));
    }
  else if (g_str_equal (method_name, "Event"))
    {
      g_autofree char *event_id = NULL;
      int id;

      g_variant_get (parameters, "(isvu)", &id, &event_id, NULL, NULL);
      if (lookup_item (self, id, invocation) == NULL)
        return;
      /* Reply first: the action may quit the application. */
      g_dbus_method_invocation_return_value (invocation, NULL);
      menu_event (self, id, event_id);
    }
  else if (g_str_equal (method_name, "EventGroup"))
    {
      g_autoptr(GVariantIter) events = NULL;
      g_autoptr(GArray) valid = g_array_new (FALSE, FALSE, sizeof (int));
      g_autoptr(GPtrArray) event_ids = g_ptr_array_new_with_free_func (g_free);
      GVariantBuilder errors;
      const char *event_id;
      gsize n_events;
      int id;

      g_variant_get (parameters, "(a(isvu))", &events);
      n_events = g_variant_iter_n_children (events);
      g_variant_builder_init (&errors, G_VARIANT_TYPE ("ai"));
      while (g_variant_iter_next (events, "(i&svu)", &id, &event_id, NULL, NULL))
        {
          if (lookup_item (self, id, NULL) == NULL)
            {
              g_variant_builder_add (&errors, "i", id);
              continue;
            }
          g_array_append_val (valid, id);
          g_ptr_array_add (event_ids, g_strdup (event_id));
        }

      if (n_events > 0 && valid->len == 0)
        {
          g_variant_builder_clear (&errors);
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                                 G_DBUS_ERROR_INVALID_ARGS,
                                                 "None of the menu items exist: call GetLayout "
                                                 "again");
          return;
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ai)", &errors));
      for (guint i = 0; i < valid->len; i++)
        menu_event (self, g_array_index (valid, int, i), g_ptr_array_index (event_ids, i));
    }
  else if (g_str_equal (method_name, "AboutToShow"))
    {
      int id;

      /* The layout is always current: no update is ever needed before showing. */
      g_variant_get (parameters, "(i)", &id);
      if (lookup_item (self, id, invocation) == NULL)
        return;
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(b)", FALSE));
    }
  else if (g_str_equal (method_name, "AboutToShowGroup"))
    {
      g_autoptr(GVariant) ids = NULL;
      GVariantBuilder errors;
      const gint32 *id_values;
      gsize n_ids;

      g_variant_get (parameters, "(@ai)", &ids);
      id_values = g_variant_get_fixed_array (ids, &n_ids, sizeof (gint32));
      g_variant_builder_init (&errors, G_VARIANT_TYPE ("ai"));
      for (gsize i = 0; i < n_ids; i++)
        if (lookup_item (self, id_values[i], NULL) == NULL)
          g_variant_builder_add (&errors, "i", id_values[i]);
      /* The layout is always current: no item needs an update before showing. */
      g_dbus_method_invocation_return_value (
          invocation, g_variant_new ("(@aiai)", g_variant_new_array (G_VARIANT_TYPE_INT32, NULL, 0),
                                     &errors));
    }
  else
    g_assert_not_reached (); /* GDBus checks the method against the introspection data */
}

static GVariant *
menu_get_property (GDBusConnection *connection,
                   const char      *sender,
                   const char      *object_path,
                   const char      *interface_name,
                   const char      *property_name,
                   GError         **error,
                   gpointer         user_data)
{
  AssayTray *self = user_data;

  if (g_str_equal (property_name, "Version"))
    return g_variant_new_uint32 (DBUSMENU_VERSION);
  if (g_str_equal (property_name, "TextDirection"))
    return g_variant_new_string (text_direction ());
  if (g_str_equal (property_name, "Status"))
    return g_variant_new_string (self->status == ASSAY_TRAY_STATUS_NEEDS_ATTENTION ? "notice"
                                                                                    : "normal");
  if (g_str_equal (property_name, "IconThemePath"))
    return g_variant_new_strv (NULL, 0);

  g_assert_not_reached ();
}

static const GDBusInterfaceVTable menu_vtable = {
  .method_call = menu_method_call,
  .get_property = menu_get_property,
};

/* --- the StatusNotifierItem object ------------------------------------------------ */

static const char *
effective_title (AssayTray *self)
{
  if (self->title != NULL)
    return self->title;
  if (g_get_application_name () != NULL)
    return g_get_application_name ();
  return self->id;
}

static GVariant *
tooltip_value (AssayTray *self)
{
  return g_variant_new ("(s@a(iiay)ss)", self->icon_name ? self->icon_name : "",
                        g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0),
                        self->tooltip_title ? self->tooltip_title : effective_title (self),
                        self->tooltip_text ? self->tooltip_text : "");
}

static GVariant *
item_property_value (AssayTray  *self,
                     const char *name)
{
  if (g_str_equal (name, "Category"))
    return g_variant_new_string ("ApplicationStatus");
  if (g_str_equal (name, "Id"))
    return g_variant_new_string (self->id);
  if (g_str_equal (name, "Title"))
    return g_variant_new_string (effective_title (self));
  if (g_str_equal (name, "Status"))
    return g_variant_new_string (status_to_string (self->status));
  if (g_str_equal (name, "WindowId"))
    return g_variant_new_int32 (0);
  if (g_str_equal (name, "IconName"))
    return g_variant_new_string (self->icon_name ? self->icon_name : "");
  if (g_str_equal (name, "AttentionIconName"))
    return g_variant_new_string (self->attention_icon_name ? self->attention_icon_name : "");
  if (g_str_equal (name, "IconThemePath") || g_str_equal (name, "OverlayIconName")
      || g_str_equal (name, "AttentionMovieName"))
    return g_variant_new_string ("");
  if (g_str_has_suffix (name, "Pixmap"))
    return g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0);
  if (g_str_equal (name, "ToolTip"))
    return tooltip_value (self);
  if (g_str_equal (name, "ItemIsMenu"))
    return g_variant_new_boolean (FALSE);
  if (g_str_equal (name, "Menu"))
    return g_variant_new_object_path (ASSAY_TRAY_MENU_PATH);

  g_assert_not_reached ();
}

static GVariant *
item_get_property (GDBusConnection *connection,
                   const char      *sender,
                   const char      *object_path,
                   const char      *interface_name,
                   const char      *property_name,
                   GError         **error,
                   gpointer         user_data)
{
  return item_property_value (user_data, property_name);
}

static void
item_method_call (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *object_path,
                  const char            *interface_name,
                  const char            *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  AssayTray *self = user_data;

  /* ContextMenu, SecondaryActivate and Scroll have nothing to do: hosts show the
   * dbusmenu themselves, and middle click or scrolling mean nothing here. */
  g_dbus_method_invocation_return_value (invocation, NULL);

  if (g_str_equal (method_name, "Activate") && self->activate_action != NULL)
    activate_detailed_action (self, self->activate_action);
}

static const GDBusInterfaceVTable item_vtable = {
  .method_call = item_method_call,
  .get_property = item_get_property,
};

/* Tells hosts that @property changed: the item's own New* signal (what KDE and the
 * GNOME AppIndicator extension follow) and PropertiesChanged (for GDBusProxy users). */
static void
emit_item_changed (AssayTray  *self,
                   const char *property,
                   const char *signal)
{
  GVariantBuilder changed;

  if (self->connection == NULL || self->item_registration == 0)
    return;

  if (g_str_equal (signal, "NewStatus"))
    g_dbus_connection_emit_signal (self->connection, NULL, ASSAY_TRAY_ITEM_PATH, ITEM_IFACE,
                                   signal,
                                   g_variant_new ("(s)", status_to_string (self->status)),
                                   NULL);
  else
    g_dbus_connection_emit_signal (self->connection, NULL, ASSAY_TRAY_ITEM_PATH, ITEM_IFACE,
                                   signal, NULL, NULL);

  g_variant_builder_init (&changed, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&changed, "{sv}", property, item_property_value (self, property));
  g_dbus_connection_emit_signal (self->connection, NULL, ASSAY_TRAY_ITEM_PATH, PROPS_IFACE,
                                 "PropertiesChanged",
                                 g_variant_new ("(sa{sv}@as)", ITEM_IFACE, &changed,
                                                g_variant_new_strv (NULL, 0)),
                                 NULL);
}

static void
emit_menu_status_changed (AssayTray *self)
{
  GVariantBuilder changed;

  if (self->connection == NULL || self->menu_registration == 0)
    return;

  g_variant_builder_init (&changed, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&changed, "{sv}", "Status",
                         menu_get_property (NULL, NULL, NULL, NULL, "Status", NULL, self));
  g_dbus_connection_emit_signal (self->connection, NULL, ASSAY_TRAY_MENU_PATH, PROPS_IFACE,
                                 "PropertiesChanged",
                                 g_variant_new ("(sa{sv}@as)", MENU_IFACE, &changed,
                                                g_variant_new_strv (NULL, 0)),
                                 NULL);
}

/* --- registration with the watcher ------------------------------------------------ */

static void
set_registered (AssayTray *self,
                gboolean   registered)
{
  if (self->registered == registered)
    return;
  self->registered = registered;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGISTERED]);
}

static void
register_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  AssayTray *self;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* the watcher went away, or the tray was disposed */

  self = ASSAY_TRAY (user_data);
  g_clear_object (&self->register_cancellable);
  if (error != NULL)
    {
      /* The watcher is there but refused: a host problem, not ours to warn about. */
      g_debug ("The StatusNotifierWatcher did not register the tray item: %s", error->message);
      set_registered (self, FALSE);
      return;
    }

  g_debug ("Tray item registered as %s", g_dbus_connection_get_unique_name (self->connection));
  set_registered (self, TRUE);
}

static void
watcher_appeared_cb (GDBusConnection *connection,
                     const char      *name,
                     const char      *name_owner,
                     gpointer         user_data)
{
  AssayTray *self = user_data;

  g_cancellable_cancel (self->register_cancellable);
  g_clear_object (&self->register_cancellable);
  self->register_cancellable = g_cancellable_new ();

  g_dbus_connection_call (connection, name_owner, WATCHER_PATH, WATCHER_NAME,
                          "RegisterStatusNotifierItem",
                          g_variant_new ("(s)", g_dbus_connection_get_unique_name (connection)),
                          NULL, G_DBUS_CALL_FLAGS_NONE, -1, self->register_cancellable,
                          register_cb, self);
}

static void
watcher_vanished_cb (GDBusConnection *connection,
                     const char      *name,
                     gpointer         user_data)
{
  AssayTray *self = user_data;

  /* No watcher (plain GNOME, or the shell restarting): nothing to show the icon, which
   * is normal; the item stays exported and registers when a watcher appears. */
  g_debug ("No StatusNotifierWatcher on the bus: the tray icon is not shown");
  g_cancellable_cancel (self->register_cancellable);
  g_clear_object (&self->register_cancellable);
  set_registered (self, FALSE);
}

/* --- GObject ---------------------------------------------------------------------- */

static void
assay_tray_constructed (GObject *object)
{
  AssayTray *self = ASSAY_TRAY (object);
  GDBusNodeInfo *info = get_node_info ();
  g_autoptr(GError) error = NULL;

  G_OBJECT_CLASS (assay_tray_parent_class)->constructed (object);

  g_assert (G_IS_DBUS_CONNECTION (self->connection));
  g_assert (self->id != NULL);

  self->context = g_main_context_ref_thread_default ();
  rebuild_menu (self);

  if (self->actions != NULL)
    {
      g_signal_connect (self->actions, "action-added",
                        G_CALLBACK (action_added_or_removed_cb), self);
      g_signal_connect (self->actions, "action-removed",
                        G_CALLBACK (action_added_or_removed_cb), self);
      g_signal_connect (self->actions, "action-enabled-changed",
                        G_CALLBACK (action_enabled_changed_cb), self);
      g_signal_connect (self->actions, "action-state-changed",
                        G_CALLBACK (action_state_changed_cb), self);
    }

  /* Failing to export means another object already sits at the path on this
   * connection: a programming error (two trays on one connection). */
  self->item_registration =
      g_dbus_connection_register_object (self->connection, ASSAY_TRAY_ITEM_PATH,
                                         g_dbus_node_info_lookup_interface (info, ITEM_IFACE),
                                         &item_vtable, self, NULL, &error);
  if (self->item_registration == 0)
    {
      g_critical ("Cannot export the tray item at %s: %s", ASSAY_TRAY_ITEM_PATH, error->message);
      return;
    }
  self->menu_registration =
      g_dbus_connection_register_object (self->connection, ASSAY_TRAY_MENU_PATH,
                                         g_dbus_node_info_lookup_interface (info, MENU_IFACE),
                                         &menu_vtable, self, NULL, &error);
  if (self->menu_registration == 0)
    {
      g_critical ("Cannot export the tray menu at %s: %s", ASSAY_TRAY_MENU_PATH, error->message);
      return;
    }

  self->watch_id = g_bus_watch_name_on_connection (self->connection, WATCHER_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   watcher_appeared_cb, watcher_vanished_cb,
                                                   self, NULL);
}

static void
assay_tray_dispose (GObject *object)
{
  AssayTray *self = ASSAY_TRAY (object);

  g_cancellable_cancel (self->register_cancellable);
  g_clear_object (&self->register_cancellable);
  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  if (self->item_registration != 0)
    g_dbus_connection_unregister_object (self->connection, self->item_registration);
  if (self->menu_registration != 0)
    g_dbus_connection_unregister_object (self->connection, self->menu_registration);
  self->item_registration = 0;
  self->menu_registration = 0;

  if (self->rebuild_source != NULL)
    {
      g_source_destroy (self->rebuild_source);
      g_clear_pointer (&self->rebuild_source, g_source_unref);
    }
  unwatch_models (self);
  if (self->actions != NULL)
    g_signal_handlers_disconnect_by_data (self->actions, self);

  g_clear_object (&self->menu);
  g_clear_object (&self->actions);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (assay_tray_parent_class)->dispose (object);
}

static void
assay_tray_finalize (GObject *object)
{
  AssayTray *self = ASSAY_TRAY (object);

  g_clear_pointer (&self->root, menu_item_free);
  g_clear_pointer (&self->items, g_hash_table_unref);
  g_clear_pointer (&self->watched_models, g_ptr_array_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->id);
  g_free (self->title);
  g_free (self->icon_name);
  g_free (self->attention_icon_name);
  g_free (self->tooltip_title);
  g_free (self->tooltip_text);
  g_free (self->activate_action);

  G_OBJECT_CLASS (assay_tray_parent_class)->finalize (object);
}

static void
assay_tray_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  AssayTray *self = ASSAY_TRAY (object);

  switch (prop_id)
    {
    case PROP_CONNECTION:
      g_value_set_object (value, self->connection);
      break;
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_MENU:
      g_value_set_object (value, self->menu);
      break;
    case PROP_ACTIONS:
      g_value_set_object (value, self->actions);
      break;
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_ICON_NAME:
      g_value_set_string (value, self->icon_name);
      break;
    case PROP_ATTENTION_ICON_NAME:
      g_value_set_string (value, self->attention_icon_name);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_TOOLTIP_TITLE:
      g_value_set_string (value, self->tooltip_title);
      break;
    case PROP_TOOLTIP_TEXT:
      g_value_set_string (value, self->tooltip_text);
      break;
    case PROP_ACTIVATE_ACTION:
      g_value_set_string (value, self->activate_action);
      break;
    case PROP_REGISTERED:
      g_value_set_boolean (value, self->registered);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_tray_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  AssayTray *self = ASSAY_TRAY (object);

  switch (prop_id)
    {
    case PROP_CONNECTION:
      self->connection = g_value_dup_object (value);
      break;
    case PROP_ID:
      self->id = g_value_dup_string (value);
      break;
    case PROP_MENU:
      self->menu = g_value_dup_object (value);
      break;
    case PROP_ACTIONS:
      self->actions = g_value_dup_object (value);
      break;
    case PROP_TITLE:
      assay_tray_set_title (self, g_value_get_string (value));
      break;
    case PROP_ICON_NAME:
      assay_tray_set_icon_name (self, g_value_get_string (value));
      break;
    case PROP_ATTENTION_ICON_NAME:
      assay_tray_set_attention_icon_name (self, g_value_get_string (value));
      break;
    case PROP_STATUS:
      assay_tray_set_status (self, g_value_get_enum (value));
      break;
    case PROP_TOOLTIP_TITLE:
      assay_tray_set_tooltip (self, g_value_get_string (value), self->tooltip_text);
      break;
    case PROP_TOOLTIP_TEXT:
      assay_tray_set_tooltip (self, self->tooltip_title, g_value_get_string (value));
      break;
    case PROP_ACTIVATE_ACTION:
      assay_tray_set_activate_action (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_tray_class_init (AssayTrayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags construct = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY
                                | G_PARAM_STATIC_STRINGS;

  object_class->constructed = assay_tray_constructed;
  object_class->dispose = assay_tray_dispose;
  object_class->finalize = assay_tray_finalize;
  object_class->get_property = assay_tray_get_property;
  object_class->set_property = assay_tray_set_property;

  properties[PROP_CONNECTION] =
      g_param_spec_object ("connection", NULL, NULL, G_TYPE_DBUS_CONNECTION, construct);
  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, construct);
  properties[PROP_MENU] = g_param_spec_object ("menu", NULL, NULL, G_TYPE_MENU_MODEL, construct);
  properties[PROP_ACTIONS] =
      g_param_spec_object ("actions", NULL, NULL, G_TYPE_ACTION_GROUP, construct);
  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL, rw);
  properties[PROP_ICON_NAME] = g_param_spec_string ("icon-name", NULL, NULL, NULL, rw);
  properties[PROP_ATTENTION_ICON_NAME] =
      g_param_spec_string ("attention-icon-name", NULL, NULL, NULL, rw);
  properties[PROP_STATUS] =
      g_param_spec_enum ("status", NULL, NULL, ASSAY_TYPE_TRAY_STATUS, ASSAY_TRAY_STATUS_ACTIVE,
                         rw);
  properties[PROP_TOOLTIP_TITLE] = g_param_spec_string ("tooltip-title", NULL, NULL, NULL, rw);
  properties[PROP_TOOLTIP_TEXT] = g_param_spec_string ("tooltip-text", NULL, NULL, NULL, rw);
  properties[PROP_ACTIVATE_ACTION] =
      g_param_spec_string ("activate-action", NULL, NULL, NULL, rw);
  properties[PROP_REGISTERED] =
      g_param_spec_boolean ("registered", NULL, NULL, FALSE,
                            G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
assay_tray_init (AssayTray *self)
{
  self->status = ASSAY_TRAY_STATUS_ACTIVE;
  self->next_id = 1;
  self->items = g_hash_table_new (NULL, NULL);
  self->watched_models = g_ptr_array_new_with_free_func (g_object_unref);
}

/* --- public API ------------------------------------------------------------------- */

/**
 * assay_tray_new:
 * @connection: the session bus connection to export on (its unique name is registered)
 * @id: the item's Id, e.g. the application id
 * @menu: (nullable): the menu's model, items with "action" (and "target") attributes
 * @actions: (nullable): where the menu's actions are looked up, "app." prefix removed
 *
 * Exports the item and its menu, and registers with a StatusNotifierWatcher whenever
 * one is on the bus.
 */
AssayTray *
assay_tray_new (GDBusConnection *connection,
                const char      *id,
                GMenuModel      *menu,
                GActionGroup    *actions)
{
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (menu == NULL || G_IS_MENU_MODEL (menu), NULL);
  g_return_val_if_fail (actions == NULL || G_IS_ACTION_GROUP (actions), NULL);

  return g_object_new (ASSAY_TYPE_TRAY, "connection", connection, "id", id, "menu", menu,
                       "actions", actions, NULL);
}

GDBusConnection *
assay_tray_get_connection (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), NULL);
  return self->connection;
}

const char *
assay_tray_get_id (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), NULL);
  return self->id;
}

const char *
assay_tray_get_title (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), NULL);
  return self->title;
}

void
assay_tray_set_title (AssayTray  *self,
                      const char *title)
{
  g_return_if_fail (ASSAY_IS_TRAY (self));

  if (!set_str (&self->title, title))
    return;
  emit_item_changed (self, "Title", "NewTitle");
  if (self->tooltip_title == NULL)
    emit_item_changed (self, "ToolTip", "NewToolTip");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
}

const char *
assay_tray_get_icon_name (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), NULL);
  return self->icon_name;
}

void
assay_tray_set_icon_name (AssayTray  *self,
                          const char *icon_name)
{
  g_return_if_fail (ASSAY_IS_TRAY (self));

  if (!set_str (&self->icon_name, icon_name))
    return;
  emit_item_changed (self, "IconName", "NewIcon");
  emit_item_changed (self, "ToolTip", "NewToolTip");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ICON_NAME]);
}

const char *
assay_tray_get_attention_icon_name (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), NULL);
  return self->attention_icon_name;
}

void
assay_tray_set_attention_icon_name (AssayTray  *self,
                                    const char *icon_name)
{
  g_return_if_fail (ASSAY_IS_TRAY (self));

  if (!set_str (&self->attention_icon_name, icon_name))
    return;
  emit_item_changed (self, "AttentionIconName", "NewAttentionIcon");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTENTION_ICON_NAME]);
}

AssayTrayStatus
assay_tray_get_status (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), ASSAY_TRAY_STATUS_ACTIVE);
  return self->status;
}

void
assay_tray_set_status (AssayTray       *self,
                       AssayTrayStatus  status)
{
  g_return_if_fail (ASSAY_IS_TRAY (self));
  g_return_if_fail (status <= ASSAY_TRAY_STATUS_NEEDS_ATTENTION);

  if (self->status == status)
    return;
  self->status = status;
  emit_item_changed (self, "Status", "NewStatus");
  emit_menu_status_changed (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

const char *
assay_tray_get_tooltip_title (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), NULL);
  return self->tooltip_title;
}

const char *
assay_tray_get_tooltip_text (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), NULL);
  return self->tooltip_text;
}

/**
 * assay_tray_set_tooltip:
 * @title: (nullable): the tooltip's title; NULL shows the item's title
 * @text: (nullable): the tooltip's body, e.g. "3 of 7 files, 120 of 300 MB"
 *
 * Sets both parts at once, so hosts see one NewToolTip.
 */
void
assay_tray_set_tooltip (AssayTray  *self,
                        const char *title,
                        const char *text)
{
  g_autofree char *new_title = g_strdup (title);
  g_autofree char *new_text = g_strdup (text);
  gboolean title_changed, text_changed;

  g_return_if_fail (ASSAY_IS_TRAY (self));

  /* Copies first: @title may be self->tooltip_title itself (from set_property). */
  title_changed = set_str (&self->tooltip_title, new_title);
  text_changed = set_str (&self->tooltip_text, new_text);
  if (!title_changed && !text_changed)
    return;

  emit_item_changed (self, "ToolTip", "NewToolTip");
  g_object_freeze_notify (G_OBJECT (self));
  if (title_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP_TITLE]);
  if (text_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP_TEXT]);
  g_object_thaw_notify (G_OBJECT (self));
}

const char *
assay_tray_get_activate_action (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), NULL);
  return self->activate_action;
}

static gboolean
is_detailed_action_name (const char *detailed_action)
{
  g_autofree char *name = NULL;
  g_autoptr(GVariant) target = NULL;

  return g_action_parse_detailed_name (detailed_action, &name, &target, NULL);
}

/**
 * assay_tray_set_activate_action:
 * @detailed_action: (nullable): e.g. "app.show", activated by a primary click
 */
void
assay_tray_set_activate_action (AssayTray  *self,
                                const char *detailed_action)
{
  g_return_if_fail (ASSAY_IS_TRAY (self));
  g_return_if_fail (detailed_action == NULL || is_detailed_action_name (detailed_action));

  if (set_str (&self->activate_action, detailed_action))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVATE_ACTION]);
}

/**
 * assay_tray_get_registered:
 *
 * Whether a StatusNotifierWatcher accepted the item: FALSE where none runs (e.g. GNOME
 * without the AppIndicator extension), which is not an error.
 */
gboolean
assay_tray_get_registered (AssayTray *self)
{
  g_return_val_if_fail (ASSAY_IS_TRAY (self), FALSE);
  return self->registered;
}
