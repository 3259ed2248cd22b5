#!/usr/bin/env bash
# Measures the application layer of the image (what the production stage adds on top of
# node:20-alpine: dist/, node_modules/, package*.json, proto/) by running the Dockerfile's
# own build-stage steps in a scratch folder: npm ci, npm run generate, npm run build,
# npm prune --omit=dev, scripts/prune-node-modules.sh.
# Target (issue 5): at most 25 MB, so the image stays under the SOP's 150 MB.
#
# Usage: deploy/measure-app-layer.sh [scratch-dir]     (default /tmp/appimage)
# Exits 1 when the layer is over the budget. Needs the npm registry (npm ci), like the build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-/tmp/appimage}"
budget=$((25 * 1000 * 1000))

rm -rf "$dest"
mkdir -p "$dest"

# The build context: tracked and new files (not node_modules, dist or other ignored files),
# less what .dockerignore keeps out and the image does not need.
cd "$root"
git ls-files -co --exclude-standard -z \
  | grep -zvE '^(test|loadtest|deploy|docs|coverage|\.ci|\.github|secrets)/|\.md$|^\.env' \
  | xargs -0 cp --parents -t "$dest"

cd "$dest"
echo "== npm ci" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
echo "== npm run generate" >&2
npm run generate --silent >&2
echo "== npm run build" >&2
npm run build --silent >&2
echo "== npm prune --omit=dev --omit=optional" >&2
npm prune --omit=dev --omit=optional --no-audit --no-fund --loglevel=error >&2
echo "== sh scripts/prune-node-modules.sh node_modules" >&2
sh scripts/prune-node-modules.sh node_modules

echo
echo "Application layer (bytes, du -sb):"
du -sb dist node_modules package.json package-lock.json proto
total=$(du -sbc dist node_modules package.json package-lock.json proto | tail -1 | cut -f1)
printf 'TOTAL %d bytes = %.1f MB (budget 25.0 MB)\n' "$total" "$(echo "$total / 1000000" | bc -l)"

echo
echo "Largest production packages (du -sb):"
{ du -sb node_modules/[!@.]* 2>/dev/null; du -sb node_modules/@*/* 2>/dev/null; } | sort -rn | head -25 \
  | awk '{ printf "%8.2f MB  %s\n", $1 / 1000000, $2 }'

if [ "$total" -gt "$budget" ]; then
  echo "OVER BUDGET by $(( (total - budget) / 1000 )) kB" >&2
  exit 1
fi
