"""How long to wait before trying a ServiceTitan request again, and when to give up.

ServiceTitan documents neither its 429 answer nor Retry-After; clients in the wild see either a
`Retry-After` header or an RFC 7807 body whose title ends "... Try again in N seconds.",
so both are read, and exponential backoff with jitter covers the rest.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

_SECONDS_IN_TEXT = re.compile(r"(?i)(\d+(?:\.\d+)?)\s*(?:seconds?|secs?|s)\b")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8  # tries in total, the first one included
    max_total_wait: float = 300.0  # seconds slept across all retries of one request
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_retry_after: float = 120.0  # a server hint longer than this is capped, not obeyed blindly

    def backoff(self, retry_number: int, rng=random.random) -> float:
        """Seconds before retry `retry_number` (0 for the first retry): "equal jitter", so a
        retry never comes immediately yet concurrent clients spread out."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** retry_number))
        return ceiling / 2 + rng() * ceiling / 2


QUICK = RetryPolicy(max_attempts=2, max_total_wait=5.0, backoff_base=0.5, backoff_cap=2.0)


def retry_after_seconds(value: str | None, now_epoch: float) -> float | None:
    """The Retry-After header as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - now_epoch)


def seconds_hint_in_body(body: object) -> float | None:
    """A wait found in the RFC 7807 body: "Rate limit is exceeded. Try again in 3 seconds."."""
    if isinstance(body, dict):
        texts = [body.get(key) for key in ("title", "detail", "message")]
    elif isinstance(body, str):
        texts = [body]
    else:
        return None
    for text in texts:
        if isinstance(text, str):
            match = _SECONDS_IN_TEXT.search(text)
            if match:
                return float(match.group(1))
    return None
