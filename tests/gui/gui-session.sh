#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a GUI test program inside `xvfb-run -a dbus-run-session --`, in a private home
# (XDG folders in a temporary directory, so no real keyring or settings are touched) with
# a Secret Service: gnome-keyring-daemon with a new, unlocked login keyring.
set -eu

tmp=$(mktemp -d "${TMPDIR:-/tmp}/assay-gui.XXXXXX")
mkdir -m 0700 "$tmp/run" "$tmp/data" "$tmp/config" "$tmp/cache" "$tmp/state"
export HOME="$tmp" XDG_RUNTIME_DIR="$tmp/run" XDG_DATA_HOME="$tmp/data"
export XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache" XDG_STATE_HOME="$tmp/state"

keyring_pid=
cleanup () {
  [ -n "$keyring_pid" ] && kill "$keyring_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# --unlock reads a password on stdin and creates the "login" keyring (the default
# collection) unlocked with it; an empty one would leave a prompt. In the foreground, so
# that this script knows its pid and stops it; without the tests' G_DEBUG and
# MALLOC_PERTURB_: the daemon is the environment, not what is tested.
printf 'assay-test' | env -u G_DEBUG -u MALLOC_PERTURB_ \
  gnome-keyring-daemon --foreground --unlock --components=secrets >"$tmp/keyring.log" 2>&1 &
keyring_pid=$!
export GNOME_KEYRING_CONTROL="$XDG_RUNTIME_DIR/keyring"
i=0
until gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
      --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null | grep -q true; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then
    echo "gui-session: gnome-keyring-daemon did not start:" >&2
    cat "$tmp/keyring.log" >&2
    exit 1
  fi
  sleep 0.1
done

status=0
"$@" || status=$?
exit $status
