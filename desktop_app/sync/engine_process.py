"""Sync jobs in a child process, so that the GUI process's interpreter lock stays with the GUI.

On a worker *thread*, a large cycle keeps the GIL busy for long stretches and the GUI thread waits
for it between its events (measured in benchmarks/README.md). The JobWorker still runs one job at a
time: for an isolated job its thread hands the job to this child and waits, relaying
progress, log records and the cancel flag, so the rest of the app sees the same JobEvents.

One long-lived child (spawned, so no Qt state is inherited), one Pipe:
- parent → child: ("run", JobSpec) or ("stop",);
- child → parent: ("progress", done, total, message), ("log", record attributes), ("alive",),
  then one of ("done", result), ("failed", exception), ("cancelled",).

The watchdog: any message from the child is a sign of progress (the engine beats between
documents, before each ServiceTitan attempt and at each OData page: `core.liveness`). A job silent
for `sync.watchdog_minutes` is taken for a hung engine: the child is ended and the job fails with
EngineStalled; the next job starts a new child. What may legitimately stay silent is one wait - a
single HTTP request (connect + read timeout) or one retry pause (at most RetryPolicy.max_retry_after)
- so the watchdog's time is never shorter than those plus a margin (`watchdog_seconds`): a slow
SYSPRO post that answers within the read timeout is never cut off.

The job function and its arguments travel by pickle, so an isolated job is a module-level
function (or a functools.partial of one), never a lambda. The child reads no keyring: each job
carries a read-only copy of the profile's secrets, because the parent's keyring may be one the
child cannot reach (a test's in-memory keyring). They cross the anonymous pipe between the two
processes and are written nowhere. A child that dies (killed, crashed) fails its job with a
sentence and is replaced by the next job; documents it was posting are looked up in SYSPRO by the
next cycle, as after any crash. A child whose parent dies stops after its current document.
"""
from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.errors import ConnectorError
from desktop_app.sync.context import Cancelled

log = logging.getLogger("desktop_app.sync.jobs")

PROGRESS_EVERY_S = 0.05  # the GUI shows ten updates a second at most; no need to wake the parent 5,000 times
START_TIMEOUT_S = 120.0
POLL_S = 0.1  # how often the waiting parent looks at the cancel flag
ALIVE_EVERY_S = 1.0  # a child that sent nothing for this long says it is alive at its next beat
WATCHDOG_MARGIN_S = 60.0


class EngineStopped(ConnectorError):
    """The child process ended in the middle of a job."""


class EngineStalled(EngineStopped):
    """The child made no progress for the watchdog's time and was ended."""


def watchdog_seconds(settings=None) -> float:
    """How long a job may go without a sign of progress: `sync.watchdog_minutes`, but never less
    than the longest wait the engine makes without one (one request, or one retry pause)."""
    from desktop_app.core.config import SPECS, load_settings
    from desktop_app.servicetitan.retry import RetryPolicy

    if settings is None:
        try:
            settings = load_settings()
        except Exception:  # noqa: BLE001 - no database open here (a smoke test): the defaults
            settings = {key: spec.default for key, spec in SPECS.items()}
    longest_wait = (settings["http.connect_timeout"] + settings["http.read_timeout"]
                    + max(RetryPolicy.max_retry_after, RetryPolicy.backoff_cap))
    return max(settings["sync.watchdog_minutes"] * 60.0, longest_wait + WATCHDOG_MARGIN_S)


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


@dataclass
class JobSpec:
    func: Callable
    actor: str
    dry_run: bool
    home: str
    log_level: int
    secrets: dict[str, str] = field(default_factory=dict, repr=False)  # keyring user name → value: never shown


class EngineProcess:
    """The parent's handle on the child. Used by one thread at a time (the job worker's)."""

    def __init__(self, *, start_timeout: float = START_TIMEOUT_S, watchdog_s: float | None = None):
        self._mp = multiprocessing.get_context("spawn")
        self._start_timeout = start_timeout
        self._watchdog_s = watchdog_s  # None: from the settings at each job (watchdog_seconds)
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._cancel: multiprocessing.synchronize.Event | None = None
        self._lock = threading.Lock()
        self.closed = False  # once closed, never started again (a late start would outlive the app)
        self._killed = False  # by kill(): the job's failure says so

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Spawn the child if it is not running; returns once it has imported the engine."""
        with self._lock:
            if self.closed:
                raise EngineStopped("The sync engine has been stopped with the app.")
            if self._process is not None and self._process.is_alive():
                return
            self._discard()
            parent_end, child_end = self._mp.Pipe()
            self._cancel = self._mp.Event()
            self._process = self._mp.Process(target=_child_main, args=(child_end, self._cancel),
                                             name="ml-connector-engine", daemon=True)
            self._process.start()
            child_end.close()
            self._conn = parent_end
            if not parent_end.poll(self._start_timeout):
                self._discard()
                raise EngineStopped(f"The sync engine did not start within {self._start_timeout:.0f} s.")
            try:
                parent_end.recv()  # ("ready",)
            except (EOFError, OSError):
                code = self._discard()
                raise EngineStopped(f"The sync engine could not start (exit code {code}).") from None

    def run(self, func: Callable, *, actor: str, dry_run: bool = False,
            progress: Callable[[int, int, str], None] | None = None,
            cancel_event: threading.Event | None = None) -> Any:
        """Run `func(ctx)` in the child and return its result; its exception is raised here."""
        from desktop_app.core import paths, secrets

        spec = JobSpec(func=func, actor=actor, dry_run=dry_run, home=str(paths.data_dir()),
                       log_level=logging.getLogger("desktop_app").getEffectiveLevel(), secrets=secrets.snapshot())
        watchdog = self._watchdog_s if self._watchdog_s is not None else watchdog_seconds()
        self.start()
        conn, cancel = self._conn, self._cancel
        if conn is None or cancel is None:  # start() returns only with a live child; one discarded since is gone
            raise self._stopped(None)
        cancel.clear()
        try:
            conn.send(("run", spec))
        except (OSError, ValueError):
            code = self._discard()
            raise self._stopped(code) from None
        last_sign = time.monotonic()
        while True:
            if cancel_event is not None and cancel_event.is_set():
                cancel.set()
            try:
                if not conn.poll(POLL_S):
                    if time.monotonic() - last_sign > watchdog:
                        self._end_stalled(watchdog)
                    continue
                message = conn.recv()
            except (EOFError, OSError):
                code = self._discard()
                raise self._stopped(code) from None
            last_sign = time.monotonic()
            kind = message[0]
            if kind == "progress":
                if progress is not None:
                    progress(*message[1:])
            elif kind == "log":
                _relay_log(message[1])
            elif kind == "done":
                return message[1]
            elif kind == "failed":
                raise message[1]
            elif kind == "cancelled":
                raise Cancelled()

    def _end_stalled(self, watchdog: float) -> None:
        with self._lock:
            pid = self.pid
            self._discard()
        log.error("The sync engine (process %s) made no progress for %.0f s: ended it", pid, watchdog)
        raise EngineStalled(
            f"The sync made no progress for {_duration(watchdog)} and was stopped; documents being posted "
            "will be looked up in SYSPRO before anything is sent again. The next sync starts anew "
            "(sync.watchdog_minutes sets how long a sync may go without progress).")

    def kill(self) -> None:
        """End the child at once, from any thread (Quit now). The job thread waiting for it sees the
        pipe close and fails the job with EngineStopped; the next job starts a new child."""
        process = self._process
        if process is None:
            return
        self._killed = True
        try:
            process.kill()
        except (ValueError, OSError):  # closed or ended meanwhile
            pass

    def close(self, timeout: float = 10.0) -> None:
        """Ask the child to end (it is between jobs: the worker waits for its job first)."""
        with self._lock:
            self.closed = True
            if self._conn is not None:
                try:
                    self._conn.send(("stop",))
                except (OSError, ValueError):
                    pass
            if self._process is not None:
                self._process.join(timeout)
            self._discard()

    def _discard(self) -> int | None:
        """Forget the child, ending it if it still runs; returns its exit code."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        if process.is_alive():
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
        code = process.exitcode
        process.close()
        return code

    def _stopped(self, code: int | None) -> EngineStopped:
        how = "was stopped at once (Quit now)" if self._killed else f"stopped unexpectedly (exit code {code})"
        self._killed = False
        return EngineStopped(
            f"The sync engine {how}. Nothing is lost: a document it was "
            "posting is looked up in SYSPRO before anything is sent again. The next sync starts it anew.")


def process_id(ctx) -> int:
    """A job that only says where it ran (the packaging smoke test's check of the frozen child)."""
    return os.getpid()


def _relay_log(attributes: dict) -> None:
    record = logging.makeLogRecord(attributes)
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)


# ---------------------------------------------------------------------------- the child's side
class _ParentGone(BaseException):
    """The pipe to the parent is closed: stop at once (BaseException: no job may swallow it)."""


class _Channel:
    def __init__(self, conn):
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple) -> None:
        try:
            with self._lock:
                self._conn.send(message)
        except (OSError, ValueError):
            raise _ParentGone() from None


class _PipeHandler(logging.Handler):
    """Sends each record, formatted and redacted as the parent's handlers would have it."""

    def __init__(self, channel: _Channel):
        super().__init__()
        self._channel = channel
        from desktop_app.core.logs import RedactingFilter

        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        # plain values only (the filter above made msg, exc_text and stack_info text): a record
        # with something unpicklable in it must not fail the job that logged it
        attributes = {key: value for key, value in record.__dict__.items()
                      if value is None or isinstance(value, (str, int, float))}
        self._channel.send(("log", attributes))


def _copied_keyring(values: dict[str, str]):
    import keyring.errors
    from keyring.backend import KeyringBackend

    from desktop_app.core import secrets

    class CopiedKeyring(KeyringBackend):
        """The parent's secrets for this job, read-only."""

        priority = 1

        def get_password(self, service, username):
            return values.get(username) if service == secrets.SERVICE else None

        def set_password(self, service, username, password):
            raise keyring.errors.PasswordSetError("the sync engine does not store secrets")

        def delete_password(self, service, username):
            raise keyring.errors.PasswordDeleteError("the sync engine does not delete secrets")

    return CopiedKeyring()


def _child_main(conn, cancel) -> None:
    # Ctrl+C in a terminal reaches the whole process group: the parent decides when the engine stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = _Channel(conn)
    root = logging.getLogger("desktop_app")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_PipeHandler(channel))
    root.propagate = False
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_cancel_when_gone, args=(parent.sentinel, cancel), name="ml-connector-parent-watch",
                         daemon=True).start()
    from desktop_app.sync import cycle

    cycle.preload()
    try:
        channel.send(("ready",))
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message[0] != "run":
                return
            _run_job(channel, cancel, message[1])
    except _ParentGone:
        return


def _cancel_when_gone(parent_sentinel, cancel) -> None:
    """The app died (killed, crashed): finish the current document, stop there, and end. Without
    this the job would go on until its next message to the parent found the pipe closed."""
    multiprocessing.connection.wait([parent_sentinel])
    cancel.set()


def _run_job(channel: _Channel, cancel, spec: JobSpec) -> None:
    import keyring

    from desktop_app.core import db, liveness, paths
    from desktop_app.core.redact import register_secret
    from desktop_app.sync.context import SyncContext

    os.environ[paths.ENV_HOME] = spec.home
    keyring.set_keyring(_copied_keyring(spec.secrets))
    for value in spec.secrets.values():
        register_secret(value)
    logging.getLogger("desktop_app").setLevel(spec.log_level)
    last = [0.0]  # the last progress sent
    said = [time.monotonic()]  # the last message of any kind

    def progress(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or (total and done >= total):
            last[0] = said[0] = now
            channel.send(("progress", done, total, message))

    def alive() -> None:
        now = time.monotonic()
        if now - said[0] >= ALIVE_EVERY_S:
            said[0] = now
            channel.send(("alive",))

    liveness.set_listener(alive)

    outcome: tuple[Any, ...]
    try:
        db.open_database()
        ctx = SyncContext.from_database(actor=spec.actor, dry_run=spec.dry_run, progress_callback=progress,
                                        cancel_event=cancel)
        try:
            result = spec.func(ctx)
        finally:
            ctx.close()
        outcome = ("done", result)
    except Cancelled:
        outcome = ("cancelled",)
    except Exception as exc:  # noqa: BLE001 - the parent reports it as a failure in its own thread
        if not isinstance(exc, ConnectorError):  # unexpected: the parent's log shows where it came from
            exc.add_note("In the sync engine process:\n" + "".join(traceback.format_tb(exc.__traceback__)))
        outcome = ("failed", _portable(exc))
    finally:
        liveness.set_listener(None)
        db.close_database()
    if outcome[0] == "done" and not _survives_pickle(outcome[-1]):
        outcome = ("failed", ConnectorError(f"The sync engine could not hand back its result "
                                            f"({type(outcome[-1]).__name__})."))
    channel.send(outcome)


def _survives_pickle(value) -> bool:
    try:
        pickle.loads(pickle.dumps(value))
    except Exception:  # noqa: BLE001 - any failure means it cannot cross the pipe
        return False
    return True


def _portable(exc: Exception) -> Exception:
    """The exception itself when it survives the pipe, else one with its sentence and kind."""
    if _survives_pickle(exc):
        return exc
    from desktop_app.core.redact import redact

    message = redact(str(exc)) or type(exc).__name__
    portable = ConnectorError(message) if isinstance(exc, ConnectorError) else RuntimeError(message)
    for note in getattr(exc, "__notes__", ()):
        portable.add_note(redact(note))
    return portable
