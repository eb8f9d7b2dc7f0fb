"""One sync cycle at a time per data directory, across processes.

SYSPRO keeps one live e.net session per operator: a second logon evicts the first. So whatever logs
on as the profile's operator - a cycle, a Retry, a connection test - holds this lock while it may
be logged on, and a second one waits for it or is refused instead of evicting a post in flight.

The instance lock keeps a second app or CLI away while the first one runs, but when the app dies
its engine process lives on until it has finished the document it was posting, and the instance
lock died with the app. This lock is held by whoever runs a cycle (the engine process, the CLI,
the GUI's worker for the jobs it runs itself), so a new app or CLI cannot start a cycle - and
write over the rows the old engine is still writing - before that engine has stopped. It is an OS
file lock, released by the OS when its process ends, so a crash never leaves it stale.

Within one process it is re-entrant (the job worker runs one job at a time there): a job that
holds it may run a cycle, which takes it again.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from desktop_app.core import paths
from desktop_app.core.errors import ConfigError
from desktop_app.core.instance_lock import AlreadyRunning, InstanceLock

# Long enough for an engine whose app died to finish its current document: one request to SYSPRO
# (the connect and read timeouts, 110 s by default) and the look-up that may follow it.
WAIT_S = 240.0
POLL_S = 0.2
SAY_EVERY_S = 5.0


class CycleBusy(ConfigError):
    """Another process runs a sync cycle on this data folder. Exit code 2, as for a second copy of
    the app (AlreadyRunning): nothing is wrong with the servers, the person only has to wait."""


_guard = threading.Lock()
_held: InstanceLock | None = None
_depth = 0


def cycle_lock_path() -> Path:
    return paths.data_dir() / "ml-connector-cycle.lock"


def holder() -> str | None:
    """The pid written by the process holding the lock, if it can be read."""
    try:
        return cycle_lock_path().read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


@contextlib.contextmanager
def held(*, wait_s: float | None = None, on_wait: Callable[[str], None] | None = None,
         purpose: str = "a sync cycle") -> Iterator[None]:
    """Hold the cycle lock for the block, waiting up to `wait_s` (WAIT_S) for another process to
    release it; CycleBusy, naming `purpose`, when it does not. `on_wait` is called with a sentence
    every few seconds of waiting (progress for the GUI, a sign of life for the engine's watchdog);
    what it raises (a cancellation) ends the wait."""
    global _held, _depth
    with _guard:
        if _held is not None:
            _depth += 1
            mine = False
        else:
            mine = True
    if mine:
        lock = _acquire(WAIT_S if wait_s is None else wait_s, on_wait, purpose)
        with _guard:
            _held, _depth = lock, 1
    try:
        yield
    finally:
        with _guard:
            _depth -= 1
            release = _held if _depth == 0 else None
            if release is not None:
                _held = None
        if release is not None:
            release.release()


def _acquire(wait_s: float, on_wait, purpose: str) -> InstanceLock:
    path = cycle_lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    said = 0.0
    while True:
        try:
            return InstanceLock(path).acquire()
        except AlreadyRunning:
            pass
        now = time.monotonic()
        who = holder() or "another process"
        if now >= deadline:
            raise CycleBusy(
                f"A sync is still running on the data folder {path.parent} (process {who}), so {purpose} "
                "cannot start now: SYSPRO allows one session per operator and a second logon would end the "
                "sync's. A sync whose app was closed finishes the document it is posting first. Nothing was "
                "started. Try again in a few minutes; if it never ends, end that process in the Task Manager.")
        if on_wait is not None and now - said >= SAY_EVERY_S:
            said = now
            on_wait(f"Waiting for the sync still running in process {who} to finish its current document")
        time.sleep(POLL_S)
