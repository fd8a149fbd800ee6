# SPDX-License-Identifier: GPL-3.0-or-later
'''A python3-dbusmock template: org.kde.StatusNotifierWatcher as KDE's and the GNOME
AppIndicator extension's watchers behave for an item. The test reads
RegisteredStatusNotifierItems and GetCalls (org.freedesktop.DBus.Mock) to see who registered.

Run: python3 -m dbusmock --session --template tests/tray/sni-watcher.py
'''

import dbus

BUS_NAME = 'org.kde.StatusNotifierWatcher'
MAIN_OBJ = '/StatusNotifierWatcher'
MAIN_IFACE = 'org.kde.StatusNotifierWatcher'
SYSTEM_BUS = False


def load(mock, parameters):
    mock.AddProperties(MAIN_IFACE, {
        'RegisteredStatusNotifierItems': dbus.Array([], signature='s'),
        'IsStatusNotifierHostRegistered': dbus.Boolean(True),
        'ProtocolVersion': dbus.Int32(0),
    })
    mock.AddMethods(MAIN_IFACE, [
        # An item registers with its bus name (unique or well-known) or an object path.
        ('RegisterStatusNotifierItem', 's', '',
         'items = self.props[IFACE]["RegisteredStatusNotifierItems"]\n'
         'if args[0] not in items:\n'
         '    items.append(args[0])\n'
         'self.EmitSignal(IFACE, "StatusNotifierItemRegistered", "s", [args[0]])'
         .replace('IFACE', repr(MAIN_IFACE))),
        ('RegisterStatusNotifierHost', 's', '', ''),
    ])
