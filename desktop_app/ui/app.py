"""Start and stop the desktop app: one instance per data directory, engine threads, window, tray.

Order matters. Start: lock → database → logging → worker + bridge → (db thread) mark interrupted
runs, read settings → scheduler → window/tray → wizard on first run. Quit: scheduler → worker
(stops after the current document) → bridge → database → lock.
"""
from __future__ import annotations

import functools
import logging
import signal
import sys
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from desktop_app import APP_DISPLAY_NAME, APP_NAME, __version__
from desktop_app.core import config, db, logs, paths, secrets
from desktop_app.core.errors import EXIT_OK, EXIT_USAGE
from desktop_app.core.instance_lock import AlreadyRunning, InstanceLock
from desktop_app.sync import cycle, engine_process
from desktop_app.sync.jobs import CycleScheduler, JobWorker, mark_interrupted_runs
from desktop_app.ui.bridge import EngineBridge
from desktop_app.ui.garbage import GuiThreadGarbageCollector
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.messages import GuiExceptHook, show_error
from desktop_app.ui.quitting import StoppingDialog
from desktop_app.ui.single_instance import InstanceServer, RunningMutex, ask_running_instance_to_show
from desktop_app.ui.sync_control import SyncControl, submit_cycle
from desktop_app.ui.tray import Tray
from desktop_app.ui.wizard import SetupWizard

log = logging.getLogger("desktop_app.ui")

ORGANIZATION = "ml-connector"


def needs_setup(settings) -> bool:
    return not settings["servicetitan.tenant"] or not settings["syspro.enet_url"]


def configure_application(app: QApplication, *, style: bool = True) -> None:
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationVersion(__version__)
    app.setQuitOnLastWindowClosed(False)  # the tray keeps running; Quit quits
    icon = paths.resource_path("icons", "ml-connector.png")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    qss = paths.resource_path("style.qss")
    if style and qss.exists():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))


def make_application() -> QApplication:
    existing = QApplication.instance()
    if existing is None:
        # Qt 6 scales for high DPI by default; PassThrough keeps 125 %/150 % displays crisp.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        existing = QApplication(sys.argv[:1])
    configure_application(existing)
    return existing


def startup_reads() -> config.Settings:
    """Db thread, once: close out runs a crash left 'running', teach redaction the secrets, read settings."""
    interrupted = mark_interrupted_runs()
    if interrupted:
        log.warning("%d sync run(s) were interrupted when ml-connector last stopped; they will be picked up "
                    "again by the next cycle.", interrupted)
    secrets.load_all()
    return config.load_settings()


class ConnectorApp(QObject):
    """Everything the running GUI owns. `open()` then `start()`; `shutdown()` undoes both."""

    ready = Signal()   # window built (the wizard may be showing)

    def __init__(self, app: QApplication, *, lock: InstanceLock | None = None, scheduler_watchdog_seconds=30.0):
        super().__init__()
        self.app = app
        self.lock = lock
        self.worker: JobWorker | None = None
        self.bridge: EngineBridge | None = None
        self.scheduler: CycleScheduler | None = None
        self.submit_scheduled: Callable[[str], object] | None = None
        self.control: SyncControl | None = None
        self.tray: Tray | None = None
        self.window: MainWindow | None = None
        self.wizard: SetupWizard | None = None
        self.instance_server: InstanceServer | None = None
        self.excepthook: GuiExceptHook | None = None
        self.garbage: GuiThreadGarbageCollector | None = None
        self.stopping: StoppingDialog | None = None  # shown from Quit until a running job has stopped
        self.mutex = RunningMutex()
        self._watchdog_seconds = scheduler_watchdog_seconds
        self._minimized = False
        self._stopped = False

    def open(self) -> None:
        """Database, logging, threads. Raises db.DatabaseError with a sentence."""
        db.open_database()
        logs.setup_logging()
        if db.upgrade_notice:
            log.warning("%s", db.upgrade_notice)
            show_error(None, db.upgrade_notice, title=f"{APP_DISPLAY_NAME}: the database upgrade was interrupted")
        self.excepthook = GuiExceptHook(lambda: self.window).install()
        self.mutex.create()
        self.garbage = GuiThreadGarbageCollector(self).start()  # before any thread but this one runs Python
        # sync cycles run in a child process: on a thread they would hold the GIL the GUI needs
        self.worker = JobWorker(preload=cycle.preload, engine=engine_process.EngineProcess())
        self.worker.start()
        # not while the setup wizard is open: a closed wizard's objects would stay frozen for good
        self.garbage.freeze_when(lambda: self.window is not None and self.wizard is None
                                 and self.worker.preloaded.is_set())
        self.garbage.defer_while(lambda: self.worker.busy)
        self.bridge = EngineBridge(self.worker)
        self.instance_server = InstanceServer(self)
        self.instance_server.showRequested.connect(self.show_window)
        self.instance_server.listen()

    def start(self, *, minimized: bool = False, first_run_wizard: bool = True, sync_at_start: bool = False) -> None:
        """`sync_at_start`: the first scheduled cycle starts as the window opens, not an interval later
        (the demo: a newcomer should not look at an empty dashboard for a minute)."""
        self._minimized = minimized
        self._first_run_wizard = first_run_wizard
        self._sync_at_start = sync_at_start
        self.bridge.db_call(startup_reads, on_done=self._started, on_error=self._start_failed)

    def _start_failed(self, message: str) -> None:
        show_error(None, f"ml-connector could not read its settings: {message}")
        self.quit()

    def _started(self, settings) -> None:
        if self._stopped:
            return
        paused = settings["sync.paused"]
        # what the scheduler submits each interval (a cycle, or a rehearsal while posting is off)
        self.submit_scheduled = submit = functools.partial(submit_cycle, self.worker)
        self.scheduler = CycleScheduler(submit, settings["sync.interval_minutes"],
                                        watchdog_seconds=self._watchdog_seconds)
        self.scheduler.start(paused=paused)
        self.control = SyncControl(self.bridge, self.scheduler, paused=paused, parent=self)
        self.tray = Tray(self.control, parent=self)
        self.tray.openRequested.connect(self.show_window)
        self.tray.quitRequested.connect(self.quit)
        self.window = MainWindow(self.bridge, self.control, tray=self.tray)
        self.window.quitRequested.connect(self.quit)
        self.window.wizardRequested.connect(self.open_wizard)
        log.info("ml-connector %s started (data folder %s)", __version__, paths.data_dir())
        if self._first_run_wizard and needs_setup(settings):
            self.open_wizard(first_run=True)
        elif not self._minimized or not self.tray.available:
            self.window.show()
        if self._sync_at_start and not paused:
            submit("start-up")  # as the scheduler would: the same job, the same posting gate
        self.ready.emit()

    @Slot()
    def open_wizard(self, first_run: bool = False) -> SetupWizard:
        if self.wizard is not None:
            self.wizard.raise_()
            self.wizard.activateWindow()
            return self.wizard
        parent = None if first_run else self.window
        self.wizard = SetupWizard(self.bridge, parent)
        self.wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.wizard.mappingsRequested.connect(self._wizard_wants_mappings)
        self.wizard.finished.connect(self._wizard_finished)
        self.wizard.show()
        return self.wizard

    @Slot()
    def _wizard_wants_mappings(self) -> None:
        if self.window is not None:
            self.window.show_page("mappings")

    @Slot(int)
    def _wizard_finished(self, _result: int) -> None:
        self.wizard = None
        if self.window is not None and not self._stopped:
            self.window.show()

    @Slot()
    def show_window(self) -> None:
        if self.window is not None:
            self.window.bring_to_front()

    @Slot()
    def quit(self) -> None:
        """Leave the event loop; `shutdown()` runs after it (in run_gui) or in a test's teardown.

        With a job running, the job is first told to stop after its current document, and the
        window stays responsive under a dialog that says so and offers Quit now (`quitting`)."""
        if self.worker is not None and self.worker.busy and not self._stopped:
            self._quit_when_idle()
            return
        self._leave()

    def _quit_when_idle(self) -> None:
        if self.stopping is not None:
            self.stopping.raise_()
            self.stopping.activateWindow()
            return
        if self.scheduler is not None:
            self.scheduler.shutdown()  # no new cycle while the current one winds down
        parent = self.window if self.window is not None and self.window.isVisible() else None
        self.stopping = StoppingDialog(self.worker, parent)
        if self.control is not None and self.control.progress_message:
            self.stopping.activity.setText(self.control.progress_message)
        self.bridge.jobEvent.connect(self.stopping.show_job_event)
        self.stopping.stopped.connect(self._leave)
        log.info("Quit: waiting for the sync to stop after its current document")
        self.stopping.start()

    @Slot()
    def _leave(self) -> None:
        if self.window is not None:
            self.window.quitting = True
            self.window.save_geometry()
            self.window.hide()
        if self.tray is not None:
            self.tray.close()
        self.app.quit()

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.scheduler is not None:
            self.scheduler.shutdown()
        # after Quit now, a job on the worker's own thread (not the engine's) is not waited for long
        wait = 5 if self.stopping is not None and self.stopping.abandoned else 60
        if self.worker is not None and not self.worker.stop(timeout=wait):
            log.warning("The sync did not stop within %d s; quitting anyway (it will be resumed next time).", wait)
        if self.bridge is not None:
            self.bridge.close()
        if self.wizard is not None:
            self.wizard.close()
        if self.stopping is not None:
            self.stopping.deleteLater()
        if self.window is not None:
            self.window.quitting = True
            self.window.close()
            self.window.deleteLater()
        if self.tray is not None:
            self.tray.close()
        if self.instance_server is not None:
            self.instance_server.close()
        if self.excepthook is not None:
            self.excepthook.uninstall()
        if self.garbage is not None:
            self.garbage.stop()
        db.close_database()
        self.mutex.release()
        if self.lock is not None:
            self.lock.release()


def build_app_for_tests(*, lock: bool = True) -> ConnectorApp:
    """A ConnectorApp on the current QApplication, opened but not started (no exec())."""
    app = QApplication.instance()
    configure_application(app, style=False)
    services = ConnectorApp(app, lock=InstanceLock().acquire() if lock else None, scheduler_watchdog_seconds=3600)
    services.open()
    return services


def _quit_on_signals(services: ConnectorApp) -> None:
    """Ctrl+C in a console or a polite kill quits like the Quit menu (worker stops after its document)."""
    def handler(_signum, _frame):
        QTimer.singleShot(0, services.quit)

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)
    # Python runs signal handlers only when it gets control; let it have it twice a second.
    services._signal_timer = QTimer(services)
    services._signal_timer.timeout.connect(lambda: None)
    services._signal_timer.start(500)


def _check_engine_then_quit(services: ConnectorApp) -> None:
    """The smoke test's proof that the engine process starts and runs a job in the frozen build
    too; a failure is printed on stderr, which fails the smoke test."""
    def failed(message: str) -> None:
        print(f"The sync engine process does not work: {message}", file=sys.stderr)
        services.app.exit(EXIT_USAGE)

    services.bridge.run_job("engine-check", engine_process.process_id, actor="smoke-test", isolated=True,
                            on_done=lambda _pid: QTimer.singleShot(500, services.quit), on_error=failed)


def run_gui(minimized: bool = False, *, quit_after_start: bool = False, sync_at_start: bool = False) -> int:
    """Run the desktop app. `quit_after_start` builds everything, shows the window, then quits:
    the frozen build's "start and quit" smoke test. `sync_at_start` (the demo): the first cycle
    starts as the window opens."""
    app = make_application()
    lock = InstanceLock()
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        if ask_running_instance_to_show():
            print("ml-connector is already running for this data folder; its window was brought to the front.")
        else:
            print(str(exc))
            show_error(None, str(exc), blocking=True)
        return EXIT_OK
    services = ConnectorApp(app, lock=lock)
    try:
        services.open()
    except db.DatabaseError as exc:
        show_error(None, str(exc), blocking=True, title=f"{APP_DISPLAY_NAME} cannot start")
        services.shutdown()
        return EXIT_USAGE
    services.start(minimized=minimized, first_run_wizard=not quit_after_start, sync_at_start=sync_at_start)
    if quit_after_start:
        services.ready.connect(lambda: _check_engine_then_quit(services))
    _quit_on_signals(services)
    try:
        return app.exec()
    finally:
        services.shutdown()
