"""Outside text cannot forge log lines: control characters in a message are written escaped."""
import logging

import pytest

from desktop_app.core import logs, paths
from desktop_app.core.log_text import escape_controls

FORGED = "Ferguson\r\n2024-05-01 12:00:00,000 ERROR   desktop_app.sync [invoices] forged\u2028line\x1b[31m"


@pytest.fixture
def file_log():
    logs.setup_logging()
    yield paths.log_dir() / "ml-connector.log"
    logs.reset_logging()


def test_escape_controls():
    assert escape_controls("a\nb\rc\td\x00e\x7f\x85\u2028") == "a\\nb\\rc\\td\\x00e\\x7f\\x85\\u2028"
    assert escape_controls("C:\\new\\path") == "C:\\new\\path"  # backslashes as they were
    assert escape_controls(escape_controls(FORGED)) == escape_controls(FORGED)


def test_a_vendor_name_with_newlines_is_one_log_line(file_log):
    seen = []
    logs.live_feed.subscribe(seen.append)
    try:
        logging.getLogger("desktop_app.sync.vendors").warning("vendor %s has no supplier", FORGED)
    finally:
        logs.live_feed.unsubscribe(seen.append)
    for handler in logging.getLogger("desktop_app").handlers:
        handler.flush()
    lines = file_log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1, lines
    assert "vendor Ferguson\\r\\n2024-05-01 12:00:00,000 ERROR" in lines[0] and "\\x1b[31m" in lines[0]
    (record,) = [r for r in seen if "Ferguson" in r.getMessage()]
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()


def test_a_traceback_keeps_its_lines(file_log):
    try:
        raise ValueError("bad\nanswer")
    except ValueError:
        logging.getLogger("desktop_app.sync").exception("flow %s failed", "in\nvoices")
    for handler in logging.getLogger("desktop_app").handlers:
        handler.flush()
    text = file_log.read_text(encoding="utf-8")
    assert "flow in\\nvoices failed" in text
    assert "Traceback (most recent call last):\n" in text
