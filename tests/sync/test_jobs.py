import threading
import time

import pytest

from desktop_app.core import db
from desktop_app.core.models import JobRun
from desktop_app.sync.context import SyncContext
from desktop_app.sync.jobs import CycleScheduler, JobWorker, mark_interrupted_runs


@pytest.fixture
def worker():
    db.open_database()
    worker = JobWorker()
    worker.start()
    yield worker
    assert worker.stop(timeout=30)
    db.close_database()


def test_jobs_run_one_at_a_time_in_order(worker):
    running = []
    overlap = []
    order = []

    def job(name):
        def run(ctx):
            if running:
                overlap.append(name)
            running.append(name)
            time.sleep(0.02)  # hold the worker a moment so overlap would show
            running.remove(name)
            order.append(name)
            return name
        return run

    jobs = [worker.submit(f"j{i}", job(f"j{i}"), actor="test") for i in range(5)]
    assert [j.future.result(timeout=10) for j in jobs] == [f"j{i}" for i in range(5)]
    assert overlap == [] and order == [f"j{i}" for i in range(5)]
    assert JobRun.select().where(JobRun.state == "completed").count() == 5


def test_unique_submission_collapses_waiting_cycles(worker):
    gate = threading.Event()
    running = threading.Event()

    def first_cycle(ctx):
        running.set()
        return gate.wait(10)

    first = worker.submit("cycle", first_cycle, actor="scheduler", unique=True)
    assert running.wait(10)  # the first cycle is running, not waiting
    waiting = worker.submit("cycle", lambda ctx: "second", actor="scheduler", unique=True)
    again = worker.submit("cycle", lambda ctx: "third", actor="wake-catch-up", unique=True)
    assert waiting is not None and again is None  # one waiting cycle at most
    gate.set()
    assert waiting.future.result(timeout=10) == "second"
    assert first.future.result(timeout=10) is True


def test_cancel_stops_between_documents_and_is_recorded(worker):
    processed = []
    started = threading.Event()

    def long_job(ctx: SyncContext):
        for index in range(1000):
            ctx.check_cancelled()
            processed.append(index)
            if index == 2:
                started.set()
            time.sleep(0.005)

    job = worker.submit("cycle", long_job, actor="test")
    assert started.wait(10)
    worker.cancel_current()
    assert job.future.result(timeout=10) is None
    assert 3 <= len(processed) < 1000
    assert JobRun.select().order_by(JobRun.id.desc()).first().state == "cancelled"


def test_a_failing_job_does_not_kill_the_worker(worker):
    bad = worker.submit("cycle", lambda ctx: 1 / 0, actor="test")
    good = worker.submit("cycle", lambda ctx: "ok", actor="test")
    with pytest.raises(ZeroDivisionError):
        bad.future.result(timeout=10)
    assert good.future.result(timeout=10) == "ok"
    assert JobRun.select().where(JobRun.state == "failed").count() == 1


def test_runs_left_running_by_a_dead_process_are_marked_interrupted():
    db.open_database()
    JobRun.create(kind="cycle", state="running")
    assert mark_interrupted_runs() == 1
    assert JobRun.get().state == "interrupted"
    db.close_database()


def test_sleep_through_several_cycles_gives_one_catch_up():
    fired = []
    scheduler = CycleScheduler(fired.append, interval_minutes=15, watchdog_seconds=30)
    now = 1_000_000.0
    assert scheduler.check_wake(now, now + 30) is False          # a normal tick
    assert scheduler.check_wake(now, now + 3 * 3600) is True     # slept three hours: five cycles missed
    assert fired == ["wake-catch-up"]
    scheduler.paused = True
    assert scheduler.check_wake(now, now + 3 * 3600) is False    # paused: no catch-up
    assert scheduler.check_wake(now, now - 600) is False         # clock moved back: no storm of runs
    assert fired == ["wake-catch-up"]


def test_scheduler_settings_coalesce_and_grace():
    fired = []
    scheduler = CycleScheduler(fired.append, interval_minutes=15, watchdog_seconds=3600)
    scheduler.start()
    try:
        job = scheduler._scheduler.get_job("cycle")
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 900
        assert scheduler.next_run_time() is not None
        scheduler.pause()
        assert scheduler.next_run_time() is None
        scheduler.resume()
        scheduler.set_interval(5)
        assert scheduler._scheduler.get_job("cycle").misfire_grace_time == 300
    finally:
        scheduler.shutdown()


@pytest.mark.parametrize("fails", [False, True], ids=["preload", "failing preload"])
def test_preload_runs_in_the_worker_before_its_first_job(fails, caplog):
    seen = []

    def preload():
        seen.append(("preload", threading.current_thread().name))
        if fails:
            raise ImportError("no module named nowhere")

    db.open_database()
    worker = JobWorker(preload=preload)
    worker.start()
    try:
        job = worker.submit("test", lambda ctx: seen.append(("job", threading.current_thread().name)), actor="test")
        job.future.result(timeout=10)
    finally:
        assert worker.stop(timeout=30)
        db.close_database()
    assert seen == [("preload", "ml-connector-worker"), ("job", "ml-connector-worker")]
    assert worker.preloaded.is_set()
    assert ("Preloading the sync engine failed" in caplog.text) is fails

