import threading

from desktop_app.core.models import Setting


def test_job_result_arrives_in_the_gui_thread(qtbot, bridge):
    seen = {}
    gui_thread = threading.current_thread()

    def job(ctx):
        seen["job_thread"] = threading.current_thread()
        ctx.progress(1, 2, "half way")
        return 42

    events = []
    bridge.jobEvent.connect(lambda e: events.append((e.kind, threading.current_thread())))
    with qtbot.waitSignal(bridge.dataChanged, timeout=10000):
        bridge.run_job("test", job, on_done=lambda r: seen.setdefault("result", (r, threading.current_thread())))
    assert seen["result"] == (42, gui_thread)
    assert seen["job_thread"] is not gui_thread
    assert [kind for kind, _ in events] == ["started", "progress", "finished"]
    assert all(thread is gui_thread for _, thread in events)


def test_job_failure_is_a_sentence(qtbot, bridge):
    errors = []

    def job(ctx):
        raise RuntimeError("SYSPRO refused OperatorPassword=hunter2")

    with qtbot.waitSignal(bridge.dataChanged, timeout=10000):
        bridge.run_job("test", job, on_error=errors.append)
    assert errors and "hunter2" not in errors[0] and "SYSPRO refused" in errors[0]


def test_db_call_runs_off_the_gui_thread(qtbot, bridge):
    gui_thread = threading.current_thread()
    results = []

    def work():
        Setting.create(key="sync.timezone", value="UTC")
        return threading.current_thread()

    bridge.db_call(work, on_done=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert results[0] is not gui_thread


def test_progress_is_coalesced_to_the_newest(qtbot, bridge):
    """A sync reports progress per document; the GUI gets the newest, not every one (each delivery
    makes the GUI thread take the GIL back from the worker)."""
    def job(ctx):
        for done in range(1, 301):
            ctx.progress(done, 300, f"Posted {done} of 300")
        return "ok"

    events = []
    bridge.jobEvent.connect(lambda e: events.append((e.kind, e.done)))
    job_ = bridge.run_job("test", job)
    job_.future.result(timeout=10)  # the GUI thread is busy meanwhile: all 300 arrive before it looks
    qtbot.waitUntil(lambda: bool(events) and events[-1][0] == "finished", timeout=10000)
    assert events == [("started", 0), ("progress", 300), ("finished", 0)]


def test_progress_arrives_while_the_job_runs(qtbot, bridge):
    release = threading.Event()

    def job(ctx):
        ctx.progress(1, 2, "half way")
        release.wait(10)

    progress = []
    bridge.jobEvent.connect(lambda e: progress.append(e.done) if e.kind == "progress" else None)
    bridge.run_job("test", job)
    qtbot.waitUntil(lambda: progress == [1], timeout=5000)
    release.set()


def test_closed_bridge_is_freed_at_once_in_the_gui_thread(qtbot, worker):
    """While open, the worker holds the bridge (its listener) and the bridge the worker: a cycle only
    the garbage collector can free, in whatever thread it runs. close() breaks it."""
    import weakref

    from desktop_app.ui.bridge import EngineBridge

    bridge = EngineBridge(worker)
    events = []
    bridge.jobEvent.connect(lambda e: events.append(e.kind))
    bridge.close()
    bridge.close()  # twice is harmless
    worker.submit("test", lambda ctx: None, actor="test").future.result(timeout=10)
    qtbot.wait(50)
    assert events == []  # a closed bridge hears nothing from the worker
    freed = weakref.ref(bridge)
    del bridge
    assert freed() is None  # by reference counting, here and now: no collection needed


def test_a_collection_in_the_worker_thread_finds_no_bridge_to_free(qtbot, bridge, worker):
    """Before close() broke the cycle, bridges of earlier tests were freed by whichever thread ran the
    collector; from the worker thread that crashed the process (seen in CI)."""
    import gc

    from desktop_app.sync.jobs import JobWorker
    from desktop_app.ui.bridge import EngineBridge

    for _ in range(3):  # as the fixtures of an earlier test leave them: progress was pending at the end
        closed = EngineBridge(JobWorker())
        closed._schedule_flush()  # what a progress event from the worker does
        closed.close()
    del closed

    def job(ctx):
        gc.collect()
        ctx.progress(1, 1, "collected")
        return "ok"

    results = []
    bridge.run_job("test", job, on_done=results.append)
    qtbot.waitUntil(lambda: results == ["ok"], timeout=10000)
