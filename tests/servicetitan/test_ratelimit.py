"""The client-side limiter: never more than N requests in any rolling window, shared per tenant."""
from __future__ import annotations

import bisect
import threading

import responses

from desktop_app.servicetitan.ratelimit import RollingWindowLimiter, shared_limiter

from .st_fakes import FakeTime, api, page


def _max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


def test_never_more_than_rate_in_any_rolling_window():
    fake = FakeTime()
    limiter = RollingWindowLimiter(60, window=1.0, clock=fake.clock, sleep=fake.sleep)
    sent = []
    for i in range(300):
        limiter.acquire()
        sent.append(fake.clock())
        fake.advance(0.001 if i % 7 else 0.03)  # bursty callers
    assert _max_in_any_window(sent, 1.0) == 60
    # and it does not throttle more than needed: 300 requests take about 5 windows
    assert sent[-1] - sent[0] < 5.2


def test_lower_configured_rate_is_honoured():
    fake = FakeTime()
    limiter = RollingWindowLimiter(10, window=1.0, clock=fake.clock, sleep=fake.sleep)
    sent = []
    for _ in range(50):
        limiter.acquire()
        sent.append(fake.clock())
    assert _max_in_any_window(sent, 1.0) == 10


def test_thread_safe_under_contention():
    fake = FakeTime()
    limiter = RollingWindowLimiter(20, window=1.0, clock=fake.clock, sleep=fake.sleep)
    sent = []
    lock = threading.Lock()

    def work():
        for _ in range(25):
            limiter.acquire()
            with lock:
                sent.append(fake.clock())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(sent) == 200
    assert _max_in_any_window(sent, 1.0) <= 20


def test_pause_holds_everyone_back():
    fake = FakeTime()
    limiter = RollingWindowLimiter(60, clock=fake.clock, sleep=fake.sleep)
    start = fake.clock()
    limiter.pause_for(4)
    limiter.acquire()
    assert fake.clock() - start >= 4


def test_one_limiter_per_tenant_shared_by_clients(make_client, fake_time):
    a = make_client()
    b = make_client(max_requests_per_second=30)
    other_tenant = make_client(tenant="999")
    assert a._limiter is b._limiter
    assert a._limiter.rate == 30  # the latest configuration wins
    assert other_tenant._limiter is not a._limiter
    assert shared_limiter(a.api_url, a.tenant, 30, clock=fake_time.clock, sleep=fake_time.sleep) is a._limiter


def test_client_requests_go_through_the_limiter(st, tokens, make_client, fake_time):
    url = api("settings", "technicians")
    st.add(responses.GET, url, json=page([]))
    client = make_client(max_requests_per_second=5)
    stamps = []
    for _ in range(12):
        client.technicians()
        stamps.append(fake_time.clock())
    assert _max_in_any_window(stamps, 1.0) <= 5
    assert fake_time.clock() - stamps[0] >= 2  # 12 requests at 5/s need at least two more windows
