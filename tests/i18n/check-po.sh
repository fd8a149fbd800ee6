#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Every language in po/LINGUAS has a .po file that `msgfmt --check` accepts, with no
# untranslated and no fuzzy message: both as it is, and merged with a template made now
# from the sources (so a new string that is not translated yet fails too).
# Usage: check-po.sh SOURCE_ROOT
set -eu

root=$1
cd "$root/po"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/assay-po.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# the arguments of meson's i18n.gettext(preset: 'glib') (po/meson.build)
xgettext --package-name=assay --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 --keyword=g_dcgettext:2 \
  --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
  --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
  --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
  --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
  --flag=g_markup_printf_escaped:1:c-format --flag=g_log:3:c-format \
  --flag=g_print:1:c-format --flag=g_printerr:1:c-format --flag=g_printf:1:c-format \
  --flag=g_fprintf:2:c-format --flag=g_sprintf:2:c-format --flag=g_snprintf:3:c-format \
  -D "$root" --files-from=POTFILES.in -o "$tmp/assay.pot"

status=0
check () {  # FILE LABEL
  if ! msgfmt --check --statistics -o /dev/null "$1" 2>"$tmp/stats"; then
    cat "$tmp/stats"
    echo "FAIL $2: msgfmt --check"
    status=1
    return
  fi
  echo "$2: $(cat "$tmp/stats")"
  if grep -qE 'untranslated|fuzzy' "$tmp/stats"; then
    echo "FAIL $2: not complete"
    status=1
  fi
}

langs=$(sed -e 's/#.*//' LINGUAS)
[ -n "$langs" ] || { echo "po/LINGUAS lists no language"; exit 1; }
for lang in $langs; do
  if [ ! -f "$lang.po" ]; then
    echo "FAIL $lang: po/LINGUAS lists it but po/$lang.po is missing"
    status=1
    continue
  fi
  check "$lang.po" "$lang.po"
  msgmerge --quiet --previous -o "$tmp/$lang.po" "$lang.po" "$tmp/assay.pot"
  check "$tmp/$lang.po" "$lang.po merged with the sources' strings"
  if [ $status -ne 0 ]; then
    echo "  update it: meson compile -C BUILDDIR assay-update-po, then translate"
    # the messages to translate (after the header)
    { msgattrib --untranslated --no-wrap "$tmp/$lang.po"; msgattrib --only-fuzzy --no-wrap "$tmp/$lang.po"; } \
      2>/dev/null | grep -E '^(#:|#\||msgid )' | grep -v '^msgid ""$' | head -80 || true
  fi
done
exit $status
