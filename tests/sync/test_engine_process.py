"""The engine process: isolated jobs run in a child, and the parent sees what it would have seen of a
job on its own thread — result, progress, log lines, exceptions, cancellation — or a sentence
when the child dies."""
from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
import time

import pytest

from desktop_app.core import db, secrets
from desktop_app.core.errors import ConfigError
from desktop_app.core.models import ApDocument, JobRun
from desktop_app.sync.context import Cancelled
from desktop_app.sync.cycle import run_cycle
from desktop_app.sync.engine_process import EngineProcess, EngineStopped, JobSpec
from desktop_app.sync.jobs import JobWorker

log = logging.getLogger("desktop_app.sync.test")


# jobs for the child: module-level, as isolated jobs must be
def where_am_i(ctx) -> dict:
    log.info("engine job for %s", ctx.actor)
    return {"pid": os.getpid(), "actor": ctx.actor, "dry_run": ctx.dry_run,
            "home": os.environ.get("ML_CONNECTOR_HOME")}


def refuse(ctx, message: str):
    raise ConfigError(message)


def divide_by_zero(ctx):
    return 1 / 0


def count_slowly(ctx, steps: int = 500):
    for step in range(steps):
        ctx.check_cancelled()
        ctx.progress(step + 1, steps, f"step {step + 1}")
        time.sleep(0.01)
    return steps


def work_quietly(ctx, seconds: float = 30.0):
    """Says it started, then works between cancel checks without a word to the parent."""
    ctx.progress(0, 0, "started")
    ended = time.monotonic() + seconds
    while time.monotonic() < ended:
        ctx.check_cancelled()
        time.sleep(0.01)
    return seconds


def read_secret(ctx, name: str) -> str | None:
    return secrets.get_secret(name)


def log_secret(ctx):
    log.warning("logging on with password %s", secrets.get_secret("syspro.operator_password"))


def store_secret(ctx):
    secrets.set_secret("syspro.operator_password", "changed-by-the-engine")


def process_exists(pid: int) -> bool:
    """Whether the process still runs (a zombie waiting to be reaped does not)."""
    if sys.platform == "win32":  # os.kill(pid, 0) would end it there; the join in close() is the proof
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def app_with_an_engine(home: str, conn) -> None:
    """A stand-in for the app, in its own process: starts an engine and runs a long job in it."""
    import keyring

    from desktop_app.sandbox.memory_keyring import MemoryKeyring

    os.environ["ML_CONNECTOR_HOME"] = home
    keyring.set_keyring(MemoryKeyring())  # never the machine's keyring
    db.open_database()
    engine = EngineProcess(start_timeout=60)
    engine.start()
    conn.send(("engine", engine.pid))
    engine.run(work_quietly, actor="test", progress=lambda done, total, message: conn.send(("progress", message)))


@pytest.fixture
def engine(data_home):
    db.open_database()
    engine = EngineProcess(start_timeout=60)
    yield engine
    engine.close()
    db.close_database()


def test_a_job_runs_in_the_child_with_the_parents_data_dir_and_logs_here(engine, data_home, caplog):
    caplog.set_level(logging.INFO, logger="desktop_app")
    result = engine.run(where_am_i, actor="sync-now", dry_run=True)
    assert result["pid"] == engine.pid != os.getpid()
    assert result["actor"] == "sync-now" and result["dry_run"] is True
    assert result["home"] == str(data_home.resolve())
    line = [r for r in caplog.records if r.getMessage() == "engine job for sync-now"]
    assert line and line[0].name == "desktop_app.sync.test"  # relayed under its own logger
    # the same child serves the next job: it is started once
    assert engine.run(where_am_i, actor="scheduler")["pid"] == result["pid"]


def test_a_cycle_in_the_child_posts_against_the_sandbox_with_progress(sandbox):
    engine = EngineProcess(start_timeout=60)
    progress = []
    try:
        result = engine.run(functools.partial(run_cycle, flow="invoices"), actor="sync-now",
                            progress=lambda done, total, message: progress.append((done, total, message)))
    finally:
        engine.close()
    posted = result["invoices"].posted
    assert posted > 0
    # the child wrote the shared database file: the parent reads what it posted
    assert ApDocument.select().where(ApDocument.state.in_(["POSTED", "CONFIRMED"])).count() == posted
    assert progress and progress[-1][0] == progress[-1][1] == posted  # the last one always arrives


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL of the parent, checked through /proc")
def test_a_child_whose_app_dies_stops_after_its_current_step(data_home):
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    app = spawn.Process(target=app_with_an_engine, args=(str(data_home), theirs))
    app.start()
    try:
        assert ours.poll(60), "the stand-in app did not start its engine"
        kind, engine_pid = ours.recv()
        assert kind == "engine"
        assert ours.poll(30) and ours.recv()[0] == "progress"  # the job runs
        os.kill(app.pid, signal.SIGKILL)
        app.join(10)
        deadline = time.monotonic() + 10
        while process_exists(engine_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        # the job would go on for 30 s without a message that could find the pipe closed: it was
        # cancelled at a step boundary once the app was gone
        assert not process_exists(engine_pid), "the engine process outlived its app"
    finally:
        if app.is_alive():
            app.kill()
        app.join(5)


def test_the_childs_exceptions_arrive_as_themselves(engine):
    with pytest.raises(ConfigError, match="^Map supplier ACME first$"):
        engine.run(functools.partial(refuse, message="Map supplier ACME first"), actor="test")
    with pytest.raises(ZeroDivisionError) as raised:
        engine.run(divide_by_zero, actor="test")
    # an unexpected one says where in the engine it happened
    assert any("In the sync engine process" in note and "divide_by_zero" in note
               for note in raised.value.__notes__)
    assert engine.run(where_am_i, actor="test")["pid"] == engine.pid  # still serving


def test_cancel_stops_the_child_between_steps(engine):
    cancel = threading.Event()
    seen = []

    def progress(done, total, message):
        seen.append(done)
        cancel.set()

    started = time.monotonic()
    with pytest.raises(Cancelled):
        engine.run(count_slowly, actor="test", progress=progress, cancel_event=cancel)
    assert time.monotonic() - started < 3  # 500 steps of 10 ms would take 5 s
    assert seen and seen[-1] < 500


def test_a_killed_child_fails_its_job_with_a_sentence_and_the_next_job_gets_a_new_one(engine):
    engine.start()
    first = engine.pid

    def kill(done, total, message):
        if done == 1:
            os.kill(first, getattr(signal, "SIGKILL", signal.SIGTERM))  # TerminateProcess on Windows

    with pytest.raises(EngineStopped, match="stopped unexpectedly.*looked up in SYSPRO"):
        engine.run(count_slowly, actor="test", progress=kill)
    result = engine.run(where_am_i, actor="test")
    assert result["pid"] != first and engine.pid == result["pid"]


def test_the_child_reads_the_profiles_secrets_but_cannot_change_them(engine, memory_keyring):
    secrets.set_secret("syspro.operator_password", "s3cret-operator")
    assert engine.run(functools.partial(read_secret, name="syspro.operator_password"), actor="test") \
        == "s3cret-operator"
    with pytest.raises(secrets.SecretStoreError):
        engine.run(store_secret, actor="test")
    assert secrets.get_secret("syspro.operator_password") == "s3cret-operator"


def test_secrets_never_show_in_the_childs_log_lines_or_the_job_spec(engine, caplog):
    secrets.set_secret("syspro.operator_password", "s3cret-operator")
    caplog.set_level(logging.INFO, logger="desktop_app")
    engine.run(log_secret, actor="test")
    lines = [r.getMessage() for r in caplog.records if r.name == "desktop_app.sync.test"]
    assert lines == ["logging on with password ***"]
    spec = JobSpec(func=log_secret, actor="test", dry_run=False, home="x", log_level=20,
                   secrets={"p/syspro.operator_password": "s3cret-operator"})
    assert "s3cret-operator" not in repr(spec)


@pytest.fixture
def engine_worker(data_home):
    """A started job worker with an engine, and the JobEvents it emits."""
    db.open_database()
    engine = EngineProcess(start_timeout=60)
    worker = JobWorker(engine=engine)
    events = []
    worker.add_listener(events.append)
    worker.start()
    yield engine, worker, events
    worker.stop(timeout=30)
    db.close_database()


def test_the_worker_sends_isolated_jobs_to_its_engine_and_stops_it(engine_worker):
    engine, worker, events = engine_worker
    with pytest.raises(TypeError, match="module-level function"):
        worker.submit("cycle", lambda ctx: None, actor="test", isolated=True)
    isolated = worker.submit("cycle", functools.partial(count_slowly, steps=3), actor="sync-now", isolated=True)
    here = worker.submit("lookup", lambda ctx: os.getpid(), actor="user")  # not isolated: the worker thread
    assert isolated.future.result(timeout=60) == 3
    assert here.future.result(timeout=10) == os.getpid()
    child = engine.pid
    assert child is not None and child != os.getpid()
    kinds = [(e.kind, e.job_kind) for e in events if e.job_id == isolated.id]
    assert kinds[0] == ("started", "cycle") and kinds[-1] == ("finished", "cycle")
    assert ("progress", "cycle") in kinds
    assert JobRun.select().where(JobRun.kind == "cycle", JobRun.state == "completed").count() == 1
    assert worker.stop(timeout=30)
    assert engine.pid is None  # stopping the worker ended the child
    assert not process_exists(child)
    with pytest.raises(EngineStopped, match="stopped with the app"):
        engine.start()  # and it is not started again by a late caller


def test_quitting_stops_an_isolated_job_between_steps_and_ends_the_child(engine_worker):
    engine, worker, events = engine_worker
    job = worker.submit("cycle", functools.partial(count_slowly, steps=3000), actor="scheduler", isolated=True)
    deadline = time.monotonic() + 60
    while not any(e.kind == "progress" for e in events) and time.monotonic() < deadline:
        time.sleep(0.02)
    child = engine.pid
    started = time.monotonic()
    assert worker.stop(timeout=30)  # what the app's Quit does
    assert time.monotonic() - started < 5  # 3,000 steps of 10 ms would take 30 s
    assert job.future.result(timeout=1) is None
    assert [e.kind for e in events if e.job_id == job.id][-1] == "cancelled"
    assert JobRun.get(JobRun.kind == "cycle").state == "cancelled"
    assert engine.pid is None and not process_exists(child)


def test_a_worker_stopped_at_once_leaves_no_engine_behind(data_home):
    db.open_database()
    engine = EngineProcess(start_timeout=60)
    worker = JobWorker(engine=engine)
    worker.start()
    try:
        assert worker.stop(timeout=30)  # perhaps before its engine started, perhaps while it starts
    finally:
        db.close_database()
    for thread in threading.enumerate():  # a start that lost the race has finished spawning or giving up
        if thread.name == "ml-connector-engine-start":
            thread.join(60)
    assert engine.closed and engine.pid is None
