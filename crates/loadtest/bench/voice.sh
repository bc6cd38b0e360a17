#!/usr/bin/env bash
# The voice availability figures of docs/benchmarks.md: the Retell availability call and the same
# tool through MCP (2026-07-28, and 2025-11-25 sessions), for the 20-member team data set at 32
# concurrent clients, RUNS times each. Prints one JSON report per run.
#
#   BIN=target/release RUNS=3 bash crates/loadtest/bench/voice.sh
set -euo pipefail
BIN="${BIN:-target/release}"
RUNS="${RUNS:-3}"
PORT="${PORT:-3901}"
DURATION="${DURATION:-10s}"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

db="sqlite://$work/bench.db"
"$BIN/pillow-load" seed --database-url "$db" --members 20 --events 10000 --days 14 > "$work/seed.json"
key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])' < "$work/seed.json")
agent=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_id"])' < "$work/seed.json")
date=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["start"])' < "$work/seed.json")
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

printf '{"name":"check_availability","call":{"call_id":"bench"},"args":{"date":"%s"}}' "$date" \
  > "$work/retell.json"
for run in $(seq 1 "$RUNS"); do
  echo "retell run $run: $("$BIN/pillow-load" http --method post \
    --url "http://127.0.0.1:$PORT/api/calendar/availability/retell" \
    -H "Authorization: Bearer $internal" -H "X-Agent-ID: $agent" \
    -H 'Content-Type: application/json' --body-file "$work/retell.json" \
    -c 32 -d "$DURATION" --warmup 2s --json)"
  for protocol in 2026-07-28 2025-11-25; do
    echo "mcp $protocol run $run: $("$BIN/pillow-load" mcp --url "http://127.0.0.1:$PORT/mcp" \
      -H "Authorization: Bearer $key" -H "X-Agent-ID: $agent" \
      --protocol "$protocol" --tool check_availability --arguments "{\"date\":\"$date\"}" \
      -c 32 -d "$DURATION" --warmup 2s --json)"
  done
done
