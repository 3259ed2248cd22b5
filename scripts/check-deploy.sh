#!/usr/bin/env bash
# Checks the deployment artefacts with the real tools' own definitions (issue 5, item 6):
#   docker-compose.prod.yml  compose-go (Compose Specification schema) + policy
#   envoy.yaml               go-control-plane v3 Bootstrap, ValidateAll + policy
#   Dockerfile, .dockerignore  BuildKit parser and `docker build --check` rules + SOP checkpoints
# Builds the Go checkers in deploy/checks (modules come from the Go module proxy on first
# use), runs all three, and exits non-zero if any fails. Sends no network traffic itself.
#
# Usage: scripts/check-deploy.sh            (npm run check:deploy)
#        CHECK_DEPLOY_BIN=/some/dir scripts/check-deploy.sh   (where the binaries go)
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${CHECK_DEPLOY_BIN:-${TMPDIR:-/tmp}/chittyid-deploy-checks}"
mkdir -p "$bin"

echo "check:deploy: building checkers (deploy/checks) into $bin"
if ! (cd "$root/deploy/checks" && go build -mod=readonly -o "$bin/" ./compose ./envoy ./dockerfile); then
  echo "check:deploy: FAILED to build the checkers" >&2
  exit 2
fi

failed=0
run() {
  if ! "$@"; then
    failed=$((failed + 1))
  fi
}

cd "$root"
run "$bin/compose" -f docker-compose.prod.yml -env-file .env.example
run "$bin/envoy" -f envoy.yaml
run "$bin/dockerfile" -f Dockerfile -dockerignore .dockerignore

if [ "$failed" -ne 0 ]; then
  echo "check:deploy: $failed of 3 checks FAILED" >&2
  exit 1
fi
echo "check:deploy: 3 of 3 checks passed"
