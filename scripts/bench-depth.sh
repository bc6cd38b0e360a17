#!/usr/bin/env bash
# Issue 16's figures on the load tool's data set (20 members, 14 days, 10,000 busy events,
# SQLite), each against a baseline measured in the same run:
#   1. availability of the team as round robin (the current figure), then of the same 20 hosts
#      as a collective agent (every host required), each against /healthz;
#   2. booking 12-occurrence weekly series against booking single appointments (distinct times);
#   3. single bookings with per-host limits on (max 50 a day, 200 a week: never reached, so the
#      limits are counted on every booking) against the same without limits.
#
#   scripts/bench-depth.sh BIN_DIR [RUNS]
#
# BIN_DIR holds release builds (`cargo build --release -p pillow-calendar -p pillow-loadtest`).
# Every line printed is one `pillow-load` JSON report, tagged with what it measured.
set -euo pipefail
BIN=${1:?BIN}; RUNS=${2:-3}; PORT=${PORT:-3912}
work=$(mktemp -d)
server=""
stop() { if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; server=""; }
trap 'stop; rm -rf "$work"' EXIT
secret=bench-secret-0123456789abcdefghijkl
enc=$(printf '42%.0s' $(seq 32))
base="http://127.0.0.1:$PORT"

start_server() { # $1: database URL
  DATABASE_URL="$1" JWT_SECRET=$secret CALENDAR_ENCRYPTION_KEY=$enc BIND=127.0.0.1 PORT="$PORT" \
    RUST_LOG=warn "$BIN/pillow-calendar" serve > "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done
}
tag() { python3 -c 'import json,sys; r=json.load(sys.stdin); r["what"]=sys.argv[1]; print(json.dumps(r))' "$1"; }
settings() { # $1: agent, $2: JSON body
  curl -fs -X PUT "$base/api/agents/$1/booking-settings" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d "$2" > /dev/null
}
entries() { # $1: extra JSON fields for every host
  curl -fs "$base/api/users" -H "Authorization: Bearer $key" |
    python3 -c 'import json,sys; extra=json.loads(sys.argv[1]); print(json.dumps([dict(user_id=u["id"], **extra) for u in json.load(sys.stdin)["users"]]))' "$1"
}
read_seed() {
  read -r key agent start end < <(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["api_key"], d["agent_id"], d["start"], d["end"])' < "$work/seed.json")
}

# 1. Availability: round robin, then collective, each against /healthz.
"$BIN/pillow-load" seed --database-url "sqlite://$work/avail.db" --members 20 --events 10000 --days 14 > "$work/seed.json"
read_seed
start_server "sqlite://$work/avail.db"
for run in $(seq 1 "$RUNS"); do
  settings "$agent" "{\"assignable_users\": $(entries '{}'), \"distribution_strategy\": \"round_robin\"}"
  "$BIN/pillow-load" compare --baseline "$base/healthz" \
    --target "$base/api/calendar/availability?agent_id=$agent&start=$start&end=$end" \
    -H "Authorization: Bearer $key" -c 32 -d 8s --warmup 2s --json | tag "availability round robin, 20 hosts"
  settings "$agent" "{\"assignable_users\": $(entries '{"required": true}'), \"distribution_strategy\": \"collective\"}"
  "$BIN/pillow-load" compare --baseline "$base/healthz" \
    --target "$base/api/calendar/availability?agent_id=$agent&start=$start&end=$end" \
    -H "Authorization: Bearer $key" -c 32 -d 8s --warmup 2s --json | tag "availability collective, 20 required hosts"
done
stop

# 2 and 3. Bookings, on a fresh database per run (no busy events, so every body can book).
for run in $(seq 1 "$RUNS"); do
  db="sqlite://$work/book-$run.db"
  "$BIN/pillow-load" seed --database-url "$db" --members 20 --events 0 --days 60 > "$work/seed.json"
  read_seed
  start_server "$db"
  # Bodies for the agent: singles over days 0-29, series from days 30-36 (weekly, 12 times, so
  # each (weekday, time) holds 20 series: one per host by round robin).
  python3 - "$agent" "$start" "$work" <<'PY'
import json, sys, datetime, zoneinfo
agent, start, work = sys.argv[1], datetime.date.fromisoformat(sys.argv[2]), sys.argv[3]
ny = zoneinfo.ZoneInfo("America/New_York")
def at(day, slot):
    local = datetime.datetime.combine(start + datetime.timedelta(days=day), datetime.time(8)) + datetime.timedelta(minutes=30 * slot)
    return local.replace(tzinfo=ny).astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
def body(t, **extra):
    return json.dumps(dict(agent_id=agent, start_time=t, duration=30,
                           attendee={"name": "Load Test", "email": "load@bench.test"}, **extra))
with open(f"{work}/singles-a.jsonl", "w") as a, open(f"{work}/singles-b.jsonl", "w") as b:
    for day in range(30):
        for slot in range(20):
            for _ in range(20):
                (a if day % 2 == 0 else b).write(body(at(day, slot)) + "\n")
with open(f"{work}/series.jsonl", "w") as s:
    for day in range(30, 37):
        for slot in range(20):
            for _ in range(20):
                s.write(body(at(day, slot), recurrence={"frequency": "weekly", "count": 12}) + "\n")
PY
  post() { # $1: bodies file, $2: tag
    "$BIN/pillow-load" http --method post --url "$base/api/calendar/booking" \
      -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      --bodies-file "$1" --accept-status 409 -c 32 -d 5s --warmup 1s --json | tag "$2"
  }
  settings "$agent" "{\"assignable_users\": $(entries '{}'), \"distribution_strategy\": \"round_robin\"}"
  post "$work/singles-a.jsonl" "single bookings, no limits"
  post "$work/series.jsonl" "12-occurrence weekly series"
  settings "$agent" "{\"assignable_users\": $(entries '{"max_bookings_per_day": 50, "max_bookings_per_week": 200}'), \"distribution_strategy\": \"round_robin\"}"
  post "$work/singles-b.jsonl" "single bookings, per-host limits on"
  stop
done
