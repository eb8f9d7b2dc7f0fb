"""A fresh profile: what `sync --once`, `status`, `test-connection` and the dashboard say is true."""
from __future__ import annotations

import json

import pytest

from desktop_app.cli import main
from desktop_app.core import config, db
from desktop_app.core.errors import EXIT_CONNECT, EXIT_USAGE
from desktop_app.core.models import JobRun


@pytest.fixture
def start_date_only():
    db.open_database()
    config.save_setting("sync.start_date", "2024-01-01")
    db.close_database()


def test_a_cycle_that_could_not_run_for_settings_exits_2_and_is_recorded_failed(start_date_only, capsys):
    assert main(["sync", "--once"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "Nothing was synced" in err and "syspro.enet_url" in err and "servicetitan.tenant" in err
    db.open_database()
    run = JobRun.select().where(JobRun.kind == "cycle").get()
    assert run.state == "failed" and "syspro.enet_url" in run.error
    db.close_database()

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["last_cycle"]["state"] == "failed"
    assert "servicetitan.tenant" in status["last_cycle"]["error"]
    assert status["last_good_cycle"] is None
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Last cycle:" in out and " failed: Nothing was synced" in out and "completed" not in out
    assert "will fail the same way until the problem above is fixed" in out


def test_the_dashboard_shows_the_cycle_failed_with_its_reason(start_date_only):
    pytest.importorskip("PySide6")
    from desktop_app.ui import dashboard

    assert main(["sync", "--once"]) == EXIT_USAGE
    db.open_database()
    try:
        snapshot = dashboard.read_snapshot()
    finally:
        db.close_database()
    assert snapshot.last_cycle["state"] == "failed"
    sentence = dashboard.summary_sentence(snapshot.last_cycle)
    assert sentence.startswith("It failed: Nothing was synced") and "syspro.enet_url" in sentence
    assert {c.status for c in snapshot.connections.values()} == {"failed"}


def test_test_connection_with_a_missing_setting_exits_2_even_when_the_other_system_is_unreachable(capsys):
    db.open_database()
    for key, value in (("syspro.enet_url", "http://127.0.0.1:9/SYSPROWCFService/Rest"),
                       ("syspro.operator", "ADMIN"), ("syspro.company", "EDU1")):
        config.save_setting(key, value)
    db.close_database()
    assert main(["test-connection", "--syspro"]) == EXIT_CONNECT  # SYSPRO alone: cannot be reached
    assert main(["test-connection"]) == EXIT_USAGE  # ServiceTitan's settings are missing: fix those first
    out = capsys.readouterr().out
    assert "servicetitan.tenant" in out
