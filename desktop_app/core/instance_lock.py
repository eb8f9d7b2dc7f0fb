"""One running ml-connector per data directory.

An OS file lock (released by the OS when the process dies, so a crash never leaves a stale
lock) on a file in the data directory. The holder's pid is written for the error message.

On Windows a held lock answers with PermissionError (EACCES), both to the lock call and to a read
of the locked byte: each means "another copy runs", never a crash of the second launch.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from desktop_app.core import paths
from desktop_app.core.errors import ConfigError


class AlreadyRunning(ConfigError):
    pass


class InstanceLock:
    def __init__(self, path: Path | None = None):
        self.path = path or paths.lock_path()
        self._fh: TextIO | None = None

    def acquire(self) -> InstanceLock:
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            _lock_file(fh)
        except OSError:  # PermissionError on Windows, BlockingIOError elsewhere: held by another copy
            holder = _holder(fh)
            fh.close()
            raise AlreadyRunning(
                f"ml-connector is already running for the data folder {self.path.parent} "
                f"(process {holder}). Use the running copy (look for its tray icon), or quit it first."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            _unlock_file(self._fh)
            self._fh.close()
            self._fh = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _lock_file(fh) -> None:
    """Lock the file's first byte without waiting; OSError when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock_file(fh) -> None:
    if sys.platform != "win32":  # Windows releases the byte when the file is closed
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _holder(fh) -> str:
    """The pid the running copy wrote, when it can be read (Windows refuses to read a locked byte)."""
    try:
        fh.seek(0)
        return fh.read(32).strip() or "another process"
    except (OSError, ValueError):
        return "another process"
