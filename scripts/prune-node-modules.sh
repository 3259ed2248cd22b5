#!/bin/sh
# Removes from a production node_modules what Node never loads at run time: source maps,
# TypeScript declarations, markdown, @types/* (pulled in as dependencies of protobufjs and
# instrumentation-pg) and test/example folders at package roots. Run by the Dockerfile
# after `npm prune --omit=dev` and by deploy/measure-app-layer.sh. POSIX sh (busybox).
#
# Usage: scripts/prune-node-modules.sh [node_modules]
set -eu
dir="${1:-node_modules}"
[ -d "$dir" ] || { echo "prune-node-modules: no $dir" >&2; exit 1; }

find "$dir" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' \
  -o -iname '*.md' -o -name '*.tsbuildinfo' \) -exec rm -f {} +
rm -rf "$dir/@types"
for sub in test tests __tests__ example examples; do
  rm -rf "$dir"/*/"$sub" "$dir"/@*/*/"$sub"
done

# Bundler-only builds (build/esm, build/esnext) that no Node entry point reaches.
node "$(dirname "$0")/prune-unused-module-formats.mjs" "$dir"
