"""Client-side limit of ServiceTitan calls per rolling second, shared per tenant.

ServiceTitan allows 60 calls per second per application per tenant. Every flow and
thread of this process that talks to one tenant draws from the same limiter, so running the
vendor and invoice flows side by side cannot add up past the limit. The window is a little
longer than a second because the server counts arrival times, which network jitter squeezes.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections import deque

WINDOW_SECONDS = 1.0
SAFETY_MARGIN_SECONDS = 0.05
_MIN_SLEEP = 0.001


class RollingWindowLimiter:
    """At most `rate` acquisitions in any window of `window` seconds (a sliding log)."""

    def __init__(self, rate: int, *, window: float = WINDOW_SECONDS + SAFETY_MARGIN_SECONDS,
                 clock=time.monotonic, sleep=time.sleep):
        if rate < 1:
            raise ValueError("rate must be at least 1 request per second")
        self.rate = rate
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._paused_until = 0.0

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if now < self._paused_until:
                    wait = self._paused_until - now
                elif len(self._sent) >= self.rate:
                    wait = self._sent[len(self._sent) - self.rate] + self.window - now
                else:
                    self._sent.append(now)
                    return waited
            wait = max(wait, _MIN_SLEEP)
            self._sleep(wait)
            waited += wait

    def pause_for(self, seconds: float) -> None:
        """Hold every caller back, e.g. after a 429 told us to wait."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


_shared: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def shared_limiter(api_url: str, tenant: str, rate: int, *, clock=time.monotonic,
                   sleep=time.sleep) -> RollingWindowLimiter:
    """The process-wide limiter for one tenant. The most recently configured rate wins.

    Clients given their own clock (tests, the benchmark's simulated run) get their own limiter,
    since timestamps from different clocks cannot share one log.
    """
    key = (api_url.rstrip("/").lower(), str(tenant), clock, sleep)
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = RollingWindowLimiter(rate, clock=clock, sleep=sleep)
            _shared[key] = limiter
        else:
            limiter.rate = rate
        return limiter
