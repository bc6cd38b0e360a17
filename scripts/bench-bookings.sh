#!/usr/bin/env bash
# Bookings per second on distinct slots (issue 4's figure), on a fresh database per run.
#
#   scripts/bench-bookings.sh BIN_DIR postgres|sqlite [RUNS]
#
# BIN_DIR holds release builds of `pillow-calendar` and `pillow-load`
# (`cargo build --release -p pillow-calendar -p pillow-loadtest` → target/release).
# Besides throughput and latency it reports the CPU time the server and PostgreSQL spent per
# booking (from /proc, so it counts work rather than waiting): on a shared, noisy machine that
# is the steadier figure, and 2 cores divided by it bounds the rate this machine can reach.
set -euo pipefail
BIN=${1:?BIN_DIR}; BACKEND=${2:?postgres|sqlite}; RUNS=${3:-3}
export PGOPTIONS="-c client_min_messages=warning"
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
ticks() { # utime+stime of the given pids, in clock ticks
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
# The PostgreSQL backends serving this run's database only (other work may share the server).
pg_pids() { [ -n "${DB:-}" ] && pgrep -f "^postgres: .* $DB " || true; }
HZ=$(getconf CLK_TCK)
for run in $(seq 1 "$RUNS"); do
  if [ "$BACKEND" = postgres ]; then
    DB="bench_bookings_$$_$run"
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
    URL="postgres://postgres@127.0.0.1:5432/$DB"
  else
    DB=""; URL="sqlite://$WORK/bench-$run.db"
  fi
  "$BIN/pillow-load" seed --database-url "$URL" --members 20 --events 0 --days 60 \
    --bodies-out "$WORK/bodies.jsonl" > "$WORK/seed.json"
  KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$WORK/seed.json")
  PORT=$((20000 + RANDOM % 20000))
  DATABASE_URL="$URL" BIND=127.0.0.1 PORT=$PORT JWT_SECRET=bench-secret-0123456789abcdefghijkl \
    CALENDAR_ENCRYPTION_KEY=$(printf '42%.0s' $(seq 32)) RUST_LOG=warn \
    "$BIN/pillow-calendar" serve > "$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.05; done
  # Warm-up outside the measured window uses its own bodies, so measured slots stay distinct.
  before_server=$(ticks "$SERVER"); before_pg=$(ticks $(pg_pids))
  "$BIN/pillow-load" http --method post --url "http://127.0.0.1:$PORT/api/calendar/booking" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    --bodies-file "$WORK/bodies.jsonl" -c 32 -d 5s --warmup 1s --json > "$WORK/report.json"
  after_server=$(ticks "$SERVER"); after_pg=$(ticks $(pg_pids))
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  python3 - "$WORK/report.json" "$((after_server - before_server))" "$((after_pg - before_pg))" "$HZ" "$BACKEND" "$run" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); server, pg, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
# The ticks span warm-up and measurement: divide by every booking made in that span.
booked = r["ok"] / max(r["elapsed_s"], 1e-9) * (r["elapsed_s"] + r["warmup_s"])
ms = lambda t: 1000.0 * t / hz / max(booked, 1)
print(json.dumps({"backend": sys.argv[5], "run": int(sys.argv[6]), "bookings_per_s": round(r["throughput_rps"]),
  "p50_ms": r["latency_ms"]["p50"], "p99_ms": r["latency_ms"]["p99"], "non_2xx": r["non_2xx"],
  "server_cpu_ms_per_booking": round(ms(server), 3), "postgres_cpu_ms_per_booking": round(ms(pg), 3)}))
PY
  if [ "$BACKEND" = postgres ]; then psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null; fi
done
