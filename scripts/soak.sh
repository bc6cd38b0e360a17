#!/usr/bin/env bash
# Soak (issue 18): mixed traffic for MINUTES (default 20) against one server on the 20-member,
# 10,000-event data set (SQLite), in windows of WINDOW seconds. Not run in CI.
#
#   scripts/soak.sh BIN_DIR [MINUTES] [WINDOW_SECONDS]
#
# BIN_DIR holds pillow-calendar, pillow-load and fake-google (`cargo build --release -p
# pillow-calendar -p pillow-loadtest -p pillow-fakes`).
#
# Each window runs, at the same time:
# - team availability (`pillow-load http`, 16 clients): half the same 14-day window, half one
#   date each over 120 days, with 5% bookings (`--write-every 20`, 409 for a taken slot is an
#   answer);
# - the Retell availability tool (`POST /api/calendar/availability/retell`, 8 clients), on the
#   dates in turn;
# - bookings that come and go (`scripts/soak_churn.py`, 4 clients): book a seeded slot, cancel
#   it with a reason; and calendar syncs: five members are connected to the fake Google
#   (`fake-google`, started here, through the real OAuth flow), synced on demand one after
#   another and by the server's own scheduler every 10 s, while their bookings are written back
#   to it and deleted again through the outbox.
# After each window it prints one JSON line: the window's requests, errors and p99 of each
# part, and the server's VmRSS (sampled once a second: the window's median and maximum, and
# the value at its end). At the end it prints a summary: RSS after warm-up (the first quarter
# of the windows; the windows' medians) flat within 10% (max/min), no errors, and the spread
# of the p99s.
set -euo pipefail
BIN=${1:?BIN_DIR}; MINUTES=${2:-20}; WINDOW=${3:-60}; PORT=${PORT:-3913}; GPORT=${GPORT:-3914}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill "$server" "$google" 2>/dev/null || true; wait "$server" "$google" 2>/dev/null || true; rm -rf "$work"' EXIT
db="sqlite://$work/soak.db"
"$BIN/pillow-load" seed --database-url "$db" --members 20 --events 10000 --days 14 \
  --bodies-out "$work/bodies.jsonl" > "$work/seed.json"
read -r key agent start end < <(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["api_key"], d["agent_id"], d["start"], d["end"])' < "$work/seed.json")
internal="soak-internal-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
gbase="http://127.0.0.1:$GPORT"
callback="http://127.0.0.1:$PORT/api/calendar/google/callback"
FAKE_GOOGLE_ADDR="127.0.0.1:$GPORT" GOOGLE_OAUTH_CLIENT_ID=soak-client GOOGLE_OAUTH_CLIENT_SECRET=soak-secret \
  GOOGLE_OAUTH_REDIRECT_URI="$callback" \
  FAKE_GOOGLE_USERS=$(seq -s, -f 'member%g@bench.test' 0 4) \
  "$BIN/fake-google" > "$work/google.log" 2>&1 &
google=$!
DATABASE_URL="$db" JWT_SECRET=soak-secret-0123456789abcdefghijklmn CALENDAR_ENCRYPTION_KEY=$(printf '42%.0s' $(seq 32)) \
  INTERNAL_API_KEY="$internal" BIND=127.0.0.1 PORT="$PORT" RUST_LOG=warn \
  GOOGLE_OAUTH_CLIENT_ID=soak-client GOOGLE_OAUTH_CLIENT_SECRET=soak-secret GOOGLE_OAUTH_REDIRECT_URI="$callback" \
  GOOGLE_OAUTH_AUTHORIZE_URL="$gbase/o/oauth2/v2/auth" GOOGLE_OAUTH_TOKEN_URL="$gbase/token" \
  GOOGLE_OAUTH_REVOKE_URL="$gbase/revoke" GOOGLE_CALENDAR_API_BASE="$gbase/calendar/v3" \
  GOOGLE_PUSH=off GOOGLE_SYNC_INTERVAL_SECONDS=10 \
  "$BIN/pillow-calendar" serve > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
for _ in $(seq 1 100); do curl -s "$gbase/" >/dev/null && break; sleep 0.1; done
mapfile -t connected < <(python3 "$here/soak_churn.py" connect "http://127.0.0.1:$PORT" "$key" "$gbase" 5)
echo "connected ${#connected[@]} members to the fake Google" >&2
base="http://127.0.0.1:$PORT/api/calendar/availability?agent_id=$agent"
urls=()
python3 -c '
import datetime, sys
first = datetime.date.fromisoformat(sys.argv[1][:10])
for i in range(120): print(first + datetime.timedelta(days=i))' "$start" > "$work/dates"
while read -r day; do urls+=(--url "$base&start=$start&end=$end" --url "$base&date=$day"); done < "$work/dates"
head -14 "$work/dates" | while read -r day; do
  printf '{"name":"check_availability","call":{"call_id":"soak-%s"},"args":{"date":"%s"}}\n' "$day" "$day"
done > "$work/retell.jsonl"
windows=$(( MINUTES * 60 / WINDOW ))
for window in $(seq 1 "$windows"); do
  "$BIN/pillow-load" http "${urls[@]}" \
    --write-url "http://127.0.0.1:$PORT/api/calendar/booking" --write-every 20 \
    --bodies-file "$work/bodies.jsonl" --accept-status 409 \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -c 16 -d "${WINDOW}s" --warmup 0s --json > "$work/availability.json" 2>/dev/null &
  mixed=$!
  "$BIN/pillow-load" http --method post --url "http://127.0.0.1:$PORT/api/calendar/availability/retell" \
    -H "Authorization: Bearer $internal" -H "X-Agent-ID: $agent" -H 'Content-Type: application/json' \
    --bodies-file "$work/retell.jsonl" -c 8 -d "${WINDOW}s" --warmup 0s --json > "$work/voice.json" 2>/dev/null &
  voice=$!
  python3 "$here/soak_churn.py" run "http://127.0.0.1:$PORT" "$key" "$work/bodies.jsonl" "$WINDOW" 4 \
    "${connected[@]}" > "$work/churn.json" &
  churn=$!
  # VmRSS once a second through the window: under this load it swings by about a tenth from
  # second to second (requests in flight), so a window's median says where memory stands and
  # its maximum what the peaks reach; the last sample is kept as well.
  : > "$work/rss"
  while kill -0 "$mixed" 2>/dev/null; do
    awk '/VmRSS/ {print $2}' "/proc/$server/status" >> "$work/rss"; sleep 1
  done
  wait "$mixed" || true; wait "$voice" || true; wait "$churn" || true
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
  python3 - "$work/availability.json" "$work/voice.json" "$window" "$rss" "$work/churn.json" "$work/rss" <<'PY' | tee -a "$work/windows.jsonl"
import json, statistics, sys
a, v = (json.load(open(p)) for p in sys.argv[1:3])
c = json.load(open(sys.argv[5]))
samples = [int(l) for l in open(sys.argv[6]) if l.strip()] or [int(sys.argv[4])]
print(json.dumps({"window": int(sys.argv[3]), "rss_kib": int(sys.argv[4]),
  "rss_median_kib": int(statistics.median(samples)), "rss_max_kib": max(samples),
  **{k: {"requests": c[k]["requests"], "errors": c[k]["errors"], "p99_ms": c[k]["p99_ms"]}
     for k in ("book", "cancel", "sync")},
  **({"first_errors": c["first_errors"]} if c["first_errors"] else {}),
  "availability": {"requests": a["requests"], "errors": a["non_2xx"] + a["transport_errors"],
                   "rps": round(a["throughput_rps"]), "p99_ms": a["latency_ms"]["p99"]},
  "voice": {"requests": v["requests"], "errors": v["non_2xx"] + v["transport_errors"],
            "rps": round(v["throughput_rps"]), "p99_ms": v["latency_ms"]["p99"]}}))
PY
done
python3 - "$work/windows.jsonl" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
warm = rows[max(1, len(rows) // 4):] or rows
rss = [r.get("rss_median_kib", r["rss_kib"]) for r in warm]
last = [r["rss_kib"] for r in warm]
peak = [r.get("rss_max_kib", r["rss_kib"]) for r in warm]
parts = ("availability", "voice", "book", "cancel", "sync")
p99 = {k: [r[k]["p99_ms"] for r in rows] for k in parts}
print(json.dumps({"windows": len(rows),
  "rss_mib_after_warmup": {"min": round(min(rss) / 1024, 1), "max": round(max(rss) / 1024, 1),
                           "flat_within_10_percent": max(rss) <= 1.10 * min(rss),
                           "of": "each window's median of one sample a second",
                           "end_of_window_samples": [round(min(last) / 1024, 1), round(max(last) / 1024, 1)],
                           "window_peaks": [round(min(peak) / 1024, 1), round(max(peak) / 1024, 1)]},
  "errors": sum(r[k]["errors"] for r in rows for k in parts),
  "requests": {k: sum(r[k]["requests"] for r in rows) for k in parts},
  "p99_ms": {k: {"median": round(statistics.median(v), 2), "min": round(min(v), 2),
                 "max": round(max(v), 2)} for k, v in p99.items()}}))
PY
