#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# po/POTFILES.in lists every file of app/ and data/ with a translatable string (_(), N_(),
# C_(), NC_(), g_dngettext(), translatable="yes", and the desktop file, metainfo and
# GSettings schema), and no file that does not exist. A file that matches but holds
# nothing to translate is listed in po/POTFILES.skip.
# Usage: check-potfiles.sh SOURCE_ROOT
set -eu

root=$1
cd "$root"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/assay-potfiles.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

listed () {
  sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1"
}
listed po/POTFILES.in | sort -u >"$tmp/listed"
listed po/POTFILES.skip | sort -u >"$tmp/skipped"
cat "$tmp/listed" "$tmp/skipped" | sort -u >"$tmp/known"

# the files that need to be listed
{
  grep -rlIE '(^|[^A-Za-z0-9_])(N|C|NC)?_ ?\( *"|translatable="yes"|g_dngettext ?\(' \
       --include='*.c' --include='*.h' --include='*.ui' --include='*.xml' --include='*.in' \
       app data || true
  find data -name '*.desktop.in' -o -name '*.metainfo.xml.in' -o -name '*.gschema.xml'
} | sed 's|^\./||' | sort -u >"$tmp/needed"

status=0
missing=$(comm -23 "$tmp/needed" "$tmp/known")
if [ -n "$missing" ]; then
  echo "not in po/POTFILES.in (add them, or to po/POTFILES.skip if they hold nothing to translate):"
  echo "$missing" | sed 's/^/  /'
  status=1
fi
for f in $(cat "$tmp/known"); do
  if [ ! -f "$f" ]; then
    echo "listed in po/POTFILES.in or po/POTFILES.skip but missing: $f"
    status=1
  fi
done
both=$(comm -12 "$tmp/listed" "$tmp/skipped")
if [ -n "$both" ]; then
  echo "in both po/POTFILES.in and po/POTFILES.skip: $both"
  status=1
fi
[ $status -eq 0 ] && echo "po/POTFILES.in: $(wc -l <"$tmp/listed") files; all $(wc -l <"$tmp/needed") with strings listed or skipped"
exit $status
