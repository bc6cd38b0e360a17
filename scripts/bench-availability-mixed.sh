#!/usr/bin/env bash
# Team availability under a mixed workload (issue 18), as a ratio to /healthz in the same run,
# RUNS times on one server, data set (b): 20 members, 14 days, 10,000 busy events, SQLite.
#
#   scripts/bench-availability-mixed.sh BIN_DIR [RUNS]
#
# Of the requests: 5% are bookings (`POST /api/calendar/booking`, one seeded body each, a 409
# for a slot already taken counts as answered), which move a member's busy version; of the
# rest, half ask the same 14-day team window (the figure of issue 3) and half ask one date
# each, in turn over 120 days, so a date comes back only after many bookings.
set -euo pipefail
BIN=${1:?BIN}; RUNS=${2:-3}; PORT=${PORT:-3912}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
db="sqlite://$work/bench.db"
"$BIN/pillow-load" seed --database-url "$db" --members 20 --events 10000 --days 14 \
  --bodies-out "$work/bodies.jsonl" > "$work/seed.json"
read -r key agent start end < <(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["api_key"], d["agent_id"], d["start"], d["end"])' < "$work/seed.json")
DATABASE_URL="$db" JWT_SECRET=bench-secret-0123456789abcdefghijkl CALENDAR_ENCRYPTION_KEY=$(printf '42%.0s' $(seq 32)) \
  BIND=127.0.0.1 PORT="$PORT" RUST_LOG=warn "$BIN/pillow-calendar" serve > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$PORT/api/calendar/availability?agent_id=$agent"
urls=()
while read -r day; do
  urls+=(--target "$base&start=$start&end=$end" --target "$base&date=$day")
done < <(python3 -c '
import datetime, sys
first = datetime.date.fromisoformat(sys.argv[1][:10])
for i in range(120): print(first + datetime.timedelta(days=i))' "$start")
for run in $(seq 1 "$RUNS"); do
  "$BIN/pillow-load" compare --baseline "http://127.0.0.1:$PORT/healthz" "${urls[@]}" \
    --write-url "http://127.0.0.1:$PORT/api/calendar/booking" --write-every 20 \
    --bodies-file "$work/bodies.jsonl" --accept-status 409 \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -c 32 -d 8s --warmup 2s --json
done
