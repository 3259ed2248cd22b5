#!/usr/bin/env bash
set -e
cd "$(dirname "$0")/../.."
URL=$(bash scripts/pg-start.sh | tail -1)
DATABASE_URL=$URL CHITTYID_SEQUENCE_KEY=loadtest-sequence-key-0123456789abcdef GRPC_PORT=50092 PORT=0 LOG_LEVEL=warn UV_THREADPOOL_SIZE=${POOL:-4} node ${NODEFLAGS} dist/src/main.js > /tmp/rss.log 2>&1 &
PID=$!
sleep 2
echo "idle $(grep VmRSS /proc/$PID/status | tr -s ' ')"
"${GHZ:-$(command -v ghz || echo ~/go/bin/ghz)}" --insecure --proto proto/chittyid/v1/chittyid.proto --import-paths proto --call chittyid.v1.ChittyIdService/MintBatch -d '{"entity_type":1,"count":1000}' -z 6s -c 8 --connections 4 127.0.0.1:50092 | grep "Requests/sec"
"${GHZ:-$(command -v ghz || echo ~/go/bin/ghz)}" --insecure --proto proto/chittyid/v1/chittyid.proto --import-paths proto --call chittyid.v1.ChittyIdService/Mint -d '{"entity_type":1}' -z 4s -c 64 --connections 4 127.0.0.1:50092 | grep "Requests/sec"
echo "after $(grep -E 'VmRSS|VmHWM' /proc/$PID/status | tr -s ' ' | tr '\n' ' ')"
kill -TERM $PID; wait $PID || true
