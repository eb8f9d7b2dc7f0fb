"""What a second launch meets on Windows when the first holds the instance lock (msvcrt.locking):
the lock call and any read of the locked byte answer PermissionError (errno EACCES)."""
from __future__ import annotations

import errno
import importlib
import os

from desktop_app.core import instance_lock


class LockedForReading:
    """A file whose locked first byte another process cannot read, as on Windows."""

    def __init__(self, fh):
        self._fh = fh

    def read(self, *args):
        raise PermissionError(errno.EACCES, "Permission denied")

    def __getattr__(self, name):
        return getattr(self._fh, name)


def simulate_held_windows_lock(monkeypatch) -> None:
    """The OS lock call refuses with Windows' error, and the lock file cannot be read."""
    def held(*args):
        raise PermissionError(errno.EACCES, "Permission denied")

    module, call = ("msvcrt", "locking") if os.name == "nt" else ("fcntl", "flock")
    monkeypatch.setattr(importlib.import_module(module), call, held)
    real_open = open
    monkeypatch.setattr(instance_lock, "open", lambda *a, **k: LockedForReading(real_open(*a, **k)), raising=False)
