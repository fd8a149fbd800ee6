#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Checks worker/Containerfile quickly (hadolint is not packaged for Debian 12): the lines
# that make it what docs/operations.md and docs/packaging.md say it is, and that its runtime
# stage installs the package of every shared library the built programs link directly.
# tests/packaging/test-container.py (suite slow) builds and runs the images with podman.
#
#   test-containerfile.sh CONTAINERFILE DOCKERIGNORE PROGRAM…        (TAP on stdout)
set -uo pipefail

containerfile=$1
ignore_file=$2
shift 2
programs=("$@")

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # check DESCRIPTION COMMAND…
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# The instructions, one a line: continuations joined, comments and blank lines dropped.
instructions=$(sed -e 's/^[[:space:]]*#.*$//' "$containerfile" \
  | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' \
  | sed -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e 's/ $//' \
  | grep -v '^$')
keyword() { grep -i "^$1\( \|$\)" <<<"$instructions"; }

# The stages by name: each stage's instructions, its FROM line first.
stage() { awk -v name="$1" 'toupper($1) == "FROM" { this = (tolower($NF) == name) } this' <<<"$instructions"; }
build=$(stage build)
runtime=$(stage runtime)
engine=$(stage engine)
defs=$(stage defs)
worker=$(stage worker)

first_from=$(grep -n -i '^FROM ' <<<"$instructions" | head -1 | cut -d: -f1)
arg_line=$(grep -n -x 'ARG BASE=debian:bookworm-slim' <<<"$instructions" | head -1 | cut -d: -f1)
check "ARG BASE=debian:bookworm-slim comes before the first FROM" \
  test -n "$arg_line" -a -n "$first_from" -a "${arg_line:-0}" -lt "${first_from:-0}"

froms=$(keyword FROM)
expected_froms='FROM ${BASE} AS build
FROM ${BASE} AS runtime
FROM runtime AS engine
FROM runtime AS defs
FROM runtime AS worker'
if [ "$froms" = "$expected_froms" ]; then
  ok "stages build and runtime on \${BASE}; engine, defs and worker (last: the default) on runtime"
else
  not_ok "stages build and runtime on \${BASE}; engine, defs and worker (last: the default) on runtime" \
    $(tr ' ' '_' <<<"$froms")
fi

check "the build stage builds assay-worker and assay-inspect with meson" \
  grep -q -E '^RUN .*meson setup .*meson compile .*assay-worker.*assay-inspect' <<<"$build"

# The packages a stage installs with apt-get.
installs() { grep -i '^RUN .*apt-get install' <<<"$1" | tr ' ' '\n' | grep -v '^-' \
             | grep -v -E '^(RUN|apt-get|update|install|&&|DEBIAN_FRONTEND=.*|rm|/var/lib/apt/lists/\*)$'; }
installed=$(installs "$runtime")
runtime_packages=(libglib2.0-0 libjson-glib-1.0-0 libsoup-3.0-0 libnettle8 libhogweed6
                  libgnutls30 liblzma5 libmagic1 libclamav12 libarchive13 ca-certificates)
missing=()
for p in "${runtime_packages[@]}"; do
  grep -q -x -F "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then ok "the runtime stage installs the runtime libraries"
else not_ok "the runtime stage installs the runtime libraries" "missing: ${missing[*]}"; fi
tools=$(installs "$runtime$engine$defs$worker" \
        | grep -E -- '-dev$|^(gcc|cc|meson|ninja-build|pkg-config|make|build-essential)$')
if [ -z "$tools" ]; then ok "no stage but build installs anything to build with"
else not_ok "no stage but build installs anything to build with" $tools; fi
check "the defs stage adds freshclam, and nothing else" \
  test "$(installs "$defs")" = clamav-freshclam

check "the worker stage copies assay-worker and assay-inspect from the build stage" \
  grep -q -E '^COPY --from=build .*/assay-worker .*/assay-inspect ' <<<"$worker"
check "the engine stage copies assay-inspect only" \
  test "$(grep -i '^COPY ' <<<"$engine")" = 'COPY --from=build /build/worker/assay-inspect /usr/local/bin/'

user_made=$(grep -E '^RUN .*useradd ' <<<"$runtime")
for name in engine defs worker; do
  user=$(grep -i '^USER ' <<<"$(stage $name)" | tail -1 | cut -d' ' -f2)
  check "the $name stage runs as a user of its own, not root" \
    test -n "$user" -a "${user%%:*}" != root -a "${user%%:*}" != 0
  check "that user is made in the runtime stage" grep -q -E " ${user%%:*}( |$)" <<<"$user_made"
done

check "HEALTHCHECK runs assay-worker health (exec form)" \
  grep -q -E '^HEALTHCHECK .*CMD \[ ?"assay-worker", ?"health" ?\]$' <<<"$worker"
check "no EXPOSE in the worker's stages: the worker listens on nothing" \
  test -z "$(grep -i '^EXPOSE' <<<"$runtime$worker$defs")"
check "ENTRYPOINT of the worker is assay-worker (exec form)" \
  test "$(grep -i '^ENTRYPOINT' <<<"$worker" | tail -1)" = 'ENTRYPOINT ["assay-worker"]'
check "the engine serves assay-inspect on the port it exposes" \
  test "$(grep -i '^ENTRYPOINT\|^EXPOSE' <<<"$engine" | tr '\n' '|')" = \
       'EXPOSE 8080|ENTRYPOINT ["assay-inspect", "--serve=0.0.0.0:8080"]|'

ignored() { grep -q -x -F 'build*' "$ignore_file" && grep -q -x -F 'tests/node_modules' "$ignore_file"; }
check ".dockerignore keeps builds and node_modules out of the build context" ignored

# Every library the programs link directly comes from a package the runtime stage
# installs (or from libc6, which every image has). Needs this machine to be Debian.
if command -v readelf >/dev/null && command -v ldd >/dev/null && command -v dpkg >/dev/null; then
  uncovered=()
  for program in "${programs[@]}"; do
    resolved=$(ldd "$program")
    for lib in $(readelf -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      path=$(awk -v lib="$lib" '$1 == lib { print $3 }' <<<"$resolved")
      package=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
      if [ -z "$package" ]; then
        real=$(readlink -f "$path")
        package=$(dpkg -S "$real" 2>/dev/null | head -1 | cut -d: -f1)
      fi
      case "$package" in
        # libc is in every base image; sanitizer runtimes come only with a sanitizer build
        libc6|libasan*|libubsan*|liblsan*|libtsan*) ;;
        *) grep -q -x -F "$package" <<<"$installed" || uncovered+=("$(basename "$program"): $lib ($package)") ;;
      esac
    done
  done
  if [ ${#uncovered[@]} -eq 0 ]; then ok "every directly linked library's package is installed"
  else not_ok "every directly linked library's package is installed" "${uncovered[@]}"; fi
else
  skip "every directly linked library's package is installed" "needs readelf, ldd and dpkg"
fi

echo "1..$n"
exit $failed
