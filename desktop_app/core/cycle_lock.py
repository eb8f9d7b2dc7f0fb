"""One sync cycle at a time per data directory, across processes.

SYSPRO keeps one live e.net session per operator: a second logon evicts the first. So whatever
logs on as the profile's operator - a cycle (CLI `sync`, the GUI's engine process), a Retry, a
connection test - holds this lock while it may be logged on, and a second one waits for it or is
refused, instead of evicting the session of a post in flight.

An OS file lock on `cycle.lock` in the data directory, like the single-instance lock: released by
the OS when the holder dies, so a crash never leaves it behind. The lock is taken on a byte past
the holder's description, which stays readable for the message a waiting process shows (on
Windows a locked region cannot be read). A process that holds it may take it again (nested).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from desktop_app.core import paths
from desktop_app.core.errors import ConfigError

LOCK_NAME = "cycle.lock"
_LOCKED_BYTE = 4096  # the holder's description is written before it
POLL_S = 0.2


class CycleRunning(ConfigError):
    """Another process holds the cycle lock (exit 2: nothing is wrong with either server or the
    settings, the command cannot run now - the same answer as a second copy of the app)."""


def path() -> Path:
    return paths.data_dir() / LOCK_NAME


_local = threading.RLock()
_depth = 0
_fh = None


def _try_lock(fh) -> bool:
    try:
        if os.name == "nt":
            import msvcrt

            fh.seek(_LOCKED_BYTE)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fh) -> None:
    try:
        if os.name == "nt":
            import msvcrt

            fh.seek(_LOCKED_BYTE)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


_WIDTH = 200  # the description is written over the last one at a fixed width: nothing to truncate


def _open():
    return os.fdopen(os.open(path(), os.O_RDWR | os.O_CREAT, 0o600), "r+", encoding="utf-8")


def holder() -> str:
    """What the current holder wrote about itself ("process 123: a sync cycle"), or a plain phrase."""
    try:
        with open(path(), encoding="utf-8") as fh:
            text = fh.read(_LOCKED_BYTE).strip()
    except OSError:
        text = ""
    return text or "another process"


def is_held() -> bool:
    """True while some process (this one included) holds the lock."""
    with _local:
        if _depth:
            return True
        fh = _open()
        if _try_lock(fh):
            _unlock(fh)
            return False
        fh.close()
        return True


def wait(timeout: float) -> bool:
    """Wait up to `timeout` seconds for no other process to hold the lock (without taking it).
    True when it is free."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        if not is_held():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def acquire(*, timeout: float = 0.0, purpose: str = "a sync cycle") -> None:
    """Take the lock, waiting up to `timeout` seconds; CycleRunning when another process keeps it.
    Pair with `release()`; `hold()` does both."""
    global _depth, _fh
    deadline = time.monotonic() + max(0.0, timeout)
    with _local:
        if _depth:
            _depth += 1
            return
        while True:
            fh = _open()
            if _try_lock(fh):
                break
            fh.close()
            if time.monotonic() >= deadline:
                waited = f" (waited {timeout:.0f} s)" if timeout >= 1 else ""
                raise CycleRunning(
                    f"A sync is running for the data folder {paths.data_dir()} ({holder()}){waited}, so "
                    f"{purpose} cannot start now: SYSPRO allows one session per operator and a second logon "
                    "would end the sync's. Try again when the sync has finished (the app's dashboard or "
                    "'ml-connector status' shows it).")
            time.sleep(POLL_S)
        fh.seek(0)
        fh.write(f"process {os.getpid()}: {purpose}"[:_WIDTH].ljust(_WIDTH))
        fh.flush()
        _fh, _depth = fh, 1


def release() -> None:
    global _depth, _fh
    with _local:
        if not _depth:
            return
        _depth -= 1
        if _depth:
            return
        fh, _fh = _fh, None
        try:
            fh.seek(0)
            fh.write(" " * _WIDTH)
            fh.flush()
        except OSError:
            pass  # the next holder writes its own description
        _unlock(fh)


@contextmanager
def hold(*, timeout: float = 0.0, purpose: str = "a sync cycle") -> Iterator[None]:
    """`with cycle_lock.hold(timeout=30, purpose="the connection test"):` - run with the lock held."""
    acquire(timeout=timeout, purpose=purpose)
    try:
        yield
    finally:
        release()
