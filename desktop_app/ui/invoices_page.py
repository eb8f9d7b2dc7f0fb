"""Invoices: the ledger of AP documents, filters, and one document's lines, history and actions.

Everything that reads or writes the database goes through bridge.db_call; Retry goes through the
job worker (it talks to SYSPRO). The page keeps the selected document across refreshes.
"""
from __future__ import annotations

import datetime as dt
import functools

from PySide6.QtCore import QDate, QModelIndex, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.sync import invoices, ledger
from desktop_app.sync.build import left_out_text
from desktop_app.ui.invoice_model import (
    ATTENTION,
    DocumentDetail,
    InvoiceQuery,
    InvoiceTableModel,
    LinesModel,
    TrailModel,
    filter_choices,
    load_detail,
)
from desktop_app.ui.master_detail import MasterDetailMixin
from desktop_app.ui.widgets import (
    SearchBox,
    StatusLine,
    add_shortcut,
    format_money,
    monospace_font,
    plural,
    set_badge,
    show_error,
    state_label,
)

ACTOR = "user"
RETRYABLE = frozenset({ledger.FAILED, ledger.IN_DOUBT, ledger.NEEDS_MAPPING, ledger.SKIPPED, ledger.HELD,
                       ledger.WAITING_FOR_ORIGINAL, ledger.UNREADABLE})
NO_DATE = QDate(2000, 1, 1)  # the date edits' minimum, shown as "Any"
COLUMN_STATE_WIDTH = 150
KIND_WORDS = {"vendors": "vendor", "items": "item", "gl": "GL account", "branches": "business unit",
              "warehouses": "location"}


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


class CreditTargetDialog(QDialog):
    """Which SYSPRO invoice of the supplier a credit note (a return) is applied to: the person types it."""

    def __init__(self, name: str, supplier: str, current: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Credit against a SYSPRO invoice")
        layout = QVBoxLayout(self)
        text = QLabel(f"SYSPRO accepts a credit note only against an invoice that exists for the supplier. "
                      f"Type the SYSPRO invoice number of supplier {supplier} that {name} credits. "
                      "Your choice is kept for this credit and written to its history.", self)
        text.setWordWrap(True)
        layout.addWidget(text)
        self.invoice_edit = QLineEdit(current, self)
        self.invoice_edit.setMaxLength(invoices.INVOICE_NUMBER_MAX)
        self.invoice_edit.setPlaceholderText("SYSPRO invoice number")
        layout.addWidget(self.invoice_edit)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                        self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Credit this invoice")
        self.ok_button.setEnabled(bool(current.strip()))
        self.invoice_edit.textChanged.connect(lambda value: self.ok_button.setEnabled(bool(value.strip())))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    doc_id = 0
    name = ""

    def invoice(self) -> str:
        return self.invoice_edit.text().strip()


class HistoryTabMixin:
    """A detail pane's History tab: the audit timeline, and the XML an event sent or received."""

    def _history_tab(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        self.trail_model = TrailModel(self)
        self.trail_view = _plain_table(self.trail_model, page)
        self.trail_view.doubleClicked.connect(self._view_xml)
        self.trail_view.selectionModel().currentRowChanged.connect(self._trail_row_changed)
        self.xml_button = QPushButton("View XML", page)
        self.xml_button.setEnabled(False)
        self.xml_button.clicked.connect(lambda: self._view_xml(self.trail_view.currentIndex()))
        layout.addWidget(self.trail_view)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.xml_button)
        layout.addLayout(row)
        self.xml_dialog: XmlDialog | None = None
        return page

    def _show_trail(self, events: list) -> None:
        self.trail_model.set_events(events)
        self.trail_view.resizeColumnsToContents()
        self.trail_view.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)

    @Slot(QModelIndex, QModelIndex)
    def _trail_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        event = self.trail_model.events[current.row()] if current.isValid() else None
        self.xml_button.setEnabled(bool(event and (event.xml_sent or event.xml_received)))

    def _view_xml(self, index: QModelIndex) -> None:
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


class DetailPane(HistoryTabMixin, QWidget):
    """One document: facts, what blocks it, its AP lines and total, its audit trail, and actions."""

    retryRequested = Signal(int)
    skipRequested = Signal(int)
    keepRequested = Signal(int)
    creditRequested = Signal(int)
    openMapping = Signal(str, object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.detail: DocumentDetail | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)

        head = QHBoxLayout()
        self.badge = QLabel(self)
        self.title = QLabel("Select a document to see its lines and history.", self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setObjectName("pageTitle")
        self.title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        head.addWidget(self.badge)
        head.addWidget(self.title, 1)
        self.retry_button = QPushButton("Retry", self)
        self.retry_button.setToolTip("Map it again with today's mappings and post it to SYSPRO")
        self.retry_button.setProperty("primary", True)
        self.skip_button = QPushButton("Skip…", self)
        self.skip_button.setToolTip("Never post this document; you give the reason")
        self.keep_button = QPushButton("Keep as posted", self)
        self.keep_button.setToolTip("The ServiceTitan edit needs no change in SYSPRO: keep the posted document")
        self.credit_button = QPushButton("Credit against…", self)
        self.credit_button.setToolTip("Pick the SYSPRO invoice of this supplier that this credit note (a return) "
                                      "is applied to")
        for button in (self.credit_button, self.retry_button, self.skip_button, self.keep_button):
            head.addWidget(button)
        self.credit_button.clicked.connect(lambda: self._ask(self.creditRequested))
        self.retry_button.clicked.connect(lambda: self._ask(self.retryRequested))
        self.skip_button.clicked.connect(lambda: self._ask(self.skipRequested))
        self.keep_button.clicked.connect(lambda: self._ask(self.keepRequested))
        layout.addLayout(head)

        self.facts = QGridLayout()
        self.facts.setHorizontalSpacing(18)
        self.fact_labels: dict[str, QLabel] = {}
        names = ["Supplier", "SYSPRO invoice", "Type", "Amount", "Invoice date", "Branch", "Business unit",
                 "Technician", "Job", "Journal", "Attempts", "Posted", "SYSPRO amount", "Confirmed"]
        for position, name in enumerate(names):
            row, col = divmod(position, 4)
            caption = QLabel(name, self)
            caption.setObjectName("hint")
            caption.setStyleSheet("color: #6B7280;")
            value = QLabel("", self)
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.facts.addWidget(caption, row, col * 2)
            self.facts.addWidget(value, row, col * 2 + 1)
            self.fact_labels[name] = value
        layout.addLayout(self.facts)

        self.reason = QLabel("", self)
        self.reason.setTextFormat(Qt.TextFormat.PlainText)
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.reason)

        self.missing_box = QFrame(self)
        self.missing_box.setStyleSheet("QFrame#missing { background: #FFFBEB; border: 1px solid #FDE68A; "
                                       "border-radius: 6px; }")
        self.missing_box.setObjectName("missing")
        self.missing_layout = QVBoxLayout(self.missing_box)
        self.missing_box.hide()
        self.missing_buttons: list[QPushButton] = []
        layout.addWidget(self.missing_box)

        self.tabs = QTabWidget(self)
        lines_page = QWidget(self)
        lines_layout = QVBoxLayout(lines_page)
        lines_layout.setContentsMargins(0, 4, 0, 0)
        self.lines_model = LinesModel(self)
        self.lines_view = _plain_table(self.lines_model, lines_page)
        self.lines_view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.total_label = QLabel("", lines_page)
        self.total_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.total_label.setStyleSheet("font-weight: 600;")
        lines_layout.addWidget(self.lines_view)
        lines_layout.addWidget(self.total_label)
        self.left_out_label = QLabel("", lines_page)
        self.left_out_label.setTextFormat(Qt.TextFormat.PlainText)
        self.left_out_label.setObjectName("leftOut")
        self.left_out_label.setWordWrap(True)
        self.left_out_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.left_out_label.setStyleSheet("color: #4B5563;")
        self.left_out_label.hide()
        lines_layout.addWidget(self.left_out_label)
        self.tabs.addTab(lines_page, "AP document")

        self.tabs.addTab(self._history_tab(), "History")
        self.trail_view.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.tabs, 1)
        self.show_detail(None)

    def _ask(self, signal) -> None:
        if self.detail is not None:
            signal.emit(self.detail.id)

    def show_detail(self, detail: DocumentDetail | None) -> None:
        self.detail = detail
        for button in self.missing_buttons:
            button.deleteLater()
        self.missing_buttons = []
        while self.missing_layout.count():
            item = self.missing_layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        if detail is None:
            self.badge.hide()
            self.title.setText("Select a document to see its lines and history.")
            for label in self.fact_labels.values():
                label.setText("")
            self.reason.setText("")
            self.missing_box.hide()
            self.lines_model.set_lines([])
            self.trail_model.set_events([])
            self.total_label.setText("")
            self.left_out_label.hide()
            self.set_actions_enabled(False)
            return
        self.badge.show()
        set_badge(self.badge, detail.state)
        self.title.setText(detail.title)
        facts = {
            "Supplier": detail.supplier or "—", "SYSPRO invoice": detail.syspro_invoice or "—",
            "Type": ("Credit note" if detail.transaction_code == "C"
                     else "Negative invoice" if detail.amount < 0 else "Invoice")
                    + (f" (returns ST invoice {detail.returns})" if detail.returns else ""),
            "Amount": format_money(detail.amount),
            "Invoice date": detail.invoice_date.isoformat() if detail.invoice_date else "—",
            "Branch": detail.branch or "—", "Business unit": detail.business_unit or "—",
            "Technician": detail.technician or "—", "Job": detail.job_number or "—",
            "Journal": detail.journal or "—",
            "Attempts": str(detail.attempts),
            "Posted": detail.posted_at.strftime("%Y-%m-%d %H:%M") if detail.posted_at else "—",
            "SYSPRO amount": format_money(detail.syspro_amount) if detail.syspro_amount is not None else "—",
            "Confirmed": detail.confirmed_at.strftime("%Y-%m-%d %H:%M") if detail.confirmed_at else "—",
        }
        for name, value in facts.items():
            self.fact_labels[name].setText(value)
        self.reason.setText(detail.reason)
        blocked = detail.state == ledger.NEEDS_MAPPING and bool(detail.missing)
        self.reason.setVisible(bool(detail.reason) and not blocked)  # the box below says it better
        attention = detail.state in ledger.ATTENTION
        self.reason.setStyleSheet("color: #991B1B; font-weight: 600;" if attention else "color: #4B5563;")
        if detail.state == ledger.NEEDS_MAPPING and detail.missing:
            heading = QLabel(f"Waiting for {plural(len(detail.missing), 'mapping')}. Add "
                             f"{'it' if len(detail.missing) == 1 else 'them'} and the document is sent on the "
                             "next sync (or click Retry).", self.missing_box)
            heading.setWordWrap(True)
            self.missing_layout.addWidget(heading)
            for entry in detail.missing:
                line = QWidget(self.missing_box)
                line_layout = QHBoxLayout(line)
                line_layout.setContentsMargins(0, 0, 0, 0)
                sentence = QLabel(entry.get("reason") or f"{entry.get('label')} has no mapping.", line)
                sentence.setWordWrap(True)
                button = QPushButton("Add mapping", line)
                kind, key = entry.get("kind", ""), entry.get("key")
                button.setToolTip(f"Open the {kind} mappings with {KIND_WORDS.get(kind, kind)} {key} filled in")
                button.clicked.connect(lambda _=False, k=kind, v=key: self.openMapping.emit(k, v))
                line_layout.addWidget(sentence, 1)
                line_layout.addWidget(button)
                self.missing_layout.addWidget(line)
                self.missing_buttons.append(button)
            self.missing_box.show()
        else:
            self.missing_box.hide()
        self.lines_model.set_lines(detail.lines)
        self.lines_view.resizeColumnsToContents()
        self.lines_view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        if detail.lines:
            self.total_label.setText(f"Total  {format_money(self.lines_model.total())}")
        else:
            self.total_label.setText("No cost lines.")
        if detail.left_out:
            self.left_out_label.setText(f"Left out of AP ({len(detail.left_out)} line(s)):\n"
                                        + left_out_text(detail.left_out))
        self.left_out_label.setVisible(bool(detail.left_out))
        self._show_trail(detail.trail)
        self.xml_button.setEnabled(False)
        self.set_actions_enabled(True)

    def set_actions_enabled(self, enabled: bool) -> None:
        state = self.detail.state if self.detail else None
        self.retry_button.setEnabled(enabled and state in RETRYABLE)
        self.skip_button.setEnabled(enabled and state is not None and state != ledger.SKIPPED
                                    and ledger.SKIPPED in ledger.ALLOWED.get(state, ()))
        self.keep_button.setEnabled(enabled and state == ledger.CHANGED_IN_SOURCE)
        self.keep_button.setVisible(state == ledger.CHANGED_IN_SOURCE)
        credit = self.detail is not None and self.detail.transaction_code == "C"
        self.credit_button.setVisible(credit and state in invoices.CREDIT_PICKABLE)
        self.credit_button.setEnabled(enabled and credit and state in invoices.CREDIT_PICKABLE)


def _plain_table(model, parent: QWidget) -> QTableView:
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


class InvoicesPage(MasterDetailMixin, QWidget):
    openMapping = Signal(str, object)  # (mapping kind, ST key) → MappingsPage.show_missing
    read_detail = staticmethod(load_detail)
    detail_error = "The document could not be read"

    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.selected_id: int | None = None
        self._detail_generation = 0
        self._running: set[int] = set()  # documents with a Retry in flight
        self.last_message = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 6)
        title_row = QHBoxLayout()
        title = QLabel("Invoices", self)
        title.setObjectName("pageTitle")
        self.count_label = QLabel("Loading…", self)
        self.count_label.setObjectName("hint")
        self.retry_all_button = QPushButton("Retry all failed", self)
        self.retry_all_button.setToolTip("Retry every Failed and In-doubt document with today's mappings")
        self.refresh_button = QPushButton("Refresh", self)
        title_row.addWidget(title)
        title_row.addSpacing(12)
        title_row.addWidget(self.count_label, 1)
        title_row.addWidget(self.retry_all_button)
        title_row.addWidget(self.refresh_button)
        layout.addLayout(title_row)

        filters = QHBoxLayout()
        self.state_combo = QComboBox(self)
        self.state_combo.addItem("All states", None)
        self.state_combo.addItem("Needs attention", ATTENTION)
        for state in ledger.STATES:
            self.state_combo.addItem(state_label(state), state)
        self.date_from = self._date_edit("From")
        self.date_to = self._date_edit("To")
        self.supplier_combo = self._choice_combo("All suppliers")
        self.branch_combo = self._choice_combo("All branches")
        self.search_box = SearchBox("Search invoice, SYSPRO invoice, supplier, reason", self)
        for caption, widget in (("State", self.state_combo), ("From", self.date_from), ("To", self.date_to),
                                ("Supplier", self.supplier_combo), ("Branch", self.branch_combo)):
            label = QLabel(caption, self)
            label.setStyleSheet("color: #6B7280;")
            filters.addWidget(label)
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.search_box)
        layout.addLayout(filters)

        self.model = InvoiceTableModel(bridge, self)
        self.table = _plain_table(self.model, self)
        # the state badges are icons from the model (state_badge_icon), painted by Qt's own delegate;
        # the icon size only bounds them (a badge is as big as its pixmap)
        self.model.view = self.table
        self.table.setIconSize(QSize(COLUMN_STATE_WIDTH, 24))
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(self.model.query.sort_column, Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self.model.sort)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for column, width in enumerate([COLUMN_STATE_WIDTH, 95, 95, 135, 95, 115, 125, 75, 140, 85]):
            self.table.setColumnWidth(column, width)
        self.table.verticalHeader().setDefaultSectionSize(26)

        self.detail_pane = DetailPane(self)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail_pane)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        layout.addWidget(splitter, 1)
        self.status = StatusLine(self)
        layout.addWidget(self.status)

        self.model.loaded.connect(self._loaded)
        self.model.loadFailed.connect(self._load_failed)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.state_combo.currentIndexChanged.connect(self._filters_changed)
        self.supplier_combo.currentIndexChanged.connect(self._filters_changed)
        self.branch_combo.currentIndexChanged.connect(self._filters_changed)
        self.date_from.dateChanged.connect(self._filters_changed)
        self.date_to.dateChanged.connect(self._filters_changed)
        self.search_box.searchChanged.connect(self._filters_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.retry_all_button.clicked.connect(self.retry_all_failed)
        self.detail_pane.retryRequested.connect(self.retry)
        self.detail_pane.skipRequested.connect(self.skip)
        self.detail_pane.keepRequested.connect(self.keep_as_posted)
        self.detail_pane.creditRequested.connect(self.credit_against)
        self.credit_dialog: CreditTargetDialog | None = None
        self.detail_pane.openMapping.connect(self.openMapping)
        bridge.dataChanged.connect(self._data_changed)
        add_shortcut(self, "Ctrl+F", self.focus_search)
        add_shortcut(self, "F5", self.refresh)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)  # a cycle reports many changes: refresh once after them
        self._refresh_timer.timeout.connect(self.refresh)

        self.model.set_query(self._query())
        self._load_choices()

    # -- filters
    def _date_edit(self, _caption: str) -> QDateEdit:
        edit = QDateEdit(self)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumDate(NO_DATE)
        edit.setSpecialValueText("Any")
        edit.setDate(NO_DATE)
        return edit

    def _choice_combo(self, everything: str) -> QComboBox:
        combo = QComboBox(self)
        combo.addItem(everything, "")
        combo.setMinimumWidth(120)
        return combo

    def _query(self) -> InvoiceQuery:
        def day(edit: QDateEdit) -> dt.date | None:
            value = edit.date()
            return None if value == NO_DATE else dt.date(value.year(), value.month(), value.day())

        current = self.model.query
        return InvoiceQuery(state=self.state_combo.currentData(), date_from=day(self.date_from),
                            date_to=day(self.date_to), supplier=self.supplier_combo.currentData() or "",
                            branch=self.branch_combo.currentData() or "", search=self.search_box.text().strip(),
                            sort_column=current.sort_column, descending=current.descending)

    @Slot()
    def _filters_changed(self, *_args) -> None:
        self.count_label.setText("Loading…")
        self.model.set_query(self._query())

    def set_state_filter(self, state: str | None) -> None:
        """Show one state (a ledger state or "ATTENTION"), or all with None; the dashboard's counts use this."""
        index = self.state_combo.findData(state)
        self.state_combo.setCurrentIndex(max(index, 0))

    def focus_search(self) -> None:
        self.search_box.focus()

    def _load_choices(self) -> None:
        self.bridge.db_call(filter_choices, on_done=self._choices_loaded)

    def _choices_loaded(self, result) -> None:
        suppliers, branches = result
        for combo, values in ((self.supplier_combo, suppliers), (self.branch_combo, branches)):
            current = combo.currentData()
            known = [combo.itemData(i) for i in range(1, combo.count())]
            if known == values:
                continue
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for value in values:
                combo.addItem(value, value)
            combo.setCurrentIndex(max(combo.findData(current), 0))
            combo.blockSignals(False)

    # -- loading and selection
    @Slot(int)
    def _loaded(self, total: int) -> None:
        self.count_label.setText(plural(total, "document"))
        self._reselect()

    @Slot(str)
    def _load_failed(self, message: str) -> None:
        self.count_label.setText("")
        self.status.failed(message)

    select_document = MasterDetailMixin.select_item

    @Slot()
    def refresh(self) -> None:
        self._refresh_timer.stop()
        self.model.reload(keep_pages=True)
        self._load_choices()

    @Slot(str)
    def _data_changed(self, what: str) -> None:
        if what in ("invoices", "mappings", "all"):
            self._refresh_timer.start()

    # -- actions
    def _describe(self, doc_id: int) -> str:
        detail = self.detail_pane.detail
        if detail is not None and detail.id == doc_id:
            return detail.title
        return f"document {doc_id}"

    @Slot(int)
    def retry(self, doc_id: int) -> None:
        name = self._describe(doc_id)
        self._running.add(doc_id)
        self.detail_pane.set_actions_enabled(False)
        self.status.busy(f"Retrying {name}…")
        job = self.bridge.run_job("retry", lambda ctx: invoices.replay(ctx, [doc_id]), actor="user-retry",
                                  on_done=lambda _summary: self._retried(doc_id, name),
                                  on_error=lambda message: self._retry_failed(doc_id, name, message))
        if job is None:
            self._running.discard(doc_id)
            self.status.done("A retry is already waiting to run.")

    def _retried(self, doc_id: int, name: str) -> None:
        self._running.discard(doc_id)

        def tell(detail: DocumentDetail | None) -> None:
            if detail is None:
                self.status.done(f"Retry of {name} finished.")
                return
            sentence = f"Retry of {name} finished: it is now {state_label(detail.state).lower()}."
            if detail.state in ledger.ATTENTION and detail.reason:
                sentence += f" {detail.reason}"
                self.status.failed(sentence)
            else:
                self.status.done(sentence)
            if self.selected_id == doc_id:
                self._detail_loaded(self._detail_generation, detail)

        self.bridge.db_call(lambda: load_detail(doc_id), on_done=tell)
        self.refresh()

    def _retry_failed(self, doc_id: int, name: str, message: str) -> None:
        self._running.discard(doc_id)
        self.status.failed(f"Retry of {name} did not finish: {message}")
        show_error(self, "Retry", f"Retry of {name} did not finish.", message)
        self.refresh()

    @Slot()
    def retry_all_failed(self) -> None:
        self.retry_all_button.setEnabled(False)
        self.status.busy("Retrying every failed and in-doubt document…")

        def done(summary) -> None:
            self.retry_all_button.setEnabled(True)
            self.status.done(f"Retry finished: {plural(summary.posted, 'document')} posted, "
                             f"{summary.failed:,} still failing, {summary.needs_mapping:,} waiting for a mapping.")
            self.refresh()

        def failed(message: str) -> None:
            self.retry_all_button.setEnabled(True)
            self.status.failed(f"Retry did not finish: {message}")
            show_error(self, "Retry all failed", "Retrying the failed documents did not finish.", message)

        # every failed document may be many: in the engine process, as a cycle
        job = self.bridge.run_job("retry", functools.partial(invoices.replay, all_failed=True), actor="user-retry",
                                  isolated=True, on_done=done, on_error=failed)
        if job is None:
            self.retry_all_button.setEnabled(True)

    @Slot(int)
    def skip(self, doc_id: int) -> None:
        name = self._describe(doc_id)
        reason, ok = QInputDialog.getText(self, "Skip document",
                                          f"Why should {name} never be posted? (kept in its history)",
                                          QLineEdit.EchoMode.Normal, "")
        reason = (reason or "").strip()
        if not ok:
            return
        if not reason:
            self.status.failed("Nothing was skipped: a reason is needed.")
            return
        self.status.busy(f"Skipping {name}…")
        self.bridge.db_call(lambda: invoices.skip(doc_id, reason, actor=ACTOR),
                            on_done=lambda _doc: self._changed(f"{name} is skipped: {reason}"),
                            on_error=lambda message: self._action_failed(f"{name} could not be skipped", message))

    @Slot(int)
    def credit_against(self, doc_id: int) -> None:
        detail = self.detail_pane.detail
        if detail is None or detail.id != doc_id:
            return
        if self.credit_dialog is not None:
            self.credit_dialog.deleteLater()
        name = self._describe(doc_id)
        self.credit_dialog = CreditTargetDialog(name, detail.supplier, detail.syspro_invoice, self)
        self.credit_dialog.doc_id, self.credit_dialog.name = doc_id, name
        self.credit_dialog.accepted.connect(self._credit_dialog_accepted)
        self.credit_dialog.open()

    @Slot()
    def _credit_dialog_accepted(self) -> None:
        dialog = self.credit_dialog
        if dialog is not None:
            self._pick_credit_target(dialog.doc_id, dialog.name, dialog.invoice())

    def _pick_credit_target(self, doc_id: int, name: str, invoice: str) -> None:
        self.status.busy(f"Applying {name} to SYSPRO invoice {invoice}…")
        self.bridge.db_call(lambda: invoices.pick_credit_target(doc_id, invoice, actor=ACTOR),
                            on_done=lambda doc: self._changed(f"{name} will be posted as a credit against SYSPRO "
                                                              f"invoice {doc.syspro_invoice} on the next sync."),
                            on_error=lambda message: self._action_failed(f"{name} could not be applied to "
                                                                         f"invoice {invoice}", message))

    @Slot(int)
    def keep_as_posted(self, doc_id: int) -> None:
        name = self._describe(doc_id)
        self.status.busy(f"Keeping {name} as posted…")
        self.bridge.db_call(lambda: invoices.accept_change(doc_id, actor=ACTOR),
                            on_done=lambda doc: self._changed(f"{name} stays as posted "
                                                              f"({state_label(doc.state).lower()})."),
                            on_error=lambda message: self._action_failed(f"{name} could not be kept as posted",
                                                                         message))

    def _changed(self, sentence: str) -> None:
        self.status.done(sentence)
        self.bridge.dataChanged.emit("invoices")
        self.refresh()

    def _action_failed(self, sentence: str, message: str) -> None:
        self.status.failed(f"{sentence}: {message}")
        show_error(self, "Invoices", f"{sentence}.", message)
