"""One cycle at a time per data folder, across processes: an engine whose app died finishes its
current document, stops and lets go; until then no new GUI or CLI cycle starts."""
from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import sys
import time

import pytest

from desktop_app.cli import main
from desktop_app.core import cycle_lock, db
from desktop_app.core.errors import EXIT_USAGE
from desktop_app.sync import ledger
from desktop_app.sync.cycle import run_cycle
from tests.integration.test_invoice_sync import assert_exactly_once, cycle
from tests.sync.test_engine_process import process_exists

spawn = multiprocessing.get_context("spawn")


def hold_the_cycle_lock(home: str, seconds: float, conn) -> None:
    """Another process running a cycle: holds the lock for `seconds`."""
    os.environ["ML_CONNECTOR_HOME"] = home
    with cycle_lock.held(wait_s=0):
        conn.send(("holding", os.getpid()))
        time.sleep(seconds)


def app_syncing_in_its_engine(home: str, secret_values: dict, conn) -> None:
    """A stand-in for the GUI: runs a sync cycle in its engine process, relaying progress."""
    import keyring

    from desktop_app.core import secrets
    from desktop_app.sandbox.memory_keyring import MemoryKeyring
    from desktop_app.sync.engine_process import EngineProcess

    os.environ["ML_CONNECTOR_HOME"] = home
    keyring.set_keyring(MemoryKeyring())
    for name, value in secret_values.items():
        secrets.set_secret(name, value)
    db.open_database()
    engine = EngineProcess(start_timeout=60)
    engine.start()
    conn.send(("engine", engine.pid))
    engine.run(functools.partial(run_cycle, flow="invoices"), actor="scheduler",
               progress=lambda done, total, message: conn.send(("progress", message)))


def start(target, *args):
    ours, theirs = spawn.Pipe()
    process = spawn.Process(target=target, args=(*args, theirs))
    process.start()
    return process, ours


def test_a_cli_cycle_waits_for_a_cycle_running_elsewhere_then_runs(sandbox, data_home, monkeypatch):
    holder, conn = start(hold_the_cycle_lock, str(data_home), 2.0)
    try:
        assert conn.poll(60) and conn.recv()[0] == "holding"
        started = time.monotonic()
        assert main(["sync", "--once"]) in (0, 1)
        assert time.monotonic() - started >= 1.0  # it waited for the other cycle to end
        assert ledger.counts()[ledger.CONFIRMED] > 0
    finally:
        holder.join(30)


@pytest.mark.slow
def test_a_cli_cycle_refuses_with_exit_2_and_a_sentence_when_the_other_cycle_does_not_end(
        sandbox, data_home, monkeypatch, capsys):
    monkeypatch.setattr(cycle_lock, "WAIT_S", 1.5)
    holder, conn = start(hold_the_cycle_lock, str(data_home), 60.0)
    try:
        kind, pid = conn.recv() if conn.poll(60) else (None, None)
        assert kind == "holding"
        started = time.monotonic()
        assert main(["sync", "--once"]) == EXIT_USAGE
        assert time.monotonic() - started >= 1.5
        err = capsys.readouterr().err
        assert "A sync is still running" in err and f"process {pid}" in err and "Try again" in err
        assert ledger.counts()[ledger.POSTED] + ledger.counts()[ledger.CONFIRMED] == 0  # nothing was started
        assert main(["replay", "--all-failed"]) == EXIT_USAGE  # a retry posts too: it waits the same way
        assert "A sync is still running" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.join(10)
    assert main(["sync", "--once"]) in (0, 1)  # the OS let go of the lock with its process


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL of the parent, checked through /proc")
def test_an_engine_whose_app_dies_finishes_its_document_then_lets_the_next_cycle_run(sandbox, data_home):
    from desktop_app.core import config

    sandbox.syspro.set_faults({"slow": 0.15})  # every SYSPRO answer a little late: the cycle takes a while
    # small posts, so that documents are left when the engine stops after the one in flight
    config.save_setting("syspro.post_batch_size", "2", actor="test")
    app, conn = start(app_syncing_in_its_engine, str(data_home), sandbox.secrets())
    engine_pid = None
    try:
        assert conn.poll(60)
        kind, engine_pid = conn.recv()
        assert kind == "engine"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the engine has posted something
            if conn.poll(1) and "Posted" in conn.recv()[1]:
                break
        else:
            pytest.fail("the engine never started posting")
        os.kill(app.pid, signal.SIGKILL)
        app.join(10)
        # the orphan still runs its cycle: a new one may not start meanwhile
        if process_exists(engine_pid):
            with pytest.raises(cycle_lock.CycleBusy):
                with cycle_lock.held(wait_s=0):
                    pass
        deadline = time.monotonic() + 30
        while process_exists(engine_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_exists(engine_pid), "the engine outlived its app"
        with cycle_lock.held(wait_s=0):  # it let go
            pass
        counts = ledger.counts()
        assert counts[ledger.POSTING] == 0  # the document in flight was finished, not abandoned
        assert counts[ledger.READY] > 0  # and the engine stopped there
    finally:
        if app.is_alive():
            app.kill()
        app.join(5)
        if engine_pid and process_exists(engine_pid):
            os.kill(engine_pid, signal.SIGKILL)
    sandbox.syspro.set_faults({})
    assert not cycle(flow="invoices").errors
    counts = ledger.counts()
    assert counts[ledger.READY] == counts[ledger.POSTING] == counts[ledger.IN_DOUBT] == 0
    assert_exactly_once(sandbox)
