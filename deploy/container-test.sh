#!/usr/bin/env bash
# The container contract (issue 5, item 8), really run with podman + runc, no registry needed:
#
#   1. the application layer: the Dockerfile's own build-stage steps, run into a folder by
#      deploy/measure-app-layer.sh (npm ci, generate, build, prune --omit=dev --omit=optional,
#      prune script; fails over the 25 MB budget) — or CHITTYID_APP_LAYER_DIR, if already built;
#   2. a base image assembled from this machine, standing in for node:20-alpine: node and the
#      libraries ldd lists, tini (tini-static) as /sbin/tini, busybox-static as /bin/sh, wget,
#      whoami…, and tiny stand-ins for the Alpine tools the Dockerfile's RUN line calls (apk add
#      tini: checks tini is there; addgroup/adduser: append to /etc/group and /etc/passwd) and for
#      Alpine's wget -T (Debian's busybox wget crashes on -T: see below);
#   3. the image: the production stage of ./Dockerfile, verbatim except its FROM (the local base)
#      and its COPY --from=builder sources (the folder from step 1) — so USER, WORKDIR, ENV,
#      HEALTHCHECK, ENTRYPOINT, CMD and the RUN line are the real ones;
#   4. a private, throwaway PostgreSQL 15 reachable only through a unix socket, mounted into the
#      container (which has no network: --network=none);
#   5. the container run as docker-compose.prod.yml runs it: --read-only with tmpfs /tmp and
#      /app/tmp only, --user 1001, --cap-drop ALL, no-new-privileges, secrets as files;
#   6. expectations: ready, /health and /ready healthy (also through the image's HEALTHCHECK),
#      whoami → chittyid, no capabilities, the root filesystem read-only (a write to /app fails),
#      a real authenticated Mint committed to PostgreSQL, and `podman stop -t 30` (SIGTERM, then
#      SIGKILL after 30 s) under MintBatch load ending it with exit code 0 well within 30 s — the
#      time is printed (STOP_SECONDS), with the image sizes.
#
# Usage (as root; scripts/ensure-podman.sh installs podman, runc, tini, busybox-static):
#   bash deploy/container-test.sh                 # the whole test (~1-2 min, most of it npm ci)
#   bash deploy/container-test.sh --preflight     # only: can it run here? (exit 1 with the reason)
#   CHITTYID_APP_LAYER_DIR=/tmp/appimage bash deploy/container-test.sh   # reuse a measured layer
# Exits non-zero on the first failed expectation. Everything it creates (container, both images,
# the PostgreSQL instance, temp files) is removed on exit, also on failure or Ctrl-C.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dockerfile="${CHITTYID_DOCKERFILE:-$root/Dockerfile}" # another one only to try a change
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
STOP_BUDGET_S=30
tag="ct-$(date +%s)-$$"
base_image="localhost/chittyid-base:$tag"
app_image="localhost/chittyid:$tag"
ctr="chittyid-ct-$tag"
# Needed here: podman's default RLIMIT_NOFILE/NPROC exceed this machine's hard limits, and runc
# then refuses to start ("error setting rlimit type 7: operation not permitted").
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
pm() { podman --runtime runc "$@"; }

started=$(date +%s.%N)
say() { printf '[%5.1fs] %s\n' "$(echo "$(date +%s.%N) - $started" | bc)" "$*"; }
fail() { echo "container-test: FAIL: $*" >&2; exit 1; }
pass() { say "ok - $*"; }

# --- 0. preconditions -------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || fail "run as root (rootful podman, and the private PostgreSQL runs as user postgres)"
for cmd in podman runc node npm git bc file runuser; do command -v "$cmd" >/dev/null || fail "$cmd is not installed (bash scripts/ensure-podman.sh)"; done
[ -x /usr/bin/tini-static ] || fail "/usr/bin/tini-static missing (apt-get install tini)"
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || fail "/bin/busybox is not the static one (apt-get install busybox-static)"
{ [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/psql" ]; } || fail "PostgreSQL 15 server binaries not found in $PG_BIN"
id postgres >/dev/null 2>&1 || fail "no postgres user"
pm info --format '{{.Host.OCIRuntime.Name}}' >/dev/null 2>&1 || fail "podman does not work here ('podman --runtime runc info' failed)"
if [ "${1:-}" = --preflight ]; then echo "container-test: preflight ok"; exit 0; fi

work="$(mktemp -d /tmp/chittyid-container-test.XXXXXX)"
chmod 755 "$work" # the postgres user and uid 1001 (via the mounts) must traverse it
pg_data="$work/pg"
pg_sock="$work/pgsock"
pg_started=0

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ] && pm container exists "$ctr" 2>/dev/null; then
    echo "--- container logs (last 40 lines)" >&2
    pm logs --tail 40 "$ctr" >&2 2>&1
  fi
  pm rm -f -t 0 "$ctr" >/dev/null 2>&1
  pm rmi -f "$app_image" >/dev/null 2>&1
  pm rmi -f "$base_image" >/dev/null 2>&1
  if [ "$pg_started" -eq 1 ]; then
    (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pg_data" -m immediate -w -t 20 stop >/dev/null 2>&1)
  fi
  rm -rf "$work"
  say "cleaned up (container, images $app_image and $base_image, private PostgreSQL, $work)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. the application layer ------------------------------------------------------------------
ctx="$work/ctx"
mkdir -p "$ctx"
if [ -n "${CHITTYID_APP_LAYER_DIR:-}" ]; then
  say "application layer: reusing $CHITTYID_APP_LAYER_DIR"
  mkdir -p "$ctx/app"
  for f in dist node_modules package.json package-lock.json proto; do
    [ -e "$CHITTYID_APP_LAYER_DIR/$f" ] || fail "CHITTYID_APP_LAYER_DIR has no $f"
    cp -a "$CHITTYID_APP_LAYER_DIR/$f" "$ctx/app/"
  done
else
  say "application layer: deploy/measure-app-layer.sh (the Dockerfile's build-stage steps)"
  bash "$root/deploy/measure-app-layer.sh" "$ctx/app" >"$work/measure.log" 2>&1 \
    || { tail -30 "$work/measure.log" >&2; fail "deploy/measure-app-layer.sh failed (build error or over the 25 MB budget)"; }
  grep '^TOTAL' "$work/measure.log" | sed 's/^/         application layer (du -sb): /'
fi
app_bytes=$(du -sbc "$ctx/app/dist" "$ctx/app/node_modules" "$ctx/app/package.json" "$ctx/app/package-lock.json" "$ctx/app/proto" | tail -1 | cut -f1)
[ -f "$ctx/app/dist/src/main.js" ] || fail "the application layer has no dist/src/main.js"
[ ! -e "$ctx/app/node_modules/@electric-sql/pglite" ] || fail "the optional PGlite is in the application layer (prune --omit=optional)"

# --- 2. the base image, assembled from this machine -------------------------------------------
say "base image: node $(node --version), tini-static, busybox-static"
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,sbin,etc,tmp,root,home,proc,sys,dev,run,usr/bin,usr/sbin,usr/local/bin,usr/local/sbin}
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"
node_bin="$(readlink -f "$(command -v node)")"
cp "$node_bin" "$rootfs/usr/local/bin/node"
# The dynamic loader and every library node links against (the same paths inside).
ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | while read -r lib; do
  cp -L --parents "$lib" "$rootfs"
done
cp /usr/bin/tini-static "$rootfs/sbin/tini"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = wget ] || [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
# Debian's busybox (< 1.36.1-5) is built without FEATURE_WGET_TIMEOUT, and its wget then crashes
# (SIGSEGV) on -T; Alpine's busybox wget, in the real image, supports -T. This stand-in keeps the
# HEALTHCHECK's "wget -q -T 2 …" meaning: -T SEC becomes an overall limit (busybox timeout).
cat >"$rootfs/usr/bin/wget" <<'WGET'
#!/bin/sh
# Test-base stand-in for busybox wget with -T (see deploy/container-test.sh).
t= next=
for a in "$@"; do
  shift
  if [ -n "$next" ]; then t=$a; next=; continue; fi
  case "$a" in -T) next=1; continue ;; -T*) t=${a#-T}; continue ;; esac
  set -- "$@" "$a"
done
if [ -n "$t" ]; then exec /bin/busybox timeout "$t" /bin/busybox wget "$@"; fi
exec /bin/busybox wget "$@"
WGET
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:root\nnogroup:x:65534:\n' >"$rootfs/etc/group"
ln -s /bin/busybox "$rootfs/sbin/nologin" 2>/dev/null || true
# Stand-ins for the Alpine tools the Dockerfile's production RUN line uses.
cat >"$rootfs/usr/local/sbin/apk" <<'EOF'
#!/bin/sh
# Test-base stand-in for Alpine's apk: only "apk add [--no-cache] <pkg>…" for packages the
# locally assembled base already holds; anything else fails, so a new dependency is noticed.
[ "$1" = add ] || { echo "apk stand-in: only 'add' is supported" >&2; exit 1; }
shift
for p in "$@"; do
  case "$p" in
    --no-cache) ;;
    tini) [ -x /sbin/tini ] || { echo "apk stand-in: /sbin/tini missing" >&2; exit 1; } ;;
    *) echo "apk stand-in: package '$p' is not in the local base image (deploy/container-test.sh)" >&2; exit 1 ;;
  esac
done
EOF
cat >"$rootfs/usr/sbin/addgroup" <<'EOF'
#!/bin/sh
# Test-base stand-in for busybox addgroup: addgroup [-g GID] [-S] NAME
gid=
while getopts g:S opt; do case "$opt" in g) gid=$OPTARG ;; S) ;; *) exit 1 ;; esac; done
shift $((OPTIND - 1))
name=$1
[ -n "$name" ] && [ -n "$gid" ] || { echo "addgroup stand-in: need -g GID NAME" >&2; exit 1; }
grep -q "^$name:" /etc/group && { echo "addgroup: group '$name' in use" >&2; exit 1; }
echo "$name:x:$gid:" >>/etc/group
EOF
cat >"$rootfs/usr/sbin/adduser" <<'EOF'
#!/bin/sh
# Test-base stand-in for busybox adduser: adduser [-u UID] [-S] [-D] [-H] [-G GROUP] [-s SHELL] [-h HOME] NAME
uid= group= shell=/bin/sh home=
while getopts u:SDHG:s:h: opt; do
  case "$opt" in u) uid=$OPTARG ;; G) group=$OPTARG ;; s) shell=$OPTARG ;; h) home=$OPTARG ;; S|D|H) ;; *) exit 1 ;; esac
done
shift $((OPTIND - 1))
name=$1
[ -n "$name" ] && [ -n "$uid" ] || { echo "adduser stand-in: need -u UID NAME" >&2; exit 1; }
grep -q "^$name:" /etc/passwd && { echo "adduser: user '$name' in use" >&2; exit 1; }
gid=$(awk -F: -v g="${group:-$name}" '$1 == g { print $3 }' /etc/group)
[ -n "$gid" ] || { echo "adduser: unknown group ${group:-$name}" >&2; exit 1; }
echo "$name:x:$uid:$gid:Linux User,,,:${home:-/home/$name}:$shell" >>/etc/passwd
EOF
chmod 755 "$rootfs/usr/local/sbin/apk" "$rootfs/usr/sbin/addgroup" "$rootfs/usr/sbin/adduser" "$rootfs/usr/bin/wget"
tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf - . \
  | pm import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["/bin/sh"]' - "$base_image" >/dev/null
pm run --rm --network=none "${limits[@]}" "$base_image" node -e 'process.exit(0)' \
  || fail "node does not run in the assembled base image"
pass "base image $base_image: node runs in it"

# --- 3. the image: the Dockerfile's production stage on that base ------------------------------
awk -v base="$base_image" '
  tolower($0) ~ /^from .* as production *$/ { on = 1; print "FROM " base " AS production"; next }
  on { print }
' "$dockerfile" | sed -E 's#COPY --from=builder /build/#COPY app/#; s# /build/# app/#g' >"$ctx/Containerfile"
[ "$(grep -ci '^FROM' "$ctx/Containerfile")" -eq 1 ] || fail "could not find the single 'FROM … AS production' stage in $dockerfile"
! grep -qE -- '--from=|/build/' "$ctx/Containerfile" || fail "the production stage copies from somewhere this test does not provide:
$(grep -nE -- '--from=|/build/' "$ctx/Containerfile")"
say "image: podman build (production stage of ./Dockerfile, --format docker for HEALTHCHECK)"
pm build --format docker --layers=false --network=none "${limits[@]}" --quiet \
  --build-arg BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" --build-arg VERSION=0.0.0-container-test \
  --build-arg GIT_COMMIT="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)" \
  -f "$ctx/Containerfile" -t "$app_image" "$ctx" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; fail "podman build failed"; }
base_size=$(pm image inspect --format '{{.Size}}' "$base_image")
image_size=$(pm image inspect --format '{{.Size}}' "$app_image")
[ "$(pm image inspect --format '{{.Config.User}}' "$app_image")" = "chittyid:chittyid" ] || fail "image USER is not chittyid:chittyid"
pm image inspect --format '{{.Config.Healthcheck}}' "$app_image" | grep -q '/health' || fail "image has no HEALTHCHECK on /health"
pass "image $app_image built: $image_size bytes (base $base_size, added by the production stage $((image_size - base_size)))"

# --- 4. a private PostgreSQL 15 behind a unix socket ------------------------------------------
say "private PostgreSQL: initdb, start (socket only, no TCP)"
install -d -o postgres -g postgres -m 700 "$pg_data"
install -d -o postgres -g postgres -m 777 "$pg_sock"
install -d -o postgres -g postgres -m 755 "$work/pglog"
(cd / && runuser -u postgres -- "$PG_BIN/initdb" -D "$pg_data" -A trust -U postgres) >"$work/initdb.log" 2>&1 \
  || { cat "$work/initdb.log" >&2; fail "initdb failed"; }
(cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pg_data" -l "$work/pglog/pg.log" \
  -o "-k $pg_sock -c listen_addresses=''" -w -t 30 start) >/dev/null \
  || { cat "$work/pglog/pg.log" >&2; fail "PostgreSQL did not start"; }
pg_started=1
psql_pg() { "$PG_BIN/psql" -h "$pg_sock" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_pg -d postgres -c 'CREATE ROLE chittyid LOGIN' -c 'CREATE DATABASE chittyid OWNER chittyid' >/dev/null
pass "PostgreSQL $(psql_pg -d postgres -c 'SHOW server_version') on $pg_sock"

# --- 5. secrets as files, readable by uid 1001 only (as the README's Deploy section says) ------
secrets="$work/secrets"
mkdir -m 755 "$secrets"
token="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
printf '%s' "$(head -c 48 /dev/urandom | base64 | tr -d '\n')" >"$secrets/chittyid_sequence_key"
printf 'container-test %s chittyid:mint,chittyid:read\n' "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" >"$secrets/chittyid_api_keys"
chown 1001:1001 "$secrets"/*
chmod 0400 "$secrets"/*

# --- 6. run it as docker-compose.prod.yml does -------------------------------------------------
say "run: --read-only (tmpfs /tmp, /app/tmp) --user 1001 --cap-drop ALL no-new-privileges --network=none"
# As compose's "tmpfs: [/tmp, /app/tmp]": plain tmpfs mounts. runc makes each one root-owned with
# the mode of the image directory underneath, so /app/tmp is writable for uid 1001 only because the
# Dockerfile makes it 1777 (checked below).
pm run -d --name "$ctr" --network=none "${limits[@]}" \
  --read-only --read-only-tmpfs=false --tmpfs /tmp --tmpfs /app/tmp \
  --user 1001 --cap-drop ALL --security-opt no-new-privileges \
  --memory 2g --pids-limit 256 \
  -v "$pg_sock:/run/pg" -v "$secrets:/run/secrets:ro" \
  -e 'DATABASE_URL=postgresql://chittyid@localhost/chittyid?host=/run/pg' \
  -e CHITTYID_NODE_ID=7 -e UV_THREADPOOL_SIZE=2 -e ENABLE_METRICS=true \
  -e CHITTYID_API_KEYS_FILE=/run/secrets/chittyid_api_keys \
  -e CHITTYID_SEQUENCE_KEY_FILE=/run/secrets/chittyid_sequence_key \
  "$app_image" >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; fail "podman run failed"; }
# (Without systemd, podman cannot schedule the periodic health checks and says so on stderr;
# "podman healthcheck run" below runs the image's HEALTHCHECK on demand instead.)

ready=0
for _ in $(seq 1 120); do
  state=$(pm inspect --format '{{.State.Status}}' "$ctr")
  [ "$state" = running ] || fail "container is $state before it was ready"
  if pm logs "$ctr" 2>&1 | grep -q '"chittyid ready"'; then ready=1; break; fi
  sleep 0.5
done
[ "$ready" -eq 1 ] || fail "no 'chittyid ready' log line within 60 s"
pass "service ready: $(pm logs "$ctr" 2>&1 | grep '"chittyid ready"' | head -1 | sed -E 's/.*("grpcPort":[0-9]+,"httpPort":[0-9]+).*("database":"[a-z]+").*/\1 \2/')"

# --- 7. expectations ---------------------------------------------------------------------------
[ "$(pm inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$ctr")" = true ] || fail "ReadonlyRootfs is not true"
who="$(pm exec "$ctr" whoami)"
[ "$who" = chittyid ] || fail "whoami: expected chittyid, got '$who'"
[ "$(pm exec "$ctr" id -u):$(pm exec "$ctr" id -g)" = 1001:1001 ] || fail "not uid/gid 1001"
pass "whoami → $who (uid:gid $(pm exec "$ctr" id -u):$(pm exec "$ctr" id -g))"

status1="$(pm exec "$ctr" cat /proc/1/status)"
for field in CapInh CapPrm CapEff CapBnd CapAmb; do
  echo "$status1" | grep -qE "^$field:[[:space:]]+0+$" || fail "PID 1 has capabilities: $(echo "$status1" | grep "^$field:")"
done
echo "$status1" | grep -qE '^NoNewPrivs:[[:space:]]+1$' || fail "no-new-privileges is not set"
[ "$(pm exec "$ctr" cat /proc/1/comm)" = tini ] || fail "PID 1 is not tini"
pass "PID 1 is tini; no capabilities (CapEff/CapBnd 0); NoNewPrivs 1"

health="$(pm exec "$ctr" wget -qO- -T 2 http://127.0.0.1:3000/health)" || fail "/health did not answer"
echo "$health" | grep -q '"status":"ok"\|"status":"healthy"\|"status":"alive"' || say "note: /health body: $health"
readiness="$(pm exec "$ctr" wget -qO- -T 2 http://127.0.0.1:3000/ready)" || fail "/ready is not 200: $readiness"
echo "$readiness" | grep -q '"database":"up"' || fail "/ready does not report the database up: $readiness"
pass "/health → $health"
pass "/ready → $readiness"
hc="$(pm healthcheck run "$ctr" 2>&1)" || fail "the image's HEALTHCHECK failed: $hc"
pass "podman healthcheck run (the image's HEALTHCHECK: wget /health) → ${hc:-healthy}"

# The root filesystem is read-only, the tmpfs mounts are not.
if out="$(pm exec "$ctr" sh -c 'echo x > /app/write-probe' 2>&1)"; then fail "a write to /app succeeded"; fi
echo "$out" | grep -qi 'read-only' || fail "a write to /app failed, but not as read-only: $out"
if pm exec "$ctr" sh -c 'echo x > /app/data/probe' 2>/dev/null; then fail "a write to /app/data succeeded on a read-only root"; fi
# shellcheck disable=SC2016 # $TMPDIR is the container's
pm exec "$ctr" sh -c 'echo x > /tmp/probe && echo x > "$TMPDIR/probe"' \
  || fail "the tmpfs mounts /tmp and TMPDIR=/app/tmp are not writable for uid 1001 ($(pm exec "$ctr" stat -c '%n %a %U' /tmp /app/tmp | tr '\n' ' '))"
pass "root filesystem read-only (write to /app: '$out'); tmpfs /tmp and TMPDIR=/app/tmp writable"

# A real, authenticated Mint through the gRPC port inside the container, committed to PostgreSQL.
# shellcheck disable=SC2016 # JavaScript, not shell
minted="$(pm exec -e "TOKEN=$token" "$ctr" node --input-type=module -e '
  import { createRequire } from "node:module";
  const require = createRequire("/app/package.json");
  const { credentials, Metadata } = require("@grpc/grpc-js");
  const { ChittyIdServiceClient, EntityType } = await import("/app/dist/src/gen/chittyid/v1/chittyid.js");
  const client = new ChittyIdServiceClient("127.0.0.1:50051", credentials.createInsecure());
  const md = new Metadata();
  md.set("authorization", `Bearer ${process.env.TOKEN}`);
  client.mint({ entityType: EntityType.ENTITY_TYPE_THING, jurisdiction: "GBR", trustLevel: 1, metadata: { via: "container-test" }, idempotencyKey: "" },
    md, { deadline: Date.now() + 10000 }, (err, res) => {
      if (err) { console.error(`Mint failed: ${err.code} ${err.details}`); process.exit(1); }
      console.log(res.id.value);
      client.close();
    });
' 2>&1)" || fail "Mint inside the container failed: $minted"
[[ "$minted" =~ ^04-3-GBR-[0-9]{12}-T-[0-9]{4}-1-[0-9]{2}$ ]] || fail "unexpected Mint answer: $minted"
row="$(psql_pg -d chittyid -c "SELECT state || ' ' || principal FROM chitty_ids WHERE id = '$minted'")"
[ "$row" = "ACTIVE container-test" ] || fail "minted $minted, but the database row is '$row'"
pass "authenticated Mint → $minted, committed in PostgreSQL over the socket (row: $row)"

# --- 8. docker stop under load: SIGTERM, SIGKILL after 30 s ------------------------------------
stop_signal="$(pm inspect --format '{{.Config.StopSignal}}' "$ctr")"
case "$stop_signal" in 15|SIGTERM|TERM) ;; *) fail "stop signal is '$stop_signal', not SIGTERM" ;; esac
# A client inside the container keeps 8 MintBatch calls in flight (bounded: 20 s, 100000 calls),
# so the stop lands on a busy service, as a deploy does.
# shellcheck disable=SC2016 # JavaScript, not shell
pm exec -d -e "TOKEN=$token" "$ctr" node --input-type=module -e '
  import { createRequire } from "node:module";
  const require = createRequire("/app/package.json");
  const { credentials, Metadata } = require("@grpc/grpc-js");
  const { ChittyIdServiceClient, EntityType } = await import("/app/dist/src/gen/chittyid/v1/chittyid.js");
  const client = new ChittyIdServiceClient("127.0.0.1:50051", credentials.createInsecure());
  const md = new Metadata();
  md.set("authorization", `Bearer ${process.env.TOKEN}`);
  const until = Date.now() + 20000;
  let calls = 0;
  const one = () => new Promise((resolve) => client.mintBatch({ entityType: EntityType.ENTITY_TYPE_EVENT, jurisdiction: "", trustLevel: 0,
    metadata: {}, idempotencyKey: "", count: 100 }, md, { deadline: Date.now() + 5000 }, () => resolve()));
  await Promise.all(Array.from({ length: 8 }, async () => { while (Date.now() < until && calls++ < 100000) await one(); }));
' >/dev/null
served=0
for _ in $(seq 1 40); do
  served="$(pm exec "$ctr" wget -qO- http://127.0.0.1:9090/metrics \
    | awk '/^chittyid_rpc_requests_total\{/ && /method="MintBatch"/ && /code="OK"/ { s += $2 } END { print s + 0 }')"
  [ "$served" -ge 20 ] && break
  sleep 0.25
done
[ "$served" -ge 20 ] || fail "the in-container load did not get going (MintBatch OK: $served)"
t0=$(date +%s.%N)
pm stop -t "$STOP_BUDGET_S" "$ctr" >/dev/null 2>"$work/stop.err" || { cat "$work/stop.err" >&2; fail "podman stop failed"; }
t1=$(date +%s.%N)
stop_s=$(echo "$t1 - $t0" | bc)
exit_code="$(pm inspect --format '{{.State.ExitCode}}' "$ctr")"
printf 'STOP_SECONDS %.2f\n' "$stop_s"
[ "$exit_code" = 0 ] || fail "exit code after SIGTERM: $exit_code (137 means it was SIGKILLed)"
[ "$(echo "$stop_s < $STOP_BUDGET_S" | bc)" -eq 1 ] || fail "stop took ${stop_s}s (budget ${STOP_BUDGET_S}s)"
logs="$(pm logs "$ctr" 2>&1)"
echo "$logs" | grep -q '"shutdown complete"' || fail "no 'shutdown complete' log line"
! echo "$logs" | grep -q 'shutdown timeout' || fail "the drain timed out: $(echo "$logs" | grep 'shutdown timeout')"
rows="$(psql_pg -d chittyid -c 'SELECT count(*) FROM chitty_ids')"
pass "podman stop -t $STOP_BUDGET_S with MintBatch load in flight ($served batches answered before it): exit 0 in $(printf '%.2f' "$stop_s") s, 'shutdown complete' logged; $rows IDs committed"

echo
echo "SUMMARY"
printf '  application layer (du -sb)   %d bytes = %.1f MB\n' "$app_bytes" "$(echo "$app_bytes / 1000000" | bc -l)"
printf '  base image (local)           %d bytes = %.1f MB\n' "$base_size" "$(echo "$base_size / 1000000" | bc -l)"
printf '  image                        %d bytes = %.1f MB\n' "$image_size" "$(echo "$image_size / 1000000" | bc -l)"
pm images --format '  podman images: {{.Repository}}:{{.Tag}} {{.Size}}' | grep -F ":$tag " || true
printf '  stop (SIGTERM → exit 0)      %.2f s\n' "$stop_s"
printf '  total test time              %.0f s\n' "$(echo "$(date +%s.%N) - $started" | bc)"
echo "container-test: PASS"
