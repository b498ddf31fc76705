#!/usr/bin/env bash
# Run the worker like production, locally and without Docker: Redis (if not running), an SQS + S3
# wire-protocol server (moto), a Chroma server, the queues and the bucket, then `dramatiq actors`.
# Everything listens on 127.0.0.1 only; Ctrl-C stops the worker and the servers this script started.
set -euo pipefail
cd "$(dirname "$0")/../.."
make --quiet install
BIN=.venv/bin
STATE=var/local
MOTO_PORT=${MOTO_PORT:-4566}
CHROMA_PORT=${CHROMA_PORT:-8001}
mkdir -p "$STATE"

redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 \
  || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
# moto_server with its SQS queue operations made atomic (tests/atomic_moto.py says why).
"$BIN/python" tests/atomic_moto.py -H 127.0.0.1 -p "$MOTO_PORT" >"$STATE/moto.log" 2>&1 &
MOTO_PID=$!
"$BIN/chroma" run --host 127.0.0.1 --port "$CHROMA_PORT" --path "$STATE/chroma" >"$STATE/chroma.log" 2>&1 &
CHROMA_PID=$!
trap 'kill "$MOTO_PID" "$CHROMA_PID" 2>/dev/null || true' EXIT

wait_port() {
  for _ in $(seq 1 120); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.5
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}
wait_port "$MOTO_PORT"
wait_port "$CHROMA_PORT"

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=ap-northeast-2
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" S3_PAYLOAD_BUCKET=graphdata-payloads
eval "$(BROKER=stub "$BIN/ai-worker" queues)"
export SQS_REQUEST_QUEUE_URL SQS_RESULT_QUEUE_URL SQS_DEAD_LETTER_QUEUE_URL
export BROKER=sqs CHROMA_HOST=127.0.0.1 CHROMA_PORT="$CHROMA_PORT" LOG_FORMAT=console HF_HUB_OFFLINE=1

cat <<MSG
Worker starting. In another shell, with the same environment:
  export BROKER=sqs AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=ap-northeast-2 \\
         AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL S3_PAYLOAD_BUCKET=graphdata-payloads \\
         SQS_REQUEST_QUEUE_URL=$SQS_REQUEST_QUEUE_URL SQS_RESULT_QUEUE_URL=$SQS_RESULT_QUEUE_URL \\
         SQS_DEAD_LETTER_QUEUE_URL=$SQS_DEAD_LETTER_QUEUE_URL
  $BIN/ai-worker enqueue GRAPH_GENERATION_REQUEST demo/sample
  $BIN/ai-worker results --follow
  $BIN/ai-worker dlq
MSG
"$BIN/dramatiq" actors
