"""Background scheduling priority for the thread that runs sync jobs.

During a big cycle the job worker is busy for minutes: building documents, the ledger's SQLite
writes, HTTP. On an accounting PC with two or four cores it competes for a CPU with the GUI
thread and with whatever the user is doing meanwhile. Like an operating system's own background
services, the worker asks for a lower priority: with a CPU free it runs at full speed, and when an
interactive thread becomes ready to run (the GUI's next frame, the user's spreadsheet) that one
runs first instead of waiting for the worker's time slice to end.

Only the calling thread changes. Windows: `SetThreadPriority(THREAD_PRIORITY_BELOW_NORMAL)`.
Linux: the nice value, which is a per-thread attribute there (setpriority(2) given the thread's
id). Elsewhere nothing changes. A failure is logged and otherwise ignored: the priority is a
courtesy, never a reason to stop syncing.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger("desktop_app.core.thread_priority")

BACKGROUND_NICE = 10  # Linux: a nice-10 thread gets ~10 % of a CPU that a nice-0 thread also wants
_THREAD_PRIORITY_BELOW_NORMAL = -1  # winbase.h


def lower_current_thread_priority() -> bool:
    """Give the calling thread a background priority; returns whether it now has one."""
    try:
        if sys.platform == "win32":
            import ctypes

            kernel32 = ctypes.windll.kernel32
            return bool(kernel32.SetThreadPriority(kernel32.GetCurrentThread(), _THREAD_PRIORITY_BELOW_NORMAL))
        if sys.platform.startswith("linux"):
            tid = threading.get_native_id()
            # raise the nice value only: a process already started with `nice` keeps its own
            wanted = max(os.getpriority(os.PRIO_PROCESS, tid), BACKGROUND_NICE)
            os.setpriority(os.PRIO_PROCESS, tid, wanted)
            return os.getpriority(os.PRIO_PROCESS, tid) >= BACKGROUND_NICE
    except (OSError, AttributeError) as exc:
        log.info("Could not lower the sync worker's priority (%s); it runs at normal priority.", exc)
    return False
