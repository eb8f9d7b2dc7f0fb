"""One worker thread runs every job — scheduled cycles, Sync now, Retry, look-ups — one at a time.

SYSPRO allows one session per operator, and the database is happiest with one writer, so
nothing talks to the APIs outside this worker. Each job gets a SyncContext with a cancel flag
that the flows check between documents; its run is recorded in `job_run` (Vorta's event log).
An isolated job (the GUI's sync cycles) runs in the worker's engine process instead of its thread
(`engine_process`), still one job at a time: the worker thread waits for it and relays its
progress and the cancel flag.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import logging
import pickle
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core import cycle_lock
from desktop_app.core.db import JobRun, database, utcnow
from desktop_app.core.errors import ConnectorError
from desktop_app.core.redact import redact
from desktop_app.sync.context import Cancelled, SyncContext
from desktop_app.sync.engine_process import EngineProcess

log = logging.getLogger("desktop_app.sync.jobs")

JobFunc = Callable[[SyncContext], Any]


@dataclass
class Job:
    id: int
    kind: str
    actor: str
    func: JobFunc
    dry_run: bool = False
    isolated: bool = False  # runs in the engine process (when the worker has one)
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    cancel_event: threading.Event = field(default_factory=threading.Event)


@dataclass
class JobEvent:
    """What the GUI hears: started, progress, finished, failed, cancelled."""

    kind: str
    job_id: int
    job_kind: str
    actor: str
    done: int = 0
    total: int = 0
    message: str = ""
    result: Any = None


class JobWorker:
    def __init__(self, *, context_factory: Callable[..., SyncContext] = SyncContext.from_database,
                 on_event: Callable[[JobEvent], None] | None = None, preload: Callable[[], None] | None = None,
                 engine: EngineProcess | None = None):
        self._preload = preload  # run in the worker thread before its first job (sync.cycle.preload)
        # where isolated jobs run (the GUI's sync cycles); owned by the worker, which stops it
        self.engine = engine
        self.preloaded = threading.Event()  # set once the preload has run (or failed)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._context_factory = context_factory
        self._listeners: list[Callable[[JobEvent], None]] = [on_event] if on_event else []
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending: list[Job] = []
        self.current: Job | None = None

    def add_listener(self, listener: Callable[[JobEvent], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[JobEvent], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ml-connector-worker", daemon=True)
            self._thread.start()

    def cancel_all(self) -> None:
        """Cancel what is queued and ask the current job to stop after its current document."""
        with self._lock:
            for job in self._pending:
                job.cancel_event.set()
            if self.current is not None:
                self.current.cancel_event.set()

    def abandon_current(self) -> None:
        """End the engine process now, from any thread: its job fails at once, without finishing
        its current document (a document it was posting is looked up in SYSPRO by the next cycle,
        as after any crash). A job on the worker's own thread cannot be ended; it stays cancelled."""
        self.cancel_all()
        if self.engine is not None:
            self.engine.kill()

    def stop(self, timeout: float | None = 60) -> bool:
        """Cancel what is queued, let the current job stop after its current document, then end."""
        self.cancel_all()
        self._queue.put(None)
        alive = False
        if self._thread is not None:
            self._thread.join(timeout)
            alive = self._thread.is_alive()
            if not alive:
                self._thread = None
        if self.engine is not None and not alive:
            self.engine.close()
        return not alive

    @property
    def busy(self) -> bool:
        with self._lock:
            return self.current is not None or bool(self._pending)

    def has_pending(self, kind: str) -> bool:
        with self._lock:
            jobs = list(self._pending) + ([self.current] if self.current else [])
        return any(job.kind == kind and not job.cancel_event.is_set() for job in jobs)

    def submit(self, kind: str, func: JobFunc, *, actor: str, dry_run: bool = False,
               unique: bool = False, isolated: bool = False) -> Job | None:
        """Queue a job. With unique=True, a job of the same kind already waiting makes this a no-op.
        With isolated=True it runs in the engine process when the worker has one: `func` must then be
        a module-level function or a functools.partial of one (it is sent by pickle)."""
        isolated = isolated and self.engine is not None
        if isolated:
            try:
                pickle.dumps(func)
            except (pickle.PicklingError, AttributeError, TypeError) as exc:
                raise TypeError(f"an isolated job needs a module-level function, not {func!r}: {exc}") from None
        with self._lock:
            if unique and any(job.kind == kind for job in self._pending):
                return None
            job = Job(id=next(self._ids), kind=kind, actor=actor, func=func, dry_run=dry_run, isolated=isolated)
            self._pending.append(job)
        self._queue.put(job)
        return job

    def cancel_current(self) -> None:
        with self._lock:
            if self.current is not None:
                self.current.cancel_event.set()

    def _emit(self, event: JobEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a job listener failed")

    def _run(self) -> None:
        if self._preload is not None:
            try:
                self._preload()
            except Exception:  # the jobs still run; they import what they need themselves
                log.warning("Preloading the sync engine failed", exc_info=True)
        self.preloaded.set()
        if self.engine is not None:
            # now, so that the first Sync now does not wait for it; on its own thread, so that the
            # jobs that need no engine (the wizard's connection tests) do not wait either
            threading.Thread(target=self._start_engine, name="ml-connector-engine-start", daemon=True).start()
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                if job in self._pending:
                    self._pending.remove(job)
                self.current = job
            try:
                self._execute(job)
            finally:
                with self._lock:
                    self.current = None

    def _start_engine(self) -> None:
        engine = self.engine
        if engine is None:
            return
        try:
            engine.start()
        except (ConnectorError, OSError) as exc:  # the first isolated job tries again and reports it
            if not engine.closed:
                log.warning("The sync engine process could not be started yet: %s", exc)

    def _execute(self, job: Job) -> None:
        if job.cancel_event.is_set():
            job.future.cancel()
            self._emit(JobEvent("cancelled", job.id, job.kind, job.actor, message="Cancelled before it started"))
            return
        self._emit(JobEvent("started", job.id, job.kind, job.actor, message=f"{job.kind} started"))

        def progress(done: int, total: int, message: str) -> None:
            self._emit(JobEvent("progress", job.id, job.kind, job.actor, done, total, message))

        with database.connection_context():
            ctx = None
            try:
                with recorded_run(job.kind, job.actor) as record:
                    if job.isolated and self.engine is not None:  # isolated only when there is an engine
                        result = self.engine.run(job.func, actor=job.actor, dry_run=job.dry_run, progress=progress,
                                                 cancel_event=job.cancel_event)
                    else:
                        ctx = self._context_factory(actor=job.actor, dry_run=job.dry_run,
                                                    progress_callback=progress, cancel_event=job.cancel_event)

                        def waiting(message: str, ctx=ctx) -> None:
                            ctx.check_cancelled()
                            ctx.progress(0, 0, message)

                        # a Retry posts too: not while an engine whose app died finishes its document
                        with cycle_lock.held(on_wait=waiting):
                            result = job.func(ctx)
                    record.result = result
            except Cancelled:
                job.future.set_result(None)
                self._emit(JobEvent("cancelled", job.id, job.kind, job.actor, message="Stopped at your request"))
            except Exception as exc:  # every failure is reported, none kills the worker
                message = redact(str(exc)) or type(exc).__name__
                log.error("%s failed: %s", job.kind, message, exc_info=not _is_expected(exc))
                job.future.set_exception(exc)
                self._emit(JobEvent("failed", job.id, job.kind, job.actor, message=message))
            else:
                job.future.set_result(result)
                self._emit(JobEvent("finished", job.id, job.kind, job.actor, message=f"{job.kind} finished",
                                    result=result))
            finally:
                if ctx is not None:
                    ctx.close()


def _is_expected(exc: Exception) -> bool:
    return isinstance(exc, ConnectorError)


def _jsonable(summary):
    if summary is None:
        return None
    return {k: v for k, v in summary.items() if k != "dry_run_results"}


class _RunRecord:
    result: Any = None


@contextlib.contextmanager
def recorded_run(kind: str, actor: str):
    """Record a run in `job_run` however it was started (worker, CLI, demo): Vorta's event log."""
    run = JobRun.create(kind=kind, actor=actor, state="running")
    record = _RunRecord()
    state, error = "completed", ""
    try:
        yield record
    except Cancelled:
        state = "cancelled"
        raise
    except Exception as exc:
        state, error = "failed", redact(str(exc)) or type(exc).__name__
        raise
    finally:
        result = record.result
        # a result may name its own kind and summary: a scheduled job that rehearsed is not a cycle
        run.kind = getattr(result, "RUN_KIND", None) or kind
        summary = (result.run_summary() if hasattr(result, "run_summary")
                   else result.as_dict() if hasattr(result, "as_dict") else None)
        run.state, run.finished_at, run.error = state, utcnow(), error
        run.summary = _jsonable(summary)
        run.save()


def mark_interrupted_runs() -> int:
    """Runs still 'running' at start-up belong to a process that died."""
    return (JobRun.update(state="interrupted", finished_at=utcnow())
            .where(JobRun.state == "running").execute())


class CycleScheduler:
    """Fires a sync cycle every N minutes through the worker.

    APScheduler's BackgroundScheduler with one thread, coalesce and max_instances=1, and a
    misfire grace as long as the interval (the 3.x default of 1 s would skip runs after sleep).
    A watchdog notices a wall-clock jump (the PC slept) and asks for one catch-up cycle; the
    worker's `unique` submission makes several triggers collapse into one run.
    """

    def __init__(self, submit_cycle: Callable[[str], object], interval_minutes: int, *,
                 watchdog_seconds: float = 30.0, clock: Callable[[], float] = time.time):
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self._submit_cycle = submit_cycle
        self.interval_minutes = interval_minutes
        self._clock = clock
        self._watchdog_seconds = watchdog_seconds
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": interval_minutes * 60},
            timezone="UTC",
        )
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.paused = False

    def start(self, *, paused: bool = False) -> None:
        self._scheduler.add_job(self._fire, "interval", minutes=self.interval_minutes, id="cycle",
                                kwargs={"actor": "scheduler"})
        self._scheduler.start(paused=paused)
        self.paused = paused
        self._watchdog = threading.Thread(target=self._watch, name="ml-connector-wake-watchdog", daemon=True)
        self._watchdog.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)

    def pause(self) -> None:
        self._scheduler.pause()
        self.paused = True

    def resume(self) -> None:
        self._scheduler.resume()
        self.paused = False

    def set_interval(self, minutes: int) -> None:
        self.interval_minutes = minutes
        self._scheduler.reschedule_job("cycle", trigger="interval", minutes=minutes)
        self._scheduler.modify_job("cycle", misfire_grace_time=minutes * 60)

    def next_run_time(self):
        job = self._scheduler.get_job("cycle")
        return None if job is None or self.paused else job.next_run_time

    def _fire(self, actor: str) -> None:
        self._submit_cycle(actor)

    def check_wake(self, last_tick: float, now: float) -> bool:
        """True when the gap between two watchdog ticks shows the PC slept; fires one catch-up."""
        if now - last_tick > max(3 * self._watchdog_seconds, 60) and not self.paused:
            log.info("The computer was asleep for %.0f minutes: running one catch-up cycle", (now - last_tick) / 60)
            self._submit_cycle("wake-catch-up")
            return True
        return False

    def _watch(self) -> None:
        last = self._clock()
        while not self._stop.wait(self._watchdog_seconds):
            now = self._clock()
            self.check_wake(last, now)
            last = now
