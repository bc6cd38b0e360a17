#!/usr/bin/env bash
# Availability for data set (b) (20 members, 14 days, 10,000 busy events, SQLite) as a ratio to
# /healthz in the same run, RUNS times on one server.
#
#   scripts/bench-availability.sh BIN_DIR [RUNS]
set -euo pipefail
BIN=${1:?BIN}; RUNS=${2:-3}; PORT=${PORT:-3911}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
db="sqlite://$work/bench.db"
"$BIN/pillow-load" seed --database-url "$db" --members 20 --events 10000 --days 14 > "$work/seed.json"
read -r key agent start end < <(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["api_key"], d["agent_id"], d["start"], d["end"])' < "$work/seed.json")
DATABASE_URL="$db" JWT_SECRET=bench-secret-0123456789abcdefghijkl CALENDAR_ENCRYPTION_KEY=$(printf '42%.0s' $(seq 32)) \
  BIND=127.0.0.1 PORT="$PORT" RUST_LOG=warn "$BIN/pillow-calendar" serve > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
for run in $(seq 1 "$RUNS"); do
  "$BIN/pillow-load" compare --baseline "http://127.0.0.1:$PORT/healthz" \
    --target "http://127.0.0.1:$PORT/api/calendar/availability?agent_id=$agent&start=$start&end=$end" \
    -H "Authorization: Bearer $key" -c 32 -d 8s --warmup 2s --json
done
