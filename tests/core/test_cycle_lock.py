"""The cross-process cycle lock: one process logged on as the sync's operator at a time."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from desktop_app.core import cycle_lock

HOLDER = ("import sys; from desktop_app.core import cycle_lock; lock = cycle_lock.held(wait_s=0); lock.__enter__(); "
          "print('held', flush=True); sys.stdin.read()")


@pytest.fixture
def other_process():
    """Another process holding the lock until its stdin closes (or it is killed)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    proc.stdin.close()
    proc.stdout.close()


def test_a_lock_held_elsewhere_is_refused_naming_who_holds_it_and_what_waited(other_process):
    with pytest.raises(cycle_lock.CycleBusy) as caught, \
            cycle_lock.held(wait_s=0.3, purpose="a SYSPRO connection test"):
        pytest.fail("taken while another process held it")
    text = str(caught.value)
    assert f"process {other_process.pid}" in text and "a SYSPRO connection test cannot start now" in text
    assert caught.value.exit_code == 2


def test_it_is_free_once_the_holder_ends_even_by_a_crash_and_the_holder_may_take_it_again(other_process):
    other_process.kill()  # no clean release: the OS drops the lock with the process
    other_process.wait(timeout=30)
    with cycle_lock.held(wait_s=5):
        with cycle_lock.held(wait_s=0):  # the holder may take it again
            pass
        assert cycle_lock.holder() == str(os.getpid())  # still this process's after the inner block
    check = subprocess.run([sys.executable, "-c", HOLDER.replace("sys.stdin.read()", "pass")],
                           capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert check.stdout.strip() == "held", check.stderr  # released: another process takes it at once


def test_a_waiter_gets_it_when_the_holder_finishes_within_the_wait(other_process):
    started = time.monotonic()
    other_process.stdin.close()  # the running sync ends
    with cycle_lock.held(wait_s=20):
        assert time.monotonic() - started < 20


def test_a_cycle_or_a_retry_does_not_start_while_another_process_holds_it(other_process, monkeypatch):
    from desktop_app.core import config, db
    from desktop_app.sync import cycle, invoices
    from desktop_app.sync.context import SyncContext

    monkeypatch.setattr(cycle_lock, "WAIT_S", 0.3)
    db.open_database()
    try:
        config.save_setting("sync.start_date", "2026-01-01", actor="test")
        ctx = SyncContext.from_database(actor="cli")
        ran = []
        monkeypatch.setattr(cycle, "_run_flows", lambda *args: ran.append(args))
        try:
            with pytest.raises(cycle_lock.CycleBusy, match="a sync cycle cannot start now"):
                cycle.run_cycle(ctx)
            with pytest.raises(cycle_lock.CycleBusy, match="a Retry cannot start now"):
                invoices.replay(ctx, [1])
        finally:
            ctx.close()
        assert ran == []
    finally:
        db.close_database()
