"""Benchmark: does the ServiceTitan client use the 60 requests/s budget without causing 429s,
and how many tokens does a 30-minute run need?

Starts a local threaded HTTP server on 127.0.0.1 (a free port) that plays ServiceTitan: a token
endpoint, and a business-units list that accepts at most 60 requests in any rolling second
(above that: 429 with Retry-After and an RFC 7807 body). Then:

1. drives the real ServiceTitanClient from several threads for --seconds (default 10) and prints
   the requests/s achieved (goal: at least 54 sustained), the 429s caused and the busiest second
   the server saw;
2. replays a 30-minute run on an injected fake clock (one request every --step seconds) and
   prints how many token requests it took (goal: at most 3 with 900 s tokens).

Prints figures only; it asserts nothing about timing. Stops by itself.

    python benchmarks/st_ratelimit.py [--seconds 10] [--threads 4]
"""
from __future__ import annotations

import argparse
import bisect
import json
import re
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.servicetitan.client import ServiceTitanClient  # noqa: E402

TENANT = "4242"
LIMIT_PER_SECOND = 60
MAX_SECONDS = 120  # hard cap whatever --seconds says


class FakeServiceTitan(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.limit_enabled = True
        self.window: deque[float] = deque()
        self.accepted_times: list[float] = []
        self.accepted = 0
        self.rejected = 0
        self.tokens_issued = 0

    def admit(self) -> bool:
        now = time.monotonic()
        with self.lock:
            if self.limit_enabled:
                while self.window and self.window[0] <= now - 1.0:
                    self.window.popleft()
                if len(self.window) >= LIMIT_PER_SECOND:
                    self.rejected += 1
                    return False
                self.window.append(now)
                self.accepted_times.append(now)
            self.accepted += 1
            return True

    def reset_counts(self) -> None:
        with self.lock:
            self.window.clear()
            self.accepted_times.clear()
            self.accepted = self.rejected = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API does
    server: FakeServiceTitan

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: dict, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path != "/connect/token":
            return self._send(404, {"title": "not found"})
        with self.server.lock:
            self.server.tokens_issued += 1
            n = self.server.tokens_issued
        self._send(200, {"access_token": f"bench-token-{n}", "expires_in": 900, "token_type": "Bearer"})

    def do_GET(self):
        if not re.match(rf"^/settings/v2/tenant/{TENANT}/business-units(\?|$)", self.path):
            return self._send(404, {"title": "not found", "status": 404})
        if not self.headers.get("Authorization", "").startswith("Bearer ") or not self.headers.get("ST-App-Key"):
            return self._send(401, {"title": "Unauthorized", "status": 401})
        if not self.server.admit():
            return self._send(429, {"type": "https://tools.ietf.org/html/rfc6585#section-4",
                                    "title": "Rate limit is exceeded. Try again in 1 seconds.", "status": 429,
                                    "traceId": "bench", "errors": {}, "data": {}}, {"Retry-After": "1"})
        self._send(200, {"page": 1, "pageSize": 1, "hasMore": False, "totalCount": None,
                         "data": [{"id": 1, "name": "Bench BU", "active": True}]})


def _client(base: str, **kwargs) -> ServiceTitanClient:
    return ServiceTitanClient(api_url=base, auth_url=f"{base}/connect/token", tenant=TENANT,
                              client_id="cid.bench", client_secret="cs.bench-secret", app_key="ak.bench-key",
                              **kwargs)


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def sustained_rate(base: str, server: FakeServiceTitan, seconds: float, threads: int) -> None:
    server.reset_counts()
    client = _client(base)
    client.tokens.authorization()  # sign in before the clock starts
    done = [0]
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds

    def work():
        while time.monotonic() < deadline:
            client.request("GET", "settings", "business-units", params={"active": "Any", "page": 1, "pageSize": 1})
            with lock:
                done[0] += 1

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 30)
    elapsed = time.monotonic() - started
    client.close()
    print(f"Sustained run: {seconds:.0f} s, {threads} threads")
    print(f"  requests completed:        {done[0]}")
    print(f"  achieved requests/s:       {done[0] / elapsed:.1f}  (goal >= 54, limit {LIMIT_PER_SECOND})")
    print(f"  429s caused:               {server.rejected}  (client saw {client.stats.rate_limited})")
    print(f"  busiest rolling second:    {_busiest_second(server.accepted_times)} requests at the server")
    print(f"  client retries:            {client.stats.retries}")


class _FakeClock:
    def __init__(self):
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def simulated_half_hour(base: str, server: FakeServiceTitan, step: float) -> None:
    server.limit_enabled = False  # simulated time runs far faster than the server's real clock
    server.reset_counts()
    fake = _FakeClock()
    client = _client(base, clock=fake.clock, sleep=fake.sleep)
    requests_sent = 0
    while fake.clock() < 30 * 60:
        client.request("GET", "settings", "business-units", params={"active": "Any", "page": 1, "pageSize": 1})
        requests_sent += 1
        fake.sleep(step)
    client.close()
    server.limit_enabled = True
    print(f"Simulated 30-minute run (fake clock, one request every {step:g} s)")
    print(f"  requests:                  {requests_sent}")
    print(f"  token requests:            {client.stats.token_requests}  (goal <= 3; tokens last 900 s)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the sustained run (max 120)")
    parser.add_argument("--threads", type=int, default=4, help="client threads in the sustained run")
    parser.add_argument("--step", type=float, default=5.0, help="simulated seconds between requests")
    args = parser.parse_args(argv)
    seconds = max(1.0, min(args.seconds, MAX_SECONDS))
    server = FakeServiceTitan()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        print(f"Fake ServiceTitan on {base} (limit {LIMIT_PER_SECOND} requests per rolling second)")
        sustained_rate(base, server, seconds, max(1, args.threads))
        simulated_half_hour(base, server, max(0.5, args.step))
    finally:
        server.shutdown()
        server.server_close()
        serving.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
