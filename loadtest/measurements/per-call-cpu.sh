#!/usr/bin/env bash
# usage: h2cpu.sh <seconds> <rounds> — service CPU µs per request (all threads) and req/s, per scenario
set -e
cd "$(dirname "$0")/../.."
URL=$(bash scripts/pg-start.sh | tail -1)
node -e "import('./loadtest/lib.mjs').then(m=>m.writeH2loadBodies('/tmp/h2b'))"
DATABASE_URL=$URL CHITTYID_SEQUENCE_KEY=loadtest-sequence-key-0123456789abcdef GRPC_PORT=50091 PORT=0 LOG_LEVEL=warn UV_THREADPOOL_SIZE=${POOL:-4} node ${NODEFLAGS} dist/src/main.js > /tmp/h2b.log 2>&1 &
PID=$!
sleep 2
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
for r in $(seq 1 ${2:-2}); do
for p in check:/grpc.health.v1.Health/Check validate:/chittyid.v1.ChittyIdService/Validate mint:/chittyid.v1.ChittyIdService/Mint; do
  name=${p%%:*}; path=${p#*:}
  c0=$(cpu)
  h2load -c 4 -m 16 -t 1 -D ${1:-5} -d /tmp/h2b/$name.grpc.bin -H 'content-type: application/grpc' -H 'te: trailers' http://127.0.0.1:50091$path > /tmp/h2b-$name.out 2>&1
  c1=$(cpu)
  n=$(grep -E '^requests:' /tmp/h2b-$name.out | awk '{print $8}')
  rps=$(grep -o 'finished in [^,]*, [0-9.]*' /tmp/h2b-$name.out | awk '{print $4}')
  echo "$name rps=$rps cpu_us_per_req=$(( (c1-c0)*10000*1000 / n / 1000 ))"
done
done
kill -TERM $PID; wait $PID || true
