"""The GUI's only way to the engine: jobs on the worker, database work on a db thread.

Results come back to the GUI thread through Qt signals relayed by a @Slot of a QObject that
lives in the GUI thread (under PySide6 a lambda connected to a signal emitted in another thread
would run in that thread). The GUI thread itself never waits on the network or the database.

Progress events are coalesced: a sync reports progress once per document (thousands), and each
queued signal into a Python slot makes the GUI thread take the GIL back from the busy worker. The
bridge keeps only the newest progress of each job and hands it on at most every PROGRESS_MS.
"""
from __future__ import annotations

import concurrent.futures
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop_app.core import logs
from desktop_app.core.db import database
from desktop_app.core.redact import redact
from desktop_app.sync.jobs import JobEvent, JobWorker

log = logging.getLogger("desktop_app.ui")

PROGRESS_MS = 100  # at most ten progress updates a second reach the pages


class EngineBridge(QObject):
    jobEvent = Signal(object)      # JobEvent, in the GUI thread
    logRecord = Signal(object)     # logging.LogRecord, in the GUI thread
    dataChanged = Signal(str)      # "invoices", "mappings", "settings", … something the pages should re-read

    _relayJob = Signal(object)
    _relayProgress = Signal()      # "there is newer progress": at most one queued at a time
    _relayLog = Signal(object)
    _relayDb = Signal(int, object, object)  # call id, result, error message

    def __init__(self, worker: JobWorker, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = worker
        self._db_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ml-connector-db")
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self._job_callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self._progress_lock = threading.Lock()
        self._progress: dict[int, JobEvent] = {}  # job id → newest progress not delivered yet
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_MS)
        self._progress_timer.timeout.connect(self._flush_progress)
        self._relayJob.connect(self._deliver_job)
        # a cross-thread signal goes to a Python @Slot, never straight to a C++ method such as
        # QTimer.start: PySide 6.8+ can crash queuing it to one (PYSIDE-3124)
        self._relayProgress.connect(self._schedule_flush)
        self._relayLog.connect(self._deliver_log)
        self._relayDb.connect(self._deliver_db)
        worker.add_listener(self._from_worker)
        logs.live_feed.subscribe(self._relayLog.emit)
        self._closed = False

    # -- jobs: anything that talks to ServiceTitan or SYSPRO
    def run_job(self, kind: str, func: Callable, *, actor: str = "user", dry_run: bool = False, unique: bool = False,
                isolated: bool = False, on_done: Callable[[Any], None] | None = None,
                on_error: Callable[[str], None] | None = None):
        job = self.worker.submit(kind, func, actor=actor, dry_run=dry_run, unique=unique, isolated=isolated)
        if job is not None:
            self._job_callbacks[job.id] = (on_done, on_error)
        return job

    # -- database reads and small writes (mapping edits, settings), off the GUI thread
    def db_call(self, func: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
                on_error: Callable[[str], None] | None = None) -> None:
        if self._closed:
            return
        call_id = next(self._ids)
        self._callbacks[call_id] = (on_done, on_error)

        def task():
            try:
                with database.connection_context():
                    result = func()
            except Exception as exc:  # reported to the GUI as a sentence
                log.debug("db call failed", exc_info=True)
                self._relayDb.emit(call_id, None, redact(str(exc)) or type(exc).__name__)
            else:
                self._relayDb.emit(call_id, result, None)

        self._db_pool.submit(task)

    def wait_idle(self, timeout: float = 10) -> None:
        """Tests and shutdown: wait for queued db calls to finish."""
        self._db_pool.submit(lambda: None).result(timeout)

    def close(self) -> None:
        """Stop taking calls and events. Also breaks the bridge ↔ worker reference cycle, so that the
        bridge (a QObject with a timer of the GUI thread) is freed when the GUI thread lets go of it,
        not by a garbage collection that may run in any thread."""
        if self._closed:
            return
        self._closed = True
        self.worker.remove_listener(self._from_worker)
        logs.live_feed.unsubscribe(self._relayLog.emit)
        self._progress_timer.stop()
        self._db_pool.shutdown(wait=True)

    def _from_worker(self, event: JobEvent) -> None:
        """Runs in the worker thread: progress is kept for the next flush, anything else is relayed."""
        if event.kind == "progress":
            with self._progress_lock:
                wake = not self._progress
                self._progress[event.job_id] = event
            if wake:
                self._relayProgress.emit()
            return
        self._relayJob.emit(event)

    @Slot()
    def _schedule_flush(self) -> None:
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    @Slot()
    def _flush_progress(self) -> None:
        with self._progress_lock:
            events, self._progress = list(self._progress.values()), {}
        for event in events:
            self.jobEvent.emit(event)

    @Slot(object)
    def _deliver_job(self, event: JobEvent) -> None:
        late = None
        if event.kind in ("finished", "failed", "cancelled"):
            with self._progress_lock:
                late = self._progress.pop(event.job_id, None)
        if late is not None:  # the job's last progress comes before its end
            self.jobEvent.emit(late)
        self.jobEvent.emit(event)
        if event.kind in ("finished", "failed", "cancelled"):
            on_done, on_error = self._job_callbacks.pop(event.job_id, (None, None))
            if event.kind == "failed" and on_error:
                on_error(event.message)
            elif event.kind != "failed" and on_done:
                on_done(event.result)
            self.dataChanged.emit("invoices")

    @Slot(object)
    def _deliver_log(self, record) -> None:
        self.logRecord.emit(record)

    @Slot(int, object, object)
    def _deliver_db(self, call_id: int, result, error) -> None:
        on_done, on_error = self._callbacks.pop(call_id, (None, None))
        if error is not None:
            if on_error:
                on_error(error)
        elif on_done:
            on_done(result)
