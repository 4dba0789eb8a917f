#!/usr/bin/env bash
# Switchboard's gateway under load next to a direct call, with the peer bench in
# ../shared/bench (mock upstream, wrk driver, compare.py): CPU ms per request, RPS and
# latency per worker class. Loopback only; everything it starts it stops.
#
#   bench/gateway_compare.sh            # gevent and gthread, fast mock
#   KINDS="gevent" MOCK_ARGS="--latency-ms 200 --chunks 32 --chunk-delay-ms 20" \
#     CONCS="1 32 128" bench/gateway_compare.sh
#
# Knobs: PEER_BENCH [/work/shared/bench]  KINDS ["gevent gthread"]  WORKERS [2]
#   THREADS [8] (gthread)  DATABASE_URL [a SQLite file in a temp dir]  MOCK_ARGS [""]
#   MODEL [openai/gpt-5.4-mini]  plus gateway_bench.sh's own (DURATION, CONCS, MODES…)
# Results: /tmp/switchboard-bench/<time>/*.csv and a markdown table on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEER=${PEER_BENCH:-/work/shared/bench}
PY=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x "$PY" ]] || PY=/work/main/.venv/bin/python
KINDS=${KINDS:-"gevent gthread"}; WORKERS=${WORKERS:-2}; THREADS=${THREADS:-8}
MODEL=${MODEL:-openai/gpt-5.4-mini}; MOCK_PORT=${MOCK_PORT:-9000}; APP_PORT=${APP_PORT:-8000}
OUT=/tmp/switchboard-bench/$(date +%Y%m%d-%H%M%S); mkdir -p "$OUT"
TMP=$(mktemp -d); PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

export SWITCHBOARD_INSTANCE_PATH=$TMP SWITCHBOARD_ENV=development
export DATABASE_URL=${DATABASE_URL:-sqlite:///$TMP/bench.db}
export SWITCHBOARD_ADMIN_EMAIL=admin@example.com SWITCHBOARD_ADMIN_PASSWORD=bench-password-0123
unset REDIS_URL

python3 "$PEER/mock_llm.py" --port "$MOCK_PORT" ${MOCK_ARGS:-} >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
cd "$ROOT"
"$PY" -m flask --app wsgi db upgrade >"$OUT/setup.log" 2>&1
TOKEN=$("$PY" bench/gateway_setup.py "http://127.0.0.1:$MOCK_PORT/v1" 2>>"$OUT/setup.log" | tail -1)
sleep 0.5

DURATION=${DURATION:-15} OUT_CSV="$OUT/direct.csv" LABEL=direct \
  "$PEER/gateway_bench.sh" "http://127.0.0.1:$MOCK_PORT" - mock-gpt

files=("$OUT/direct.csv")
for kind in $KINDS; do
  args=(-k "$kind" -w "$WORKERS" -b "127.0.0.1:$APP_PORT")
  [[ "$kind" == gthread ]] && args+=(--threads "$THREADS")
  "$PY" -m gunicorn "${args[@]}" wsgi:app >"$OUT/gunicorn-$kind.log" 2>&1 &
  master=$!; PIDS+=("$master")
  for _ in $(seq 60); do curl -sf "http://127.0.0.1:$APP_PORT/healthz" >/dev/null && break; sleep 0.5; done
  CPU_PIDS=$master OUT_CSV="$OUT/switchboard-$kind.csv" LABEL="switchboard-$kind" \
    BASELINE_CSV="$OUT/direct.csv" "$PEER/gateway_bench.sh" "http://127.0.0.1:$APP_PORT" "$TOKEN" "$MODEL"
  kill "$master"; wait "$master" 2>/dev/null || true
  files+=("$OUT/switchboard-$kind.csv")
done
python3 "$PEER/compare.py" "${files[@]}" | tee "$OUT/summary.md"
