#!/usr/bin/env bash
# Installs what deploy/container-test.sh needs from Debian when it is missing: podman and runc
# (the container runtime), tini (its static build is the image's /sbin/tini) and busybox-static
# (/bin/sh, wget, whoami in the locally assembled base image), plus file and bc. Idempotent and
# quiet: does nothing when everything is present. Called by .ci/run before the tests.
#
# Exits 0 when everything is (now) installed; 1 when something is missing and cannot be installed
# (not root, no apt-get, or apt-get failed) — the container test then skips with its reason.
set -euo pipefail

missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
[ -x /usr/bin/tini-static ] || missing+=(tini)
# Debian's busybox package is dynamically linked; the base image needs the static one.
{ [ -x /bin/busybox ] && dpkg -s busybox-static >/dev/null 2>&1; } || missing+=(busybox-static)
# Small tools deploy/container-test.sh uses besides.
command -v file >/dev/null 2>&1 || missing+=(file)
command -v bc >/dev/null 2>&1 || missing+=(bc)

[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-podman: missing ${missing[*]}, and cannot install them here (needs root and apt-get)" >&2
  exit 1
fi

echo "ensure-podman: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-podman: apt-get install ${missing[*]} failed" >&2
  exit 1
fi
