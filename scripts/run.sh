#!/usr/bin/env bash
# Serve the centre: web + WebSocket (uvicorn, ASGI), background work (Celery worker with beat,
# and the case-event relay, idle unless ODR_EVENTS_ASYNC is on),
# and the payment-partner simulator the demo partners point at. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
VAR=${ODR_VAR_DIR:-var}
mkdir -p "$VAR"

pids=()
cleanup() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup INT TERM EXIT

$BIN/python manage.py partner_simulator --host 127.0.0.1 --port 8100 \
  --secret whsec_simulator_demo --db "$VAR/simulator.sqlite3" &
pids+=($!)

$BIN/celery -A odr worker --beat --loglevel INFO --concurrency 2 \
  --schedule "$VAR/celerybeat-schedule" --without-gossip --without-mingle &
pids+=($!)

$BIN/python manage.py relay_case_events &
pids+=($!)

echo "odr: http://$HOST:$PORT/  (API docs: http://$HOST:$PORT/api/docs/, admin: /admin/)"
$BIN/uvicorn odr.asgi:application --host "$HOST" --port "$PORT" --no-access-log &
pids+=($!)

wait -n "${pids[@]}"
