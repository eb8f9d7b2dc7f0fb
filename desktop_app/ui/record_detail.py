"""The detail pane every record page shows under its grid, and the pieces it is made of.

One record of any flow (an invoice's AP document, a vendor, a purchase order, an adjustment) is
shown the same way: a state badge and a title, the actions that apply to it, a grid of facts, the
reason it waits, then tabs ending with its History (the audit trail, with the XML an event sent
to or received from SYSPRO one click away). A flow's pane adds only what it has on top (an
invoice's missing mappings and AP lines, a two-way record's conflict).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.table_model import ListTableModel
from desktop_app.ui.widgets import monospace_font, set_badge


def pretty_xml(text: str | None) -> str:
    """Indent XML for reading; anything that does not parse is shown as it came."""
    if not text:
        return ""
    try:
        from lxml import etree

        raw = text.encode("utf-8") if isinstance(text, str) else text
        parser = etree.XMLParser(remove_blank_text=True, recover=False)
        root = etree.fromstring(raw.lstrip(), parser)
        return etree.tostring(root, pretty_print=True, encoding="unicode")
    except Exception:  # not XML (an ERROR line from e.net, say): show it verbatim
        return text


def plain_table(model, parent: QWidget) -> QTableView:
    """A read-only grid of whole rows, one selected at a time, without grid lines or row numbers."""
    view = QTableView(parent)
    view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(24)
    view.setShowGrid(False)
    view.setWordWrap(False)
    return view


def hint_label(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("hint")
    label.setStyleSheet("color: #6B7280;")
    return label


class XmlDialog(QDialog):
    """The XML sent to and received from SYSPRO for one audit event, monospaced and indented."""

    def __init__(self, title: str, sent: str | None, received: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(760, 560)
        layout = QVBoxLayout(self)
        tabs = QTabWidget(self)
        self.editors: dict[str, QPlainTextEdit] = {}
        for name, text in (("Sent to SYSPRO", sent), ("Received from SYSPRO", received)):
            editor = QPlainTextEdit(self)
            editor.setReadOnly(True)
            editor.setFont(monospace_font())
            editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            editor.setPlainText(pretty_xml(text) if text else "(nothing)")
            tabs.addTab(editor, name)
            self.editors[name] = editor
        if not sent and received:
            tabs.setCurrentIndex(1)
        layout.addWidget(tabs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


# ---------------------------------------------------------------- the history (audit trail)
@dataclass
class TrailEntry:
    """One audit event as the History tab shows it, read on the db thread for any flow."""

    created_at: dt.datetime
    kind: str
    actor: str
    message: str
    xml_sent: str | None
    xml_received: str | None


class TrailModel(ListTableModel):
    """The audit timeline: time, who, what; rows with XML say so in the last column."""

    HEADERS = ["Time (UTC)", "Actor", "Event", "Message", "XML"]
    COL_MESSAGE = 3

    set_events = ListTableModel.set_rows
    events = property(lambda self: self.rows)

    def cell(self, row: int, column: int, role: int):
        event = self.rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return event.created_at.strftime("%Y-%m-%d %H:%M:%S") if event.created_at else ""
            if column == 1:
                return event.actor
            if column == 2:
                return event.kind.replace("_", " ")
            if column == 3:
                return event.message
            if column == 4:
                return "View" if (event.xml_sent or event.xml_received) else ""
        if role == Qt.ItemDataRole.ToolTipRole and column == self.COL_MESSAGE:
            return event.message
        if role == Qt.ItemDataRole.ForegroundRole and column == 4:
            return QColor("#0F766E")
        return None


class HistoryTab(QWidget):
    """A record's audit timeline; an event's XML opens in an XmlDialog (double-click or View XML)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        self.trail_model = TrailModel(self)
        self.trail_view = plain_table(self.trail_model, self)
        self.trail_view.setMinimumHeight(72)
        self.trail_view.horizontalHeader().setSectionResizeMode(TrailModel.COL_MESSAGE,
                                                                QHeaderView.ResizeMode.Stretch)
        self.trail_view.doubleClicked.connect(self.view_xml)
        self.trail_view.selectionModel().currentRowChanged.connect(self._row_changed)
        self.xml_button = QPushButton("View XML", self)
        self.xml_button.setEnabled(False)
        self.xml_button.clicked.connect(lambda: self.view_xml(self.trail_view.currentIndex()))
        layout.addWidget(self.trail_view)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.xml_button)
        layout.addLayout(row)
        self.xml_dialog: XmlDialog | None = None

    def show_events(self, events: list[TrailEntry]) -> None:
        self.trail_model.set_events(events)
        self.xml_button.setEnabled(False)
        self.trail_view.resizeColumnsToContents()
        self.trail_view.horizontalHeader().setSectionResizeMode(TrailModel.COL_MESSAGE,
                                                                QHeaderView.ResizeMode.Stretch)
        if events:
            self.trail_view.scrollToBottom()

    @Slot(QModelIndex, QModelIndex)
    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        event = self.trail_model.events[current.row()] if current.isValid() else None
        self.xml_button.setEnabled(bool(event and (event.xml_sent or event.xml_received)))

    def view_xml(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        event = self.trail_model.events[index.row()]
        if not (event.xml_sent or event.xml_received):
            return
        when = event.created_at.strftime("%Y-%m-%d %H:%M:%S") if event.created_at else ""
        self.xml_dialog = XmlDialog(f"XML — {event.kind.replace('_', ' ')} {when}", event.xml_sent,
                                    event.xml_received, self)
        self.xml_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.xml_dialog.open()


# ---------------------------------------------------------------- the pane
@dataclass(frozen=True)
class Action:
    """A button in the pane's head; `applies(detail)` says whether it is enabled for the record shown
    and `shown(detail or None)` whether it is there at all (None: always). Clicking it emits
    actionRequested(name, record id)."""

    name: str
    text: str
    tooltip: str
    applies: Callable[[object], bool]
    shown: Callable[[object], bool] | None = None
    primary: bool = False


class RecordDetailPane(QWidget):
    """One record of a flow: badge, title, actions, facts, reason, the flow's tabs and its History.

    Subclasses give ACTIONS, FACTS (captions; or `facts` to __init__) and FACT_COLUMNS, add their
    own sections to `body` and then call `finish`, and override `fact_values` (by caption) and
    `show_more` (what only their flow shows); the detail they are given has at least id, state,
    title, reason and trail."""

    actionRequested = Signal(str, int)  # action name, record id

    ACTIONS: Sequence[Action] = ()
    FACTS: Sequence[str] = ()
    FACT_COLUMNS = 3
    FACTS_TO_THE_LEFT = True  # False: the facts spread over the pane's width (many of them)
    ATTENTION: frozenset[str] = frozenset()  # states whose reason is shown as a problem
    PROMPT = "Select a record to see its history."

    def __init__(self, parent: QWidget | None = None, *, facts: Sequence[str] | None = None,
                 prompt: str | None = None):
        super().__init__(parent)
        self.detail = None
        self.prompt = self.PROMPT if prompt is None else prompt
        captions = self.FACTS if facts is None else facts
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(8, 8, 8, 8)

        head = QHBoxLayout()
        self.badge = QLabel(self)
        self.title = QLabel(self.prompt, self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        head.addWidget(self.badge)
        head.addWidget(self.title, 1)
        self.action_buttons: dict[str, QPushButton] = {}
        for action in self.ACTIONS:
            button = QPushButton(action.text, self)
            button.setToolTip(action.tooltip)
            if action.primary:
                button.setProperty("primary", True)
            button.clicked.connect(lambda _=False, name=action.name: self._ask(name))
            head.addWidget(button)
            self.action_buttons[action.name] = button
        self.body.addLayout(head)

        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        self.fact_labels: dict[str, QLabel] = {}
        for position, name in enumerate(captions):
            row, col = divmod(position, self.FACT_COLUMNS)
            value = QLabel("", self)
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(hint_label(name, self), row, col * 2)
            grid.addWidget(value, row, col * 2 + 1)
            self.fact_labels[name] = value
        if self.FACTS_TO_THE_LEFT:
            grid.setColumnStretch(self.FACT_COLUMNS * 2 - 1, 1)
        self.body.addLayout(grid)

        self.reason = QLabel("", self)
        self.reason.setTextFormat(Qt.TextFormat.PlainText)
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.addWidget(self.reason)

        self.tabs = QTabWidget(self)
        self.history = HistoryTab(self)
        self.trail_model, self.trail_view, self.xml_button = (self.history.trail_model, self.history.trail_view,
                                                              self.history.xml_button)

    def finish(self) -> None:
        """Called by a subclass once its own sections are added: the tabs, History last, go below them."""
        self.tabs.addTab(self.history, "History")
        self.body.addWidget(self.tabs, 1)
        self.show_detail(None)

    @property
    def xml_dialog(self) -> XmlDialog | None:
        return self.history.xml_dialog

    def _ask(self, name: str) -> None:
        if self.detail is not None:
            self.actionRequested.emit(name, self.detail.id)

    # -- what a flow says
    def fact_values(self, detail) -> dict[str, str]:
        raise NotImplementedError

    def reason_shown(self, detail) -> bool:
        """Whether the reason line is shown; a flow's own box may say it better."""
        return bool(detail.reason)

    def show_more(self, detail) -> None:
        """What only this flow shows; detail is None when nothing is selected."""

    def menu_buttons(self) -> list[QPushButton]:
        """The action buttons shown for the current record, for the grid's context menu."""
        return [button for button in self.action_buttons.values() if not button.isHidden()]

    # -- showing a record
    def show_detail(self, detail) -> None:
        self.detail = detail
        if detail is None:
            self.badge.hide()
            self.title.setText(self.prompt)
            for label in self.fact_labels.values():
                label.setText("")
            self.reason.setText("")
            self.reason.hide()
            self.show_more(None)
            self.history.show_events([])
            self.set_actions_enabled(False)
            return
        self.badge.show()
        set_badge(self.badge, detail.state)
        self.title.setText(detail.title)
        for name, value in self.fact_values(detail).items():
            self.fact_labels[name].setText(value)
        self.reason.setText(detail.reason)
        self.reason.setVisible(self.reason_shown(detail))
        self.reason.setStyleSheet("color: #991B1B; font-weight: 600;" if detail.state in self.ATTENTION
                                  else "color: #4B5563;")
        self.show_more(detail)
        self.history.show_events(detail.trail)
        self.set_actions_enabled(True)

    def set_actions_enabled(self, enabled: bool) -> None:
        """enabled False: a job for the record is in flight (or none is shown), every action waits."""
        detail = self.detail
        for action in self.ACTIONS:
            button = self.action_buttons[action.name]
            shown = action.shown is None or action.shown(detail)
            button.setVisible(shown)
            button.setEnabled(enabled and detail is not None and shown and action.applies(detail))
