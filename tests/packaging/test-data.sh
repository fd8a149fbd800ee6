#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Checks what the desktop app and the worker service ship, with the tools their formats
# come with: the desktop file (desktop-file-validate), the AppStream metainfo
# (appstreamcli validate --no-net), the GSettings schema (glib-compile-schemas --strict
# --dry-run), the icons, the Flatpak manifest (flatpak-builder --show-manifest, and its
# permissions against docs/packaging.md) and the systemd units (systemd-analyze verify and
# security, with the built assay-worker in place of the installed one).
#
#   test-data.sh SRCDIR DESKTOP_FILE METAINFO_FILE ASSAY_WORKER       (TAP on stdout)
set -uo pipefail

src=$1
desktop=$2
metainfo=$3
worker=$4
app_id=io.github.assay.Assay

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# run DESCRIPTION COMMAND…: passes when the command exits 0 and prints nothing on stderr
run() {
  local what=$1 status; shift
  "$@" >"$tmp/run.out" 2>"$tmp/run.err"; status=$?
  if [ $status -eq 0 ] && [ ! -s "$tmp/run.err" ]; then ok "$what"
  else
    mapfile -t lines < <(cat "$tmp/run.err"; tail -20 "$tmp/run.out")
    not_ok "$what" "exit status $status" "${lines[@]}"
  fi
}
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the desktop file ----
run "desktop-file-validate $(basename "$desktop")" desktop-file-validate "$desktop"
key() { sed -n "s/^$1=//p" "$desktop" | head -1; }
check "the desktop file runs assay and names the app's icon" \
  test "$(key Exec)" = assay -a "$(key Icon)" = "$app_id"

# ---- the icons ----
icons=$src/data/icons/hicolor
check "the scalable icon and the symbolic icon exist" \
  test -f "$icons/scalable/apps/$app_id.svg" -a -f "$icons/symbolic/apps/$app_id-symbolic.svg"
svg_problems=$(python3 - "$icons" 2>&1 <<'PY'
import os, sys, xml.etree.ElementTree as ET
root = sys.argv[1]
for dirpath, _, names in os.walk(root):
    for name in sorted(names):
        path = os.path.join(dirpath, name)
        try:
            svg = ET.parse(path).getroot()
        except ET.ParseError as e:
            print(f"{name}: {e}"); continue
        if svg.tag != "{http://www.w3.org/2000/svg}svg":
            print(f"{name}: not an SVG document")
        box = svg.get("viewBox", "").split()
        symbolic = name.endswith("-symbolic.svg")
        if symbolic and (box != ["0", "0", "16", "16"] or "/symbolic/" not in path):
            print(f"{name}: a symbolic icon is 16x16 in symbolic/apps")
        if not symbolic and (box != ["0", "0", "128", "128"] or "/scalable/" not in path):
            print(f"{name}: the app icon is 128x128 in scalable/apps")
        if symbolic:
            colours = {e.get("fill") for e in svg.iter() if e.get("fill")}
            if colours - {"#2e3436", "none", "currentColor"}:
                print(f"{name}: a symbolic icon uses one colour, not {sorted(colours)}")
        if any(e.tag.endswith("image") or e.tag.endswith("script") for e in svg.iter()):
            print(f"{name}: embeds an image or a script")
PY
)
if [ -z "$svg_problems" ]; then ok "every icon is a clean SVG of its size"
else mapfile -t lines <<<"$svg_problems"; not_ok "every icon is a clean SVG of its size" "${lines[@]}"; fi

# ---- the metainfo ----
run "appstreamcli validate --no-net $(basename "$metainfo")" \
  appstreamcli validate --no-net --no-color "$metainfo"
meta_problems=$(python3 - "$metainfo" "$src" "$app_id" 2>&1 <<'PY'
import os, sys, xml.etree.ElementTree as ET
path, src, app_id = sys.argv[1:]
c = ET.parse(path).getroot()
if c.findtext("id") != app_id:
    print(f"id is {c.findtext('id')}, not {app_id}")
if c.find("launchable").text != app_id + ".desktop":
    print("the launchable is not the desktop file")
if c.find("content_rating") is None or not c.find("content_rating").get("type", "").startswith("oars-"):
    print("no OARS content rating")
releases = [r.get("version") for r in c.iter("release")]
if "0.1.0" not in releases:
    print(f"no release 0.1.0: {releases}")
shots = [i.text for i in c.iter("image")]
names = sorted(os.path.basename(s) for s in shots)
if names != ["empty-state.png", "job-progress.png", "result.png"]:
    print(f"screenshots {names}")
for s in shots:
    if "/docs/screenshots/" not in s:
        print(f"{s} is not in docs/screenshots/")
PY
)
if [ -z "$meta_problems" ]; then ok "the metainfo names the app, its screenshots, 0.1.0 and an OARS rating"
else mapfile -t lines <<<"$meta_problems"; not_ok "the metainfo names the app, its screenshots, 0.1.0 and an OARS rating" "${lines[@]}"; fi
# the app's own screenshots (made by tests/gui); until the folder exists, skipped
if [ -d "$src/docs/screenshots" ]; then
  missing=()
  for shot in $(grep -o 'docs/screenshots/[a-z-]*\.png' "$metainfo"); do
    [ -s "$src/$shot" ] || missing+=("$shot")
  done
  if [ ${#missing[@]} -eq 0 ]; then ok "the metainfo's screenshots are in docs/screenshots"
  else not_ok "the metainfo's screenshots are in docs/screenshots" "missing: ${missing[*]}"; fi
else
  skip "the metainfo's screenshots are in docs/screenshots" "docs/screenshots/ does not exist yet"
fi

# ---- the GSettings schema ----
if ls "$src"/data/*.gschema.xml >/dev/null 2>&1; then
  run "glib-compile-schemas --strict --dry-run data/" \
    glib-compile-schemas --strict --dry-run "$src/data"
else
  skip "glib-compile-schemas --strict --dry-run data/" "no schema in data/ yet"
fi

# ---- the Flatpak manifest ----
manifest=$src/flatpak/$app_id.json
# flatpak-builder keeps a state directory in the current one: a temporary one here
run "flatpak-builder --show-manifest" \
  bash -c 'cd "$1" && flatpak-builder --show-manifest "$2"' _ "$tmp" "$manifest"
flatpak_problems=$(python3 - "$manifest" "$src/docs/packaging.md" 2>&1 <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
doc = open(sys.argv[2]).read()
if (m.get("runtime"), m.get("runtime-version"), m.get("sdk")) != ("org.gnome.Platform", "43", "org.gnome.Sdk"):
    print("not the GNOME 43 runtime and SDK")
if m.get("command") != "assay":
    print("the command is not assay")
expected = ["--share=network", "--share=ipc", "--socket=wayland", "--socket=fallback-x11",
            "--device=dri", "--talk-name=org.kde.StatusNotifierWatcher",
            "--filesystem=xdg-download/Assay:create"]
args = m.get("finish-args", [])
if sorted(args) != sorted(expected):
    print(f"finish-args {args}, not the justified {expected}")
for a in args:
    if a not in doc:
        print(f"{a} is not explained in docs/packaging.md")
    if a.startswith("--filesystem=") and a.split("=", 1)[1].split(":")[0] in ("home", "host", "host-os", "~"):
        print(f"{a}: the whole home or host")
    if a in ("--socket=x11", "--socket=session-bus", "--socket=system-bus") or a.startswith("--talk-name=org.freedesktop.secrets"):
        print(f"{a}: more than the app needs")
names = [mod["name"] if isinstance(mod, dict) else mod for mod in m.get("modules", [])]
for needed in ("clamav", "libmagic", "libportal"):
    if needed not in names:
        print(f"no module {needed}")
last = m["modules"][-1]
if last.get("name") != "assay" or last.get("buildsystem") != "meson" or last["sources"][0].get("type") != "dir":
    print("the last module does not build this tree with meson")
for mod in m["modules"]:
    for s in mod.get("sources", []):
        if s.get("type") == "archive" and not s.get("sha256"):
            print(f"{mod['name']}: an archive without sha256")
        if s.get("type") == "git" and not (s.get("tag") or s.get("commit")):
            print(f"{mod['name']}: a git source without tag or commit")
PY
)
if [ -z "$flatpak_problems" ]; then ok "the manifest's runtime, modules and finish-args are the documented ones"
else mapfile -t lines <<<"$flatpak_problems"; not_ok "the manifest's runtime, modules and finish-args are the documented ones" "${lines[@]}"; fi

# ---- the systemd units ----
units=$tmp/units
mkdir -p "$units"
for f in "$src"/worker/systemd/*.service.in; do
  sed -e "s|@bindir@|$(dirname "$(readlink -f "$worker")")|g" \
      -e "s|@pkgdatadir@|$src/worker/systemd|g" -e "s|@docdir@|$src/docs|g" \
      "$f" > "$units/$(basename "$f" .in)"
done
cp "$src"/worker/systemd/*.timer "$units/"
run "systemd-analyze verify the units" \
  bash -c 'cd "$1" && systemd-analyze verify --man=no ./*.service ./*.timer' _ "$units"
for timer in "$units"/*.timer; do
  check "$(basename "$timer") has its service" test -f "${timer%.timer}.service"
done
service=$units/assay-worker.service
missing=()
for directive in 'DynamicUser=yes' 'ProtectSystem=strict' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
                 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'StateDirectory=assay-worker' \
                 'CapabilityBoundingSet=' 'ProtectHome=yes' \
                 'Environment=ASSAY_WORKER_WORK_DIR=%S/assay-worker/work'; do
  grep -q -x -F "$directive" "$service" || missing+=("$directive")
done
if [ ${#missing[@]} -eq 0 ]; then ok "assay-worker.service is hardened"
else not_ok "assay-worker.service is hardened" "missing: ${missing[@]}"; fi
exposure=$(cd "$units" && systemd-analyze security --offline=yes --threshold=20 ./assay-worker.service 2>&1)
status=$?
level=$(grep -o 'Overall exposure level for assay-worker.service: [0-9.]*' <<<"$exposure" | awk '{print $NF}')
if [ $status -eq 0 ] && [ -n "$level" ]; then ok "systemd-analyze security: exposure $level (at most 2.0)"
else not_ok "systemd-analyze security: exposure ${level:-unknown}, more than 2.0"; fi

echo "1..$n"
exit $failed
