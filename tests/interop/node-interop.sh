#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# node-interop.sh NODE SCRIPT CHECK-VECTORS MAKE-VECTORS
#
# Cross-checks Assay against node:crypto both ways:
#   node makes 5 vectors  -> Assay's C vector checks (check-vectors) pass on them;
#   Assay makes 5 vectors -> node-crypto.mjs check passes on them;
# and node-crypto.mjs itself passes on the shared vectors. Exit 77 (skip) without node.
set -eu

node=$1 script=$2 check_vectors=$3 make_vectors=$4

if [ -z "$node" ] || ! "$node" --version >/dev/null 2>&1; then
  echo "node not found: skipping the node:crypto interop test" >&2
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "node-crypto.mjs on the shared vectors"
"$node" "$script" check "$ASSAY_SHARED_DIR/vectors/protocol-v1.jsonl"

echo "node makes 5 vectors, Assay checks them"
"$node" "$script" make 5 >"$tmp/node.jsonl"
test "$(wc -l <"$tmp/node.jsonl")" -eq 5
ASSAY_VECTORS="$tmp/node.jsonl" "$check_vectors"

echo "Assay makes 5 vectors, node checks them"
"$make_vectors" 5 >"$tmp/assay.jsonl"
test "$(wc -l <"$tmp/assay.jsonl")" -eq 5
"$node" "$script" check "$tmp/assay.jsonl"

# the checker on the node side must fail on a broken vector, or it checks nothing
sed '1s/"signature":"30/"signature":"31/' "$tmp/assay.jsonl" >"$tmp/broken.jsonl"
if "$node" "$script" check "$tmp/broken.jsonl" 2>/dev/null; then
  echo "node-crypto.mjs accepted a vector with a broken signature" >&2
  exit 1
fi
echo "ok"
