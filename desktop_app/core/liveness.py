"""Signs of life from the engine, for the app's watchdog (sync/engine_process.py).

The engine calls `beat()` where it knows it is getting on - between documents, before each
ServiceTitan attempt, at each OData page - and the engine process forwards the beats to the app
(at most one a second). What may stay silent is one wait: a single HTTP request, bounded by the
connect and read timeouts, or one retry pause; the watchdog's time is never shorter than those.
Outside the engine process nobody listens and a beat costs a function call.
"""
from __future__ import annotations

from collections.abc import Callable

_listener: Callable[[], None] | None = None


def set_listener(listener: Callable[[], None] | None) -> None:
    global _listener
    _listener = listener


def beat() -> None:
    listener = _listener
    if listener is not None:
        listener()
