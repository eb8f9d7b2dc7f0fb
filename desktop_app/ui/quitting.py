"""Quit while a sync runs: the sync stops after its current document while this dialog says so.

Waiting on the GUI thread would freeze the window (a document's request may take up to the read
timeout), and hiding everything at once would leave a process with no window that still holds
the instance lock, so that starting the app again meanwhile only says "already running".
"Quit now" ends the engine process at once: that is a crash as far as the sync is concerned, and
the exactly-once rule covers it (a document being posted is looked up in SYSPRO before it is sent
again).
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from desktop_app.sync.jobs import JobEvent, JobWorker

CHECK_MS = 100
QUIT_NOW_GRACE_S = 3.0  # after Quit now, how long the job's thread may take to notice the ended engine


class StoppingDialog(QDialog):
    """Shown from Quit until the worker is idle; emits `stopped` once, then the app quits."""

    stopped = Signal()

    def __init__(self, worker: JobWorker, parent: QWidget | None = None):
        super().__init__(parent)
        self.worker = worker
        self.setObjectName("stoppingDialog")
        self.setWindowTitle("Quitting ml-connector")
        self.setModal(True)
        self.message = QLabel("<b>Stopping the sync…</b>")
        self.explanation = QLabel("ml-connector quits as soon as the sync has finished the document it is "
                                  "working on.")
        self.explanation.setWordWrap(True)
        self.activity = QLabel("")
        self.activity.setTextFormat(Qt.TextFormat.PlainText)
        self.activity.setObjectName("stoppingActivity")
        self.activity.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # no end known: the bar moves so the window visibly lives
        self.busy.setTextVisible(False)
        buttons = QDialogButtonBox()
        self.quit_now_button = buttons.addButton("Quit now", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.quit_now_button.setToolTip("Stop the sync at once. A document that was being posted is looked up "
                                        "in SYSPRO at the next start, so it is never posted twice.")
        self.quit_now_button.clicked.connect(self.quit_now)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.explanation)
        layout.addWidget(self.activity)
        layout.addWidget(self.busy)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)
        self._give_up_at = float("inf")
        self._done = False
        self.abandoned = False  # Quit now was pressed
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self._check)

    def start(self) -> None:
        """Cancel every job (the current one stops after its document) and wait, showing this."""
        self.worker.cancel_all()
        self._timer.start()
        self.show()
        self._check()

    @Slot(object)
    def show_job_event(self, event: JobEvent) -> None:
        if event.kind in ("started", "progress") and event.message:
            self.activity.setText(event.message)

    @Slot()
    def quit_now(self) -> None:
        self.quit_now_button.setEnabled(False)
        self.explanation.setText("Ending the sync now. A document it was posting is looked up in SYSPRO at "
                                 "the next start.")
        self.abandoned = True
        self.worker.abandon_current()
        self._give_up_at = time.monotonic() + QUIT_NOW_GRACE_S

    def reject(self) -> None:
        """Escape or the window's close button: keep waiting (the sync is already told to stop)."""

    @Slot()
    def _check(self) -> None:
        if self._done or (self.worker.busy and time.monotonic() < self._give_up_at):
            return
        self._done = True
        self._timer.stop()
        self.hide()
        self.stopped.emit()
