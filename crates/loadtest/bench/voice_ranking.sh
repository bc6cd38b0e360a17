#!/usr/bin/env bash
# Smart suggestions' cost (docs/benchmarks.md): the Retell availability call on the 20-member,
# 10,000-event data set at 32 clients, without ranking (the baseline: options spread over the
# day) and with it (`prefer: earliest`, a `weekday`, and the call's `from_number`, so the
# caller's history is looked up too), alternating, RUNS times each. One JSON report per run.
#
#   BIN=target/release RUNS=3 bash crates/loadtest/bench/voice_ranking.sh
set -euo pipefail
BIN="${BIN:-target/release}"
RUNS="${RUNS:-3}"
PORT="${PORT:-3902}"
DURATION="${DURATION:-10s}"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

db="sqlite://$work/bench.db"
"$BIN/pillow-load" seed --database-url "$db" --members 20 --events 10000 --days 14 > "$work/seed.json"
agent=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_id"])' < "$work/seed.json")
date=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["start"])' < "$work/seed.json")
weekday=$(python3 -c "import datetime; print(datetime.date.fromisoformat('$date').strftime('%A').lower())")
internal="bench-internal-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

DATABASE_URL="$db" JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  CALENDAR_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  INTERNAL_API_KEY="$internal" BIND=127.0.0.1 PORT="$PORT" RUST_LOG=warn \
  "$BIN/pillow-calendar" serve > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" > /dev/null && break
  sleep 0.1
done

printf '{"name":"check_availability","call":{"call_id":"bench"},"args":{"start_date":"%s"}}' "$date" \
  > "$work/plain.json"
printf '{"name":"check_availability","call":{"call_id":"bench","from_number":"+15550100199"},"args":{"start_date":"%s","prefer":"earliest","weekday":"%s"}}' \
  "$date" "$weekday" > "$work/ranked.json"
for run in $(seq 1 "$RUNS"); do
  for body in plain ranked; do
    echo "$body run $run: $("$BIN/pillow-load" http --method post \
      --url "http://127.0.0.1:$PORT/api/calendar/availability/retell" \
      -H "Authorization: Bearer $internal" -H "X-Agent-ID: $agent" \
      -H 'Content-Type: application/json' --body-file "$work/$body.json" \
      -c 32 -d "$DURATION" --warmup 2s --json)"
  done
done
