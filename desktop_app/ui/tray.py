"""The tray icon: state at a glance, a small menu, a notification when a cycle ends badly.

Where the platform has no system tray (offscreen tests, some Linux desktops) nothing is created;
the status is still tracked so the rest of the app need not care.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app import APP_DISPLAY_NAME
from desktop_app.core import paths
from desktop_app.sync.ledger import ATTENTION
from desktop_app.ui.sync_control import SyncControl, cycle_problems

STATUS_ICONS = {"ok": "tray-ok.png", "working": "tray-working.png", "attention": "tray-attention.png"}


def load_icon(name: str) -> QIcon:
    path = paths.resource_path("icons", name)
    if not path.exists():
        path = paths.resource_path("icons", "ml-connector.png")
    return QIcon(str(path)) if path.exists() else QIcon()


def failure_notification(kind: str, sentence: str, result) -> str | None:
    """The balloon text after a cycle, or None when there is nothing to tell."""
    if kind == "failed":
        return f"Sync failed: {sentence}"
    if kind == "finished":
        problems = cycle_problems(result)
        if problems["failed"] or problems["in_doubt"]:
            parts = [f"{problems['failed']} failed" if problems["failed"] else "",
                     f"{problems['in_doubt']} in doubt" if problems["in_doubt"] else ""]
            return "Some invoices need a look: " + ", ".join(p for p in parts if p) + "."
    return None


class Tray(QObject):
    openRequested = Signal()
    quitRequested = Signal()

    def __init__(self, control: SyncControl, parent: QObject | None = None):
        super().__init__(parent)
        self.control = control
        self.status = "ok"
        self.tooltip = APP_DISPLAY_NAME
        self.last_notification: str | None = None
        self._attention = 0
        self.icon: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self._build()
        control.cycleStarted.connect(self._cycle_started)
        control.cycleEnded.connect(self._cycle_ended)
        control.pausedChanged.connect(self._paused_changed)

    @property
    def available(self) -> bool:
        return self.icon is not None

    def _build(self) -> None:
        self.icon = QSystemTrayIcon(load_icon(STATUS_ICONS["ok"]), self)
        self.menu = QMenu()
        self.open_action = QAction("Open ml-connector", self.menu)
        self.sync_action = QAction("Sync now", self.menu)
        self.pause_action = QAction("", self.menu)
        self.quit_action = QAction("Quit", self.menu)
        self.menu.addAction(self.open_action)
        self.menu.addSeparator()
        self.menu.addAction(self.sync_action)
        self.menu.addAction(self.pause_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.open_action.triggered.connect(self.openRequested)
        self.sync_action.triggered.connect(self.control.sync_now)
        self.pause_action.triggered.connect(self.control.toggle_paused)
        self.quit_action.triggered.connect(self.quitRequested)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self._paused_changed(self.control.paused)
        self.icon.setToolTip(self.tooltip)
        self.icon.show()

    def close(self) -> None:
        if self.icon is not None:
            self.icon.hide()
            self.menu.deleteLater()

    def notify(self, title: str, text: str, *, warning: bool = True) -> None:
        self.last_notification = text
        if self.icon is not None and self.icon.supportsMessages():
            icon = QSystemTrayIcon.MessageIcon.Warning if warning else QSystemTrayIcon.MessageIcon.Information
            self.icon.showMessage(title, text, icon, 10_000)

    @Slot(dict)
    def show_counts(self, counts: dict) -> None:
        """Fed by the dashboard after each refresh."""
        self._attention = sum(counts.get(state, 0) for state in ATTENTION)
        waiting = counts.get("READY", 0)
        parts = [f"{self._attention} need attention" if self._attention else "nothing needs attention"]
        if waiting:
            parts.append(f"{waiting} ready to post")
        if self.control.paused:
            parts.append("scheduled syncs paused")
        self.tooltip = f"{APP_DISPLAY_NAME}: " + ", ".join(parts)
        if not self.control.running:
            self._set_status("attention" if self._attention else "ok")
        if self.icon is not None:
            self.icon.setToolTip(self.tooltip)

    def _set_status(self, status: str) -> None:
        self.status = status
        if self.icon is not None:
            self.icon.setIcon(load_icon(STATUS_ICONS[status]))

    @Slot(str)
    def _cycle_started(self, _actor: str) -> None:
        self._set_status("working")

    @Slot(str, str, object)
    def _cycle_ended(self, kind: str, sentence: str, result) -> None:
        text = failure_notification(kind, sentence, result)
        self._set_status("attention" if text or self._attention else "ok")
        if text:
            self.notify(APP_DISPLAY_NAME, text)

    @Slot(bool)
    def _paused_changed(self, paused: bool) -> None:
        if self.icon is not None:
            self.pause_action.setText("Resume scheduled syncs" if paused else "Pause scheduled syncs")

    @Slot(QSystemTrayIcon.ActivationReason)
    def _activated(self, reason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.openRequested.emit()
