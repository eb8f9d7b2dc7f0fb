"""Logging: a rotating file in the data directory, a live feed for the GUI, and redaction.

Every handler carries the redaction filter, so a secret that slips into a message, an argument
or a traceback is masked before it is written anywhere.
"""
from __future__ import annotations

import collections
import logging
import logging.handlers
import threading
from collections.abc import Callable

from desktop_app.core import paths
from desktop_app.core.log_text import ControlCharacterFilter
from desktop_app.core.redact import redact

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(flow)s] %(message)s"


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # format the traceback now, redacted, and drop the live exception object
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        if not hasattr(record, "flow"):
            record.flow = record.name.rsplit(".", 1)[-1] if record.name.startswith("desktop_app.sync") else "-"
        return True


class LiveFeed(logging.Handler):
    """Keeps the last N records and forwards new ones to subscribers (the GUI's live log)."""

    def __init__(self, capacity: int = 5000):
        super().__init__(logging.INFO)
        self.records: collections.deque[logging.LogRecord] = collections.deque(maxlen=capacity)
        self._subscribers: list[Callable[[logging.LogRecord], None]] = []
        self._sub_lock = threading.Lock()
        self.addFilter(RedactingFilter())
        self.addFilter(ControlCharacterFilter())

    def subscribe(self, callback: Callable[[logging.LogRecord], None]) -> None:
        with self._sub_lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[logging.LogRecord], None]) -> None:
        with self._sub_lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        with self._sub_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(record)
            except Exception:  # a broken subscriber must not break logging
                pass


live_feed = LiveFeed()
_configured_for: str | None = None


def setup_logging(level: int = logging.INFO, *, console: bool = False) -> None:
    """Attach the file log of the current data directory (idempotent per data directory)."""
    global _configured_for
    root = logging.getLogger("desktop_app")
    log_file = paths.log_dir() / "ml-connector.log"
    if _configured_for == str(log_file):
        return
    for handler in list(root.handlers):
        if getattr(handler, "_ml_connector", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=5_000_000, backupCount=5, encoding="utf-8", delay=True
    )
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    file_handler.addFilter(RedactingFilter())
    file_handler.addFilter(ControlCharacterFilter())
    file_handler._ml_connector = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    if live_feed not in root.handlers:
        root.addHandler(live_feed)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        stream.addFilter(RedactingFilter())
        stream.addFilter(ControlCharacterFilter())
        stream.setLevel(logging.WARNING)
        stream._ml_connector = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    root.setLevel(level)
    _configured_for = str(log_file)


def reset_logging() -> None:
    """Detach file handlers (tests switch data directories)."""
    global _configured_for
    root = logging.getLogger("desktop_app")
    for handler in list(root.handlers):
        if getattr(handler, "_ml_connector", False):
            root.removeHandler(handler)
            handler.close()
    _configured_for = None
