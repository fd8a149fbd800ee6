#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs "$@" as the desktop tests need it: in a private X server (xvfb-run), a private
# D-Bus session, and a new, unlocked GNOME Keyring (the Secret Service libsecret talks
# to), with HOME's XDG folders in a temporary directory so nothing of the user's is read
# or written (their keyring, their ~/.config/autostart).
set -eu

if [ -z "${ASSAY_TEST_SESSION:-}" ]; then
  export ASSAY_TEST_SESSION=1
  exec xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/assay-gui-test.XXXXXX")
keyring_pid=
cleanup () {
  if [ -n "$keyring_pid" ]; then kill "$keyring_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

export HOME="$tmp" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"
export XDG_RUNTIME_DIR="$tmp/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

if [ -z "${ASSAY_TEST_NO_KEYRING:-}" ]; then
  # A password on stdin creates the "login" keyring (the default collection), unlocked.
  # Not with the tests' G_DEBUG=fatal-warnings (the daemon warns on a replaced item) nor
  # meson's MALLOC_PERTURB_: the daemon is the environment, not what is tested.
  printf 'assay-test' | env -u G_DEBUG -u MALLOC_PERTURB_ \
    gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$tmp/keyring.log" 2>&1 &
  keyring_pid=$!
  tries=0
  until gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
          --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null \
        | grep -q true; do
    tries=$((tries + 1))
    if [ "$tries" -gt 100 ] || ! kill -0 "$keyring_pid" 2>/dev/null; then
      echo "Bail out! gnome-keyring-daemon did not start:" >&2
      cat "$tmp/keyring.log" >&2
      exit 1
    fi
    sleep 0.1
  done
fi

"$@"
