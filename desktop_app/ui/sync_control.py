"""Sync now, Pause/Resume and the state of the running cycle, shared by dashboard, tray and window.

The scheduler submits cycles straight to the worker from its own thread (`JobWorker.submit` is
thread-safe); every cycle, whoever started it, is seen here through the bridge's jobEvent.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.core import config
from desktop_app.core.errors import ConnectionResult
from desktop_app.sync.jobs import CycleScheduler, JobEvent
from desktop_app.sync.rehearsal import Rehearsal, cycle_or_rehearsal, posting_enabled, scheduled_cycle_or_rehearsal

log = logging.getLogger("desktop_app.ui")

CYCLE = "cycle"
SYNC_STARTED = "Sync started."
REHEARSAL_STARTED = ("Posting is off, so a rehearsal started: nothing is posted. Read it on the Rehearsal page and "
                     "start posting there.")


def submit_cycle(worker, actor: str):
    """What the scheduler calls (from its thread): one cycle job, collapsed if one is already queued."""
    # the interval's own cycles leave what rarely changes until its time is up; a catch-up reads all
    func = scheduled_cycle_or_rehearsal if actor == "scheduler" else cycle_or_rehearsal
    return worker.submit(CYCLE, func, actor=actor, unique=True, isolated=True)


def cycle_problems(result) -> dict[str, int]:
    """Failed / in-doubt / needs-mapping counts of a finished cycle's result (any flow)."""
    totals = {"failed": 0, "in_doubt": 0, "needs_mapping": 0}
    data = result.as_dict() if hasattr(result, "as_dict") else (result or {})
    for summary in data.values():
        if isinstance(summary, dict):
            for key in totals:
                value = summary.get(key, 0)
                totals[key] += value if isinstance(value, int) else len(value or ())
    return totals


class SyncControl(QObject):
    pausedChanged = Signal(bool)
    cycleStarted = Signal(str)               # actor
    cycleProgress = Signal(int, int, str)    # done, total, message
    cycleEnded = Signal(str, str, object)    # finished|failed|cancelled, sentence, result
    notice = Signal(str)                     # a short sentence for the status bar

    def __init__(self, bridge, scheduler: CycleScheduler | None = None, *, paused: bool = False,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.scheduler = scheduler
        self.paused = paused
        self.running = False
        self.progress_message = ""  # the running cycle's latest progress sentence
        self.last_outcome: tuple[str, str] | None = None
        bridge.jobEvent.connect(self._on_job_event)
        bridge.dataChanged.connect(self._on_data_changed)

    # -- actions
    @Slot()
    def sync_now(self) -> None:
        if self.bridge.worker.has_pending(CYCLE):
            self.notice.emit("A sync is already running; it will pick up everything new.")
            return
        self.bridge.run_job(CYCLE, cycle_or_rehearsal, actor="sync-now", unique=True, isolated=True)
        self.bridge.db_call(posting_enabled,
                            on_done=lambda on: self.notice.emit(SYNC_STARTED if on else REHEARSAL_STARTED),
                            on_error=lambda _message: self.notice.emit(SYNC_STARTED))

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if self.scheduler is not None:
            (self.scheduler.pause if paused else self.scheduler.resume)()
        self.bridge.db_call(lambda: config.save_setting("sync.paused", "true" if paused else "false", actor="user"),
                            on_error=self.notice.emit)
        self.pausedChanged.emit(paused)
        self.notice.emit("Scheduled syncs paused." if paused else "Scheduled syncs resumed.")

    @Slot()
    def toggle_paused(self) -> None:
        self.set_paused(not self.paused)

    def next_run_time(self):
        return None if self.scheduler is None else self.scheduler.next_run_time()

    # -- what the worker reports
    @Slot(object)
    def _on_job_event(self, event: JobEvent) -> None:
        if event.job_kind != CYCLE:
            return
        if event.kind == "started":
            self.running = True
            self.cycleStarted.emit(event.actor)
        elif event.kind == "progress":
            self.progress_message = event.message
            self.cycleProgress.emit(event.done, event.total, event.message)
        elif event.kind in ("finished", "failed", "cancelled"):
            self.running = False
            self.progress_message = ""
            kind, sentence = event.kind, event.message
            if kind == "finished":
                sentence = self._finished_sentence(event.result)
                if getattr(event.result, "errors", None):
                    kind = "failed"  # a flow could not run: for the user the sync failed
            self.last_outcome = (kind, sentence)
            self.cycleEnded.emit(kind, sentence, event.result)

    @staticmethod
    def _finished_sentence(result) -> str:
        if isinstance(result, Rehearsal):
            return (f"Rehearsal finished, nothing was posted (posting is off): {result.headline()}."
                    + (" Some flows could not be rehearsed; see the Rehearsal page." if result.problems else ""))
        problems = cycle_problems(result)
        errors = getattr(result, "errors", {}) or {}
        if errors:
            return "Sync did not complete. " + " ".join(
                msg if len(errors) == 1 else f"{flow}: {msg}" for flow, msg in errors.items())
        parts = [f"{n} {label}" for n, label in ((problems["failed"], "failed"),
                                                 (problems["in_doubt"], "in doubt"),
                                                 (problems["needs_mapping"], "need mapping")) if n]
        return "Sync finished" + (f": {', '.join(parts)}." if parts else "; everything went through.")

    @Slot(str)
    def _on_data_changed(self, what: str) -> None:
        if what == "settings" and self.scheduler is not None:
            self.bridge.db_call(config.load_settings, on_done=self._apply_settings)

    def _apply_settings(self, settings) -> None:
        minutes = settings["sync.interval_minutes"]
        if self.scheduler is not None and minutes != self.scheduler.interval_minutes:
            self.scheduler.set_interval(minutes)
        if settings["sync.paused"] != self.paused:
            self.paused = settings["sync.paused"]
            if self.scheduler is not None:
                (self.scheduler.pause if self.paused else self.scheduler.resume)()
            self.pausedChanged.emit(self.paused)


# -- Test connection, shared by the wizard and the Settings page
SYSTEMS = {"servicetitan": "ServiceTitan", "syspro": "SYSPRO"}


def test_job_kind(system: str) -> str:
    return f"test-{system}"


@dataclass
class ConnectionCheck(ConnectionResult):
    """A ConnectionResult the job worker can record in job_run.summary (the dashboard reads it)."""

    def as_dict(self) -> dict:
        return {"system": self.system, "ok": self.ok, "message": self.message, "details": list(self.details)}


def connection_test(system: str):
    """The job function for one system's Test connection (runs on the worker: it logs on)."""
    def job(ctx):
        from desktop_app.sync.connection import test_servicetitan, test_syspro

        check = test_servicetitan if system == "servicetitan" else test_syspro
        return ConnectionCheck(**vars(check(ctx.settings)))
    return job


def run_connection_test(bridge, system: str, on_result: Callable[[ConnectionResult], None]):
    """Queue a test; `on_result` always gets a ConnectionResult, also when the job itself failed."""
    def failed(message: str) -> None:
        on_result(ConnectionResult(SYSTEMS[system], False, message))

    def done(result) -> None:
        if result is None:
            failed("The test was cancelled.")
        else:
            on_result(result)

    return bridge.run_job(test_job_kind(system), connection_test(system), actor="user",
                          on_done=done, on_error=failed)
