"""The engine process's watchdog: a sync with no sign of progress for `sync.watchdog_minutes` is
ended, recorded as failed with a sentence, and the next cycle starts a fresh engine; a long sync
that is getting on is never cut off."""
from __future__ import annotations

import functools

import pytest

from desktop_app.core import db
from desktop_app.core.config import SPECS
from desktop_app.core.models import JobRun
from desktop_app.sync import ledger
from desktop_app.sync.cycle import run_cycle
from desktop_app.sync.engine_process import EngineProcess, EngineStalled, watchdog_seconds
from desktop_app.sync.jobs import JobWorker
from tests.integration.test_invoice_sync import assert_exactly_once
from tests.sync.test_engine_process import count_slowly, process_exists, work_quietly


def defaults(**changes):
    values = {key: spec.default for key, spec in SPECS.items()}
    values.update(changes)
    return values


def test_the_watchdog_time_is_the_setting_but_never_shorter_than_one_request_and_a_retry_pause():
    assert SPECS["sync.watchdog_minutes"].default == 10
    assert watchdog_seconds(defaults()) == 600
    assert watchdog_seconds(defaults(**{"sync.watchdog_minutes": 30})) == 1800
    # a person who allows SYSPRO 15 minutes per answer gets at least that before the watchdog acts
    floor = watchdog_seconds(defaults(**{"sync.watchdog_minutes": 1, "http.read_timeout": 900}))
    assert floor > 10 + 900 + 120


@pytest.fixture
def quick_engine(data_home):
    db.open_database()
    engine = EngineProcess(start_timeout=60, watchdog_s=2.0)
    yield engine
    engine.close()
    db.close_database()


@pytest.mark.slow
def test_a_long_job_that_is_getting_on_is_not_stopped(quick_engine):
    # silent towards the app but for the engine's own beats between steps, three times the watchdog
    assert quick_engine.run(functools.partial(work_quietly, seconds=6.0), actor="test") == 6.0
    assert quick_engine.run(functools.partial(count_slowly, steps=400), actor="test") == 400


@pytest.mark.parametrize("sandbox", [{"syspro_options": {"slow_after_post_s": 25}}], indirect=True)
def test_a_hung_engine_is_ended_its_cycle_recorded_failed_and_the_next_cycle_starts_afresh(sandbox):
    # SYSPRO commits a post and then does not answer within the watchdog's time
    sandbox.syspro.set_faults({"slow_after_post": 1})
    engine = EngineProcess(start_timeout=60, watchdog_s=3.0)
    worker = JobWorker(engine=engine)
    events = []
    worker.add_listener(events.append)
    worker.start()
    try:
        hung = worker.submit("cycle", functools.partial(run_cycle, flow="invoices"), actor="scheduler",
                             isolated=True)
        with pytest.raises(EngineStalled, match="made no progress for 3 seconds and was stopped; documents being "
                                                "posted will be looked up in SYSPRO"):
            hung.future.result(timeout=120)
        first_child = [e for e in events if e.job_id == hung.id]
        assert first_child[-1].kind == "failed" and "no progress" in first_child[-1].message
        run = JobRun.select().order_by(JobRun.id.desc()).get()
        assert run.state == "failed" and "made no progress" in run.error
        assert ledger.counts()[ledger.POSTING] >= 1  # the documents whose answer never came

        sandbox.syspro.set_faults({})
        following = worker.submit("cycle", functools.partial(run_cycle, flow="invoices"), actor="scheduler",
                                  isolated=True)
        result = following.future.result(timeout=300)
        assert not result.errors and result["invoices"].posted > 0
        counts = ledger.counts()
        assert counts[ledger.POSTING] == counts[ledger.IN_DOUBT] == counts[ledger.READY] == 0
        assert_exactly_once(sandbox)  # the post SYSPRO committed was found, not sent again
    finally:
        child = engine.pid
        assert worker.stop(timeout=60)
        assert child is None or not process_exists(child)
