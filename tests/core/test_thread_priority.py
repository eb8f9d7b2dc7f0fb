import logging
import os
import sys
import threading

import pytest

from desktop_app.core import thread_priority


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux per-thread nice value")
def test_a_thread_that_may_not_lower_its_priority_keeps_running_and_says_so(monkeypatch, caplog):
    def refused(which, who, value):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "setpriority", refused)
    caplog.set_level(logging.INFO, logger="desktop_app.core.thread_priority")
    assert thread_priority.lower_current_thread_priority() is False
    assert "runs at normal priority" in caplog.text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux per-thread nice value")
def test_a_thread_already_nicer_than_background_keeps_its_own_value():
    seen = {}

    def run():
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, thread_priority.BACKGROUND_NICE + 5)
        seen["ok"] = thread_priority.lower_current_thread_priority()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, tid)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert seen == {"ok": True, "nice": thread_priority.BACKGROUND_NICE + 5}
