#!/usr/bin/env bash
# Switchboard's gateway side by side with LiteLLM's proxy and the minimal Flask gateway (the
# floor), in one run, with the peer bench in ../shared/bench (mock upstream, wrk, CPU per
# request from /proc). Switchboard runs as in production: gunicorn with the gevent worker,
# PostgreSQL and Redis, token auth + rate limits + resolution + reservation + metering.
# Loopback only; everything it starts it stops.
#
#   bench/gateway_compare.sh                 # about 8 minutes
#   SKIP_LITELLM=1 bench/gateway_compare.sh  # Switchboard and the floor only
#   MOCK_ARGS="--latency-ms 900" CONCS="1 128 500" MODES=stream SKIP_FLOOR=1 \
#     SKIP_CHUNKS=1 bench/gateway_compare.sh # many slow streams
#
# Needs ../shared/bench/setup.sh run once (wrk, and LiteLLM in its own venv).
# Knobs: PEER_BENCH [/work/shared/bench]  WORKERS [2]  DURATION [10]  CONCS ["1 8 32"]
#   MODES ["nonstream stream"]  MOCK_ARGS [""]  PG_ADMIN_URL [postgresql://postgres@127.0.0.1:5432/postgres]
#   BENCH_DB [switchboard_bench, dropped and created]  REDIS_URL [redis://127.0.0.1:6379/14, flushed]
#   SKIP_LITELLM / SKIP_FLOOR / SKIP_CHUNKS = 1 to leave a part out
# The last line printed is name=value pairs (see the end of this file).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEER=${PEER_BENCH:-/work/shared/bench}
PY=${PYTHON:-$ROOT/.venv/bin/python}
PEER_VENV=${PEER_VENV:-/tmp/peer-bench/venv}
WORKERS=${WORKERS:-2}
export DURATION=${DURATION:-10} WARMUP=${WARMUP:-3} CONCS=${CONCS:-"1 8 32"}
export MODES=${MODES:-"nonstream stream"}
MODEL=openai/gpt-5.4-mini; MOCK_PORT=9000; APP_PORT=8000; FLOOR_PORT=4100; LITELLM_PORT=4000
PG_ADMIN_URL=${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
BENCH_DB=${BENCH_DB:-switchboard_bench}
OUT=/tmp/switchboard-bench/$(date +%Y%m%d-%H%M%S); mkdir -p "$OUT"
TMP=$(mktemp -d); GROUPS_STARTED=()
stop_group() { kill -- -"$1" 2>/dev/null || true; for _ in $(seq 40); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.25; done; kill -9 -- -"$1" 2>/dev/null || true; }
cleanup() { for pid in "${GROUPS_STARTED[@]}"; do stop_group "$pid"; done; rm -rf "$TMP"; }
trap cleanup EXIT
wait_http() { for _ in $(seq 120); do curl -s -m 2 -o /dev/null "$1" && return 0; sleep 0.5; done; echo "no answer from $1" >&2; return 1; }
for port in $MOCK_PORT $APP_PORT $FLOOR_PORT $LITELLM_PORT; do
  if curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/"; then echo "port $port is in use" >&2; exit 1; fi
done
pss_mib() {  # PSS of the process trees under the given pids, in MiB
  local pids; pids=$(ps -e -o pid=,ppid= | awk -v roots="$*" '
    BEGIN{n=split(roots,r," "); for(i=1;i<=n;i++) keep[r[i]]=1}
    {par[$1]=$2; all[NR]=$1}
    END{changed=1; while(changed){changed=0; for(i in all){p=all[i]; if(!(p in keep) && (par[p] in keep)){keep[p]=1; changed=1}}}
        for(p in keep) print p}')
  for p in $pids; do awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null; done |
    awk '{s+=$1} END{printf "%.0f", s/1024}'
}
csv_value() {  # file mode conc column -> value
  awk -F, -v m="$2" -v c="$3" -v col="$4" '
    NR==1{for(i=1;i<=NF;i++) idx[$i]=i; next} $2==m && $3==c {print $idx[col]; exit}' "$1"
}

# Switchboard's environment: production worker, PostgreSQL, Redis.
export SWITCHBOARD_INSTANCE_PATH=$TMP SWITCHBOARD_ENV=production SESSION_COOKIE_SECURE=0
export SECRET_KEY=${SECRET_KEY:-$(openssl rand -hex 32)}
export SWITCHBOARD_ENCRYPTION_KEYS=${SWITCHBOARD_ENCRYPTION_KEYS:-v1:$(openssl rand -base64 32)}
export DATABASE_URL=${PG_ADMIN_URL%/*}/$BENCH_DB
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/14}
export SWITCHBOARD_ADMIN_EMAIL=admin@example.com SWITCHBOARD_ADMIN_PASSWORD=bench-password-0123
psql "$PG_ADMIN_URL" -qc "drop database if exists $BENCH_DB" -c "create database $BENCH_DB" >/dev/null
"$PY" -c "import redis, os; redis.Redis.from_url(os.environ['REDIS_URL']).flushdb()"

start_mock() {  # extra mock args...
  setsid python3 "$PEER/mock_llm.py" --port "$MOCK_PORT" "$@" >>"$OUT/mock.log" 2>&1 < /dev/null &
  MOCK=$!; GROUPS_STARTED+=("$MOCK"); wait_http "http://127.0.0.1:$MOCK_PORT/health"
}
start_switchboard() {
  setsid "$PY" -m gunicorn -w "$WORKERS" -b "127.0.0.1:$APP_PORT" wsgi:app \
    >>"$OUT/switchboard.log" 2>&1 < /dev/null &
  SB=$!; SB_MASTER=$SB; GROUPS_STARTED+=("$SB"); wait_http "http://127.0.0.1:$APP_PORT/healthz"
}
bench() {  # label url token model [env…]
  local label=$1 url=$2 token=$3 model=$4; shift 4
  env "$@" LABEL="$label" OUT_CSV="$OUT/$label.csv" BASELINE_CSV="$OUT/direct.csv" \
    "$PEER/gateway_bench.sh" "$url" "$token" "$model" | tee -a "$OUT/runs.txt"
}

# shellcheck disable=SC2086
start_mock ${MOCK_ARGS:-}
cd "$ROOT"
"$PY" -m flask --app wsgi db upgrade >"$OUT/setup.log" 2>&1
TOKEN=$("$PY" bench/gateway_setup.py "http://127.0.0.1:$MOCK_PORT/v1" 2>>"$OUT/setup.log" | tail -1)
[[ "$TOKEN" == sb-* ]] || { echo "setup failed: see $OUT/setup.log" >&2; tail -3 "$OUT/setup.log" >&2; exit 1; }

bench direct "http://127.0.0.1:$MOCK_PORT" - mock-gpt
start_switchboard
bench switchboard "http://127.0.0.1:$APP_PORT" "$TOKEN" "$MODEL" CPU_PIDS="$SB_MASTER"
SB_PSS=$(pss_mib "$SB_MASTER")
files=("$OUT/direct.csv" "$OUT/switchboard.csv")

if [[ -z "${SKIP_CHUNKS:-}" ]]; then  # CPU per extra chunk: the same stream with 40 chunks
  stop_group "$SB"; stop_group "$MOCK"
  start_mock --chunks 40; start_switchboard
  bench switchboard_40chunks "http://127.0.0.1:$APP_PORT" "$TOKEN" "$MODEL" \
    CPU_PIDS="$SB_MASTER" MODES=stream CONCS=8
  files+=("$OUT/switchboard_40chunks.csv")
  stop_group "$SB"; stop_group "$MOCK"
  # shellcheck disable=SC2086
  start_mock ${MOCK_ARGS:-}
else
  stop_group "$SB"
fi

if [[ -z "${SKIP_LITELLM:-}" ]]; then
  LL=$(env -u DATABASE_URL -u REDIS_URL LITELLM_VENV=$PEER_VENV "$PEER/litellm/start_litellm.sh" "$PEER/litellm/config_nodb.yaml" \
    "$LITELLM_PORT" "$WORKERS" "$OUT/litellm.log")
  GROUPS_STARTED+=("$LL")
  bench litellm "http://127.0.0.1:$LITELLM_PORT" sk-bench-master-1234 mock-gpt CPU_PIDS="$LL"
  LL_PSS=$(pss_mib "$LL")
  stop_group "$LL"
  files+=("$OUT/litellm.csv")
fi

if [[ -z "${SKIP_FLOOR:-}" ]]; then
  setsid "$PEER_VENV/bin/gunicorn" -c /dev/null -w "$WORKERS" -k gthread --threads 16 -b "127.0.0.1:$FLOOR_PORT" \
    --chdir "$PEER" ref_flask_gateway:app >"$OUT/floor.log" 2>&1 < /dev/null &
  FLOOR=$!; GROUPS_STARTED+=("$FLOOR"); wait_http "http://127.0.0.1:$FLOOR_PORT/v1/models"
  bench floor "http://127.0.0.1:$FLOOR_PORT" sk-ref-1234 mock-gpt CPU_PIDS="$FLOOR"
  stop_group "$FLOOR"
  files+=("$OUT/floor.csv")
fi

echo
python3 "$PEER/compare.py" "${files[@]}" | tee "$OUT/summary.md"
figures=()
add() { [[ -n "$2" ]] && figures+=("$1=$2"); return 0; }
first_conc=${CONCS%% *}; mid_conc=$(tr ' ' '\n' <<<"$CONCS" | grep -x 8 || echo "$first_conc")
last_conc=${CONCS##* }
for who in switchboard litellm floor; do
  f="$OUT/$who.csv"; [[ -f "$f" ]] || continue
  add "${who}_cpu_ms" "$(csv_value "$f" nonstream "$mid_conc" srv_cpu_ms_per_req)"
  add "${who}_stream_cpu_ms" "$(csv_value "$f" stream "$mid_conc" srv_cpu_ms_per_req)"
  base=$(csv_value "$OUT/direct.csv" nonstream "$first_conc" p50_ms)
  p50=$(csv_value "$f" nonstream "$first_conc" p50_ms)
  [[ -n "$p50" && -n "$base" ]] && add "${who}_added_p50_ms" "$(awk -v a="$p50" -v b="$base" 'BEGIN{printf "%.2f", a-b}')"
  add "${who}_rps_c${last_conc}" "$(csv_value "$f" nonstream "$last_conc" rps)"
done
if [[ -f "$OUT/switchboard_40chunks.csv" ]]; then
  s8=$(csv_value "$OUT/switchboard.csv" stream 8 srv_cpu_ms_per_req)
  s40=$(csv_value "$OUT/switchboard_40chunks.csv" stream 8 srv_cpu_ms_per_req)
  [[ -n "$s8" && -n "$s40" ]] && add switchboard_cpu_ms_per_extra_chunk \
    "$(awk -v a="$s40" -v b="$s8" 'BEGIN{printf "%.3f", (a-b)/32}')"
fi
sb_rps=$(csv_value "$OUT/switchboard.csv" nonstream "$last_conc" rps)
ll_rps=$( [[ -f "$OUT/litellm.csv" ]] && csv_value "$OUT/litellm.csv" nonstream "$last_conc" rps || true)
[[ -n "$sb_rps" && -n "$ll_rps" ]] && add "throughput_ratio_c${last_conc}" "$(awk -v a="$sb_rps" -v b="$ll_rps" 'BEGIN{printf "%.1f", a/b}')"
add switchboard_pss_mib "${SB_PSS:-}"
add litellm_pss_mib "${LL_PSS:-}"
errors=$(cat "$OUT"/switchboard*.csv | awk -F, 'NR>1 && $12 ~ /^[0-9]+$/ {s+=$12} END{print s+0}')
add switchboard_errors "$errors"
echo "results in $OUT"
echo "${figures[*]}"
