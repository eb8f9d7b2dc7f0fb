"""The main window: navigation on the left, one page at a time on the right, state in the status bar.

Pages are built the first time they are shown (the invoice grid is not loaded at start-up).
Pages from other modules are imported then too; a module that does not exist yet shows a
placeholder instead of breaking the window.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app import APP_DISPLAY_NAME
from desktop_app.core import paths
from desktop_app.ui.dashboard import DashboardPage
from desktop_app.ui.log_view import LogPage
from desktop_app.ui.settings_page import SettingsPage
from desktop_app.ui.sync_control import SyncControl

log = logging.getLogger("desktop_app.ui")

NAV_STYLE = """
QListWidget#navigation { background: #EEF0F3; border: none; border-right: 1px solid #D9DDE3;
    padding-top: 8px; outline: 0; }
QListWidget#navigation::item { padding: 7px 14px; border: none; color: #374151; }
QListWidget#navigation::item:selected { background: #FFFFFF; color: #0F766E; font-weight: 600;
    border-left: 3px solid #0F766E; }
QListWidget#navigation::item:hover:!selected { background: #E4E7EB; }
QScrollArea#pageHolder { background: transparent; }
QLabel#comingSoonTitle { font-size: 14pt; font-weight: 600; color: #111827; }
"""

@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    build: Callable[[MainWindow], QWidget]


def ui_settings() -> QSettings:
    """Window geometry and small UI preferences: an ini file in the data directory (per profile)."""
    return QSettings(str(paths.data_dir() / "window.ini"), QSettings.Format.IniFormat)


def placeholder(title: str, text: str) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    heading = QLabel(title)
    heading.setObjectName("comingSoonTitle")
    body = QLabel(text)
    body.setWordWrap(True)
    body.setObjectName("hint")
    body.setMaximumWidth(640)
    layout.addWidget(heading)
    layout.addWidget(body)
    layout.addStretch(1)
    page.setProperty("placeholder", True)
    return page


def external_page(module: str, class_name: str, title: str):
    """Build a page from another module, or a placeholder if that module is not there yet."""
    def build(window: MainWindow) -> QWidget:
        try:
            cls = getattr(importlib.import_module(f"desktop_app.ui.{module}"), class_name)
        except ModuleNotFoundError as exc:
            if exc.name != f"desktop_app.ui.{module}":
                raise
            return placeholder(title, f"The {title} page is not part of this build yet.")
        return cls(window.bridge)
    return build


class MainWindow(QMainWindow):
    quitRequested = Signal()
    wizardRequested = Signal()

    def __init__(self, bridge, control: SyncControl, *, tray=None, settings: QSettings | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.control = control
        self.tray = tray
        self.settings = settings or ui_settings()
        self.quitting = False
        self.setWindowTitle(APP_DISPLAY_NAME)
        self.setObjectName("mainWindow")
        self.setStyleSheet(NAV_STYLE)

        self.specs = [
            PageSpec("dashboard", "Dashboard", lambda w: w._build_dashboard()),
            PageSpec("invoices", "Invoices", external_page("invoices_page", "InvoicesPage", "Invoices")),
            PageSpec("mappings", "Mappings", external_page("mappings_page", "MappingsPage", "Mappings")),
            PageSpec("vendors", "Vendors", external_page("records_page", "VendorsPage", "Vendors")),
            PageSpec("purchase_orders", "Purchase orders",
                     external_page("records_page", "PurchaseOrdersPage", "Purchase orders")),
            PageSpec("adjustments", "Adjustments", external_page("adjustments_page", "AdjustmentsPage", "Adjustments")),
            PageSpec("reconciliation", "Reconciliation",
                     external_page("reconcile_page", "ReconciliationPage", "Reconciliation")),
            PageSpec("log", "Log", lambda w: LogPage(w.bridge)),
            PageSpec("settings", "Settings", lambda w: w._build_settings()),
            PageSpec("rehearsal", "Go-live rehearsal", lambda w: w._build_rehearsal()),
        ]
        self.pages: dict[str, QWidget] = {}
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(190)
        self.nav.setIconSize(QSize(0, 0))
        self.stack = QStackedWidget()
        for i, spec in enumerate(self.specs):
            item = QListWidgetItem(spec.title)
            item.setToolTip(f"{spec.title} (Ctrl+{i + 1})")
            self.nav.addItem(item)
            self.stack.addWidget(QWidget())  # replaced by the page on first show

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(16, 12, 16, 8)
        content_layout.addWidget(self.stack)
        row.addWidget(content, 1)
        self.setCentralWidget(central)

        self.worker_label = QLabel("Idle")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.worker_label)

        self.nav.currentRowChanged.connect(self._show_row)
        control.cycleStarted.connect(self._cycle_started)
        control.cycleProgress.connect(self._cycle_progress)
        control.cycleEnded.connect(self._cycle_ended)
        control.notice.connect(self._notice)
        control.pausedChanged.connect(self._paused_changed)
        self._shortcuts()
        self.nav.setCurrentRow(0)
        self._paused_changed(control.paused)
        self.restore_geometry()

    # -- pages
    def page(self, key: str) -> QWidget:
        """The page widget, built now if it was not yet."""
        if key not in self.pages:
            index = self.index_of(key)
            try:
                widget = self.specs[index].build(self)
            except Exception as exc:  # a broken page must not take the window down
                log.exception("The %s page could not be built", key)
                widget = placeholder(self.specs[index].title, f"This page could not be opened: {exc}")
            # In a scroll area, so a page's minimum size never forces the window wider than a
            # small (or 150 %-scaled) screen: the page scrolls instead.
            holder = QScrollArea()
            holder.setObjectName("pageHolder")
            holder.setWidgetResizable(True)
            holder.setFrameShape(QFrame.Shape.NoFrame)
            holder.setWidget(widget)
            holder.viewport().setAutoFillBackground(False)  # the window's background shows through
            widget.setAutoFillBackground(False)
            old = self.stack.widget(index)
            self.stack.removeWidget(old)
            old.deleteLater()
            self.stack.insertWidget(index, holder)
            self.pages[key] = widget
        return self.pages[key]

    def current_page(self) -> QWidget:
        return self.page(self.current_key())

    def index_of(self, key: str) -> int:
        return next(i for i, spec in enumerate(self.specs) if spec.key == key)

    def current_key(self) -> str:
        return self.specs[self.nav.currentRow()].key

    def show_page(self, key: str) -> QWidget:
        self.nav.setCurrentRow(self.index_of(key))
        return self.pages[key]

    @Slot(int)
    def _show_row(self, row: int) -> None:
        if row < 0:
            return
        self.page(self.specs[row].key)
        self.stack.setCurrentIndex(row)

    def _build_dashboard(self) -> QWidget:
        page = DashboardPage(self.bridge, self.control)
        page.stateClicked.connect(self.show_invoices)
        page.mappingsRequested.connect(lambda: self.show_page("mappings"))
        page.pageRequested.connect(self.show_page)
        if self.tray is not None:
            page.countsChanged.connect(self.tray.show_counts)
        return page

    def _build_settings(self) -> QWidget:
        page = SettingsPage(self.bridge)
        page.wizardRequested.connect(self.wizardRequested)
        return page

    def _build_rehearsal(self) -> QWidget:
        from desktop_app.ui.rehearsal_page import RehearsalPage

        page = RehearsalPage(self.bridge)
        page.openMapping.connect(self._open_mapping)
        return page

    @Slot(str, object)
    def _open_mapping(self, kind: str, key) -> None:
        if key is not None:
            self.show_missing_mapping(kind, key)
            return
        page = self.show_page("mappings")  # the value has no key to pre-fill: open the kind's grid
        grid = getattr(page, "grids", {}).get(kind)
        if grid is not None:
            page.tabs.setCurrentWidget(grid)

    @Slot(str)
    def show_invoices(self, state: str | None) -> None:
        page = self.show_page("invoices")
        if hasattr(page, "set_state_filter"):
            page.set_state_filter(state)

    def show_missing_mapping(self, kind: str, key) -> None:
        page = self.show_page("mappings")
        if hasattr(page, "show_missing"):
            page.show_missing(kind, key)

    # -- keyboard
    def _shortcuts(self) -> None:
        for i in range(min(9, len(self.specs))):
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda row=i: self.nav.setCurrentRow(row))
        QShortcut(QKeySequence(Qt.Key.Key_F5), self, self.control.sync_now)
        QShortcut(QKeySequence("Ctrl+Q"), self, self.request_quit)  # StandardKey.Quit is empty on Windows
        self.find_shortcut = QShortcut(QKeySequence("Ctrl+F"), self, self.focus_search)
        QApplication.instance().focusChanged.connect(self._focus_changed)

    @Slot()
    def focus_search(self) -> bool:
        page = self.current_page()
        focus = getattr(page, "focus_search", None)
        if callable(focus):
            focus()
            return True
        edit = page.findChild(QLineEdit, "search")
        if edit is not None:
            edit.setFocus()
            edit.selectAll()
            return True
        return False

    @Slot(QWidget, QWidget)
    def _focus_changed(self, _old, new) -> None:
        # A page with its own Ctrl+F handles it while focus is inside it; two active Ctrl+F
        # shortcuts would be ambiguous and neither would fire.
        page = self.pages.get(self.current_key()) if self.nav.currentRow() >= 0 else None
        inside = new is not None and page is not None and page.isAncestorOf(new)
        self.find_shortcut.setEnabled(not (inside and _has_own_find(page)))

    # -- status bar
    @Slot(str)
    def _cycle_started(self, actor: str) -> None:
        self.worker_label.setText("Syncing…")
        self.progress.setRange(0, 0)
        self.progress.show()

    @Slot(int, int, str)
    def _cycle_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        self.worker_label.setText(f"Syncing… {done}/{total}" if total else "Syncing…")
        if message:
            self.statusBar().showMessage(message, 5000)

    @Slot(str, str, object)
    def _cycle_ended(self, kind: str, sentence: str, _result) -> None:
        self.progress.hide()
        self.worker_label.setText("Paused" if self.control.paused else "Idle")
        self.statusBar().showMessage(sentence, 15000)

    @Slot(str)
    def _notice(self, sentence: str) -> None:
        self.statusBar().showMessage(sentence, 8000)

    @Slot(bool)
    def _paused_changed(self, paused: bool) -> None:
        if not self.control.running:
            self.worker_label.setText("Scheduled syncs paused" if paused else "Idle")

    # -- geometry, closing
    def restore_geometry(self) -> bool:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
            if isinstance(state, QByteArray):
                self.restoreState(state)
            return True
        self.resize(1200, 780)
        return False

    def save_geometry(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()

    @Slot()
    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    @Slot()
    def request_quit(self) -> None:
        self.quitting = True
        self.quitRequested.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_geometry()
        if not self.quitting and self.tray is not None and self.tray.available:
            event.ignore()
            self.hide()
            if not self.settings.value("tray/notified", False, type=bool):
                self.tray.notify(APP_DISPLAY_NAME, "ml-connector keeps syncing in the background. "
                                 "Use the tray icon to open it again, or choose Quit there.", warning=False)
                self.settings.setValue("tray/notified", True)
            return
        event.accept()
        if not self.quitting:  # no tray: closing the window is quitting
            self.quitting = True
            self.quitRequested.emit()


def _has_own_find(page: QWidget) -> bool:
    find = QKeySequence("Ctrl+F")
    return any(shortcut.key() == find and shortcut.isEnabled() for shortcut in page.findChildren(QShortcut))
