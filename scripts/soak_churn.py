#!/usr/bin/env python3
"""The soak's bookings that come and go, and its calendar syncs (see scripts/soak.sh).

  soak_churn.py connect BASE KEY FAKE_GOOGLE_BASE COUNT
      Connects the first COUNT members to the fake Google through the real OAuth flow (the
      server's connect URL, the fake's consent page approved as the member, the server's
      callback) and prints their user ids, one per line.

  soak_churn.py run BASE KEY BODIES SECONDS THREADS USER_ID...
      For SECONDS, THREADS clients each book one of the seeded slots at random and cancel it
      again with a reason (a 409 for a slot already taken is an answer); one more client asks
      for a sync of the connected members in turn, one after another. Prints one JSON object:
      requests, errors and p99 per kind.

Standard library only, so the soak needs nothing but Python 3.
"""

import json
import random
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


def call(method, url, key=None, body=None, accept="application/json"):
    """(status, parsed JSON or None, seconds)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", accept)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    elapsed = time.perf_counter() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed, elapsed


def connect(base, key, google, count):
    status, users, _ = call("GET", f"{base}/api/users", key)
    if status != 200:
        sys.exit(f"GET /api/users answered {status}: {users}")
    members = [u for u in users["users"] if u.get("email")][:count]
    for user in members:
        query = urllib.parse.urlencode({"user_id": user["id"], "login_hint": user["email"]})
        status, answer, _ = call("GET", f"{base}/api/calendar/google/connect?{query}", key)
        if status != 200:
            sys.exit(f"connect for {user['email']} answered {status}: {answer}")
        consent = answer["url"] + "&" + urllib.parse.urlencode({"approve": user["email"]})
        # The fake's consent page redirects to our callback, which answers the connection.
        status, connected, _ = call("GET", consent)
        if status != 200 or not (connected or {}).get("connected"):
            sys.exit(f"callback for {user['email']} answered {status}: {connected}")
        print(user["id"])


def p99(samples):
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)


def run(base, key, bodies_path, seconds, threads, users):
    bodies = [json.loads(line) for line in open(bodies_path)]
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    stats = {k: {"requests": 0, "errors": 0, "times": []} for k in ("book", "cancel", "sync")}
    errors_seen = []

    def record(kind, status, elapsed, ok, detail=None):
        with lock:
            entry = stats[kind]
            entry["requests"] += 1
            entry["times"].append(elapsed)
            if not ok:
                entry["errors"] += 1
                if len(errors_seen) < 5:
                    errors_seen.append({"kind": kind, "status": status, "body": detail})

    def churn(seed):
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            body = rng.choice(bodies)
            status, booked, elapsed = call("POST", f"{base}/api/calendar/booking", key, body)
            record("book", status, elapsed, status in (201, 409), booked)
            if status != 201:
                continue
            code = booked["confirmation_code"]
            status, cancelled, elapsed = call(
                "POST",
                f"{base}/api/calendar/bookings/{code}/cancel",
                key,
                {"reason": "Soak: the caller changed their mind"},
            )
            record("cancel", status, elapsed, status == 200, cancelled)

    def syncs():
        turn = 0
        while time.monotonic() < deadline and users:
            user = users[turn % len(users)]
            turn += 1
            status, answer, elapsed = call(
                "POST", f"{base}/api/calendar/sync", key, {"user_id": user}
            )
            record("sync", status, elapsed, status == 200, answer)
            time.sleep(0.5)

    workers = [threading.Thread(target=churn, args=(n,)) for n in range(threads)]
    workers.append(threading.Thread(target=syncs))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(
        json.dumps(
            {
                **{
                    k: {"requests": v["requests"], "errors": v["errors"], "p99_ms": p99(v["times"])}
                    for k, v in stats.items()
                },
                "first_errors": errors_seen,
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) >= 6 and sys.argv[1] == "connect":
        connect(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) >= 7 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6]), sys.argv[7:])
    else:
        sys.exit(__doc__)
