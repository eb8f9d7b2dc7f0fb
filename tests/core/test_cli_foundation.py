import json
import os
import subprocess
import sys


def run_cli(*args, stdin=None, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


def test_config_set_then_show_json():
    assert run_cli("config", "set", "sync.interval_minutes", "15").returncode == 0
    result = run_cli("config", "show", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["sync.interval_minutes"] == 15


def test_bad_value_exits_2_with_a_message():
    result = run_cli("config", "set", "sync.interval_minutes", "-3")
    assert result.returncode == 2
    assert "sync.interval_minutes" in result.stderr and "Traceback" not in result.stderr


def test_unknown_command_and_bad_usage_exit_2():
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("config").returncode == 2


def test_version():
    from desktop_app import __version__

    result = run_cli("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_secret_from_stdin_reaches_no_file(data_home, tmp_path):
    keyring_file = tmp_path / "kr" / "keyring_pass.cfg"
    env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
           "XDG_DATA_HOME": str(tmp_path / "kr-data")}
    result = run_cli("secrets", "set", "servicetitan.client_secret", stdin="s3cr3t\n", env_extra=env)
    assert result.returncode == 0, result.stderr
    assert "s3cr3t" not in result.stdout + result.stderr
    assert run_cli("config", "show", env_extra=env).returncode == 0
    for path in data_home.rglob("*"):
        if path.is_file():
            assert b"s3cr3t" not in path.read_bytes(), path
    status = run_cli("secrets", "status", "--json", env_extra=env)
    assert json.loads(status.stdout)["servicetitan.client_secret"] is True
    del keyring_file


def test_corrupt_database_gives_clear_error(data_home):
    data_home.mkdir(parents=True, exist_ok=True)
    db_file = data_home / "ml-connector.sqlite3"
    db_file.write_bytes(b"this is not a database at all" * 100)
    before = db_file.read_bytes()
    result = run_cli("config", "show")
    assert result.returncode == 2
    assert "left untouched" in result.stderr and "Traceback" not in result.stderr
    assert db_file.read_bytes() == before


def test_second_instance_gets_a_clear_message_and_exit_2():
    from desktop_app.core import db
    from desktop_app.core.instance_lock import InstanceLock

    db.open_database()
    db.close_database()
    with InstanceLock():
        result = run_cli("sync", "--once")
    assert result.returncode == 2
    assert "already running" in result.stderr and "Traceback" not in result.stderr


def test_sync_without_a_go_live_date_exits_2_and_says_how_to_set_it():
    result = run_cli("sync", "--once")
    assert result.returncode == 2, result.stderr
    assert "No go-live date is set" in result.stderr
    assert "ml-connector config set sync.start_date YYYY-MM-DD" in result.stderr
    assert "wizard" in result.stderr and "Traceback" not in result.stderr
    # once set, the same command gets past that check (and on to the unconfigured ServiceTitan)
    for retry in (("replay", "--all-failed"), ("records", "replay", "--flow", "vendors", "1"),
                  ("records", "approve", "--flow", "vendors", "--all")):
        refused = run_cli(*retry)  # a Retry posts like a cycle: the same go-live rule holds
        assert refused.returncode == 2 and "No go-live date is set" in refused.stderr, (retry, refused.stderr)
    assert run_cli("config", "set", "sync.start_date", "2026-04-01").returncode == 0
    again = run_cli("sync", "--once")
    assert "go-live" not in again.stderr + again.stdout


def _handler_names(parser) -> set[str]:
    """Every `handler` a command line can set. argparse has no public way to walk its subcommands:
    its `_actions` list is the only place they are kept."""
    import argparse

    names = {parser.get_default("handler")} - {None}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                names |= _handler_names(sub)
    return names


def test_every_command_the_parser_offers_runs_a_registered_handler():
    from desktop_app import cli, commands

    offered = _handler_names(cli.build_parser())
    assert "records.approve" in offered and "sandbox.serve" in offered  # the walk reaches nested commands
    assert offered | {"gui"} == set(commands.COMMANDS)  # no command without a handler, no handler unreachable


def test_settings_commands_load_no_sync_engine_gui_or_sandbox():
    script = """
import sys
from desktop_app import cli
code = cli.main(["config", "show", "--json"])
heavy = sorted(m for m in sys.modules if m.startswith(("desktop_app.sync", "desktop_app.ui", "desktop_app.sandbox",
                                                      "PySide6")))
print(code, heavy, file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "0 []"


def test_sync_exit_code_is_1_while_any_document_waits_for_a_person():
    from desktop_app.commands.sync import exit_code_for
    from desktop_app.sync import ledger

    assert exit_code_for({ledger.CONFIRMED: 40, ledger.SKIPPED: 2, ledger.WAITING_FOR_ORIGINAL: 1}) == 0
    for state in (ledger.FAILED, ledger.IN_DOUBT, ledger.NEEDS_MAPPING, ledger.HELD, ledger.CHANGED_IN_SOURCE,
                  ledger.UNREADABLE):
        assert exit_code_for({ledger.CONFIRMED: 40, state: 1}) == 1, state
