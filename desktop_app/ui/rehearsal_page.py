"""The go-live rehearsal page: what the connector would post, reject and create, and the switch that
turns posting on.

The rehearsal itself runs on the job worker (`rehearsal.run_rehearsal`, like a sync cycle, in the
engine process); this page reads the latest one on the db thread and only paints it. Whoever started
a rehearsal (this page, or the scheduler while posting is off), the page follows its job events.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.sync import rehearsal as engine
from desktop_app.sync.jobs import JobEvent
from desktop_app.ui.dashboard import flow_name, local_time
from desktop_app.ui.messages import alive
from desktop_app.ui.sync_control import CYCLE
from desktop_app.ui.widgets import StatusLine, format_money, plural, show_error

REHEARSAL = engine.Rehearsal.RUN_KIND  # the job kind of a rehearsal this page starts
MAX_TABLE_ROWS = 12      # a longer table scrolls inside itself; the page scrolls around it
MAX_LISTED_DOCUMENTS = 40
WAITING_COLOUR = QColor("#92400E")  # the amber of "needs a person" elsewhere in the app
SYSTEM_NAMES = {"syspro": "SYSPRO", "servicetitan": "ServiceTitan"}
# a rehearsal names a mapping kind in the singular; the Mappings page's grids are the plural
MAPPING_KINDS = {"vendor": "vendors", "item": "items", "branch": "branches", "warehouse": "warehouses",
                 "gl account": "gl"}
MAPPING_WORDS = {"vendors": "ServiceTitan vendor", "items": "ServiceTitan SKU", "gl": "GL account",
                 "branches": "business unit", "warehouses": "warehouse or truck"}

PAGE_STYLE = """
QFrame#bigNumber { background: #FFFFFF; border: 1px solid #D9DDE3; border-radius: 6px; }
QFrame#bigNumber[hot="true"] { background: #FEF2F2; border-color: #FCA5A5; }
QLabel#bigCount { font-size: 17pt; font-weight: 600; color: #111827; background: transparent; }
QFrame#bigNumber[hot="true"] QLabel#bigCount { color: #B91C1C; }
QLabel#bigName { color: #4B5563; background: transparent; }
QFrame#postingBox { background: #FFFBEB; border: 1px solid #FCD34D; border-radius: 6px; }
QFrame#postingBox[on="true"] { background: #F0FDF4; border-color: #86EFAC; }
QFrame#rejection { background: #FFFFFF; border: 1px solid #E5E7EB; border-left: 3px solid #DC2626;
    border-radius: 4px; }
QLabel#rejectionReason { font-weight: 600; color: #991B1B; }
"""


def confirm(parent: QWidget, title: str, text: str, informative: str, yes: str) -> bool:
    """Ask before something that changes what reaches SYSPRO; the safe answer is the default."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    box.setInformativeText(informative)
    box.setTextFormat(Qt.TextFormat.PlainText)
    go = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is go


def money(amount: Decimal | None) -> str:
    return f"${format_money(amount or Decimal('0'))}"


def rejected_count(rehearsal) -> int:
    return sum(len(group.documents) for group in rehearsal.rejections)


def invoice_count(need) -> int:
    invoices = need.invoices
    return invoices if isinstance(invoices, int) else len(invoices or ())


def mapping_kind(kind: str) -> str:
    return MAPPING_KINDS.get(kind.lower(), kind)


def mapping_key(need):
    """The ServiceTitan key the Mappings page can pre-fill, or None when the rehearsal (one stored
    before needs carried their key) names the value only by its label: then the kind's grid opens."""
    key = getattr(need, "key", None)
    if key not in (None, ""):
        return key
    value = str(need.value)
    return value if value.isdigit() or mapping_kind(need.kind) == "gl" else None


def document_names(rehearsal, keys: Sequence[str]) -> list[str]:
    """Invoice numbers for document keys, as the office knows them (a key it cannot place stays a key)."""
    numbers = {doc.key: str(doc.st_invoice_number) for doc in rehearsal.documents}
    names = [numbers.get(key, key) for key in keys]
    return sorted(names, key=lambda name: (len(name), name))  # 40507 before 40508 before 100001


def date_text(value) -> str:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value.strftime("%d %b %Y") if value else "not set"


def posting_sentence(on: bool) -> str:
    return ("Posting is on: scheduled syncs post to SYSPRO." if on else
            "Posting is off: scheduled syncs only rehearse. Nothing is posted to SYSPRO until you start posting.")


def load_state():
    """Db thread: the latest rehearsal (or None) and whether posting is on."""
    return engine.latest(), engine.posting_enabled()


class BigNumber(QFrame):
    def __init__(self, name: str, tooltip: str, *, hot_when_nonzero: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("bigNumber")
        self.hot_when_nonzero = hot_when_nonzero
        self.count_label = QLabel("–")
        self.count_label.setObjectName("bigCount")
        self.name_label = QLabel(name)
        self.name_label.setObjectName("bigName")
        self.name_label.setWordWrap(True)
        self.setToolTip(tooltip)
        column = QVBoxLayout(self)
        column.setContentsMargins(12, 6, 12, 8)
        column.setSpacing(0)
        column.addWidget(self.count_label)
        column.addWidget(self.name_label)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_value(self, text: str, count: int = 0) -> None:
        self.count_label.setText(text)
        self.setAccessibleName(f"{self.name_label.text()}: {text}")
        hot = self.hot_when_nonzero and count > 0
        if self.property("hot") != hot:
            self.setProperty("hot", hot)
            for widget in (self, self.count_label):
                widget.style().unpolish(widget)
                widget.style().polish(widget)


def make_table(headers: Sequence[str], stretch: int = 0) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    for column in range(len(headers)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if column == stretch
                                    else QHeaderView.ResizeMode.ResizeToContents)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    return table


def fill_table(table: QTableWidget, rows: Sequence[Sequence], *, right: Sequence[int] = ()) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem("" if value is None else str(value))
            item.setToolTip(item.text())
            if c in right:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)
    # high enough for its rows up to a limit: a short table does not leave a blank box, a long one scrolls
    shown = max(1, min(len(rows), MAX_TABLE_ROWS))
    height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth() + 2
    height += sum(table.rowHeight(r) for r in range(shown)) if rows else table.verticalHeader().defaultSectionSize()
    table.setFixedHeight(height)


def clear_layout(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.hide()
            widget.deleteLater()


def wrapped(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # reasons come from SYSPRO: text, never HTML
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class RehearsalPage(QWidget):
    openMapping = Signal(str, object)  # (mapping kind, ServiceTitan key) → MappingsPage.show_missing

    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.rehearsal = None
        self.posting: bool | None = None
        self.running = False
        self.loaded = False
        self.setStyleSheet(PAGE_STYLE)

        title = QLabel("Go-live rehearsal")
        title.setObjectName("pageTitle")
        self.run_button = QPushButton("Run rehearsal again")
        self.run_button.setToolTip("Check every document with SYSPRO again (nothing is posted or written)")
        self.export_button = QPushButton("Export CSV…")
        self.pdf_button = QPushButton("Save summary as PDF…")
        self.print_button = QPushButton("Print summary…")
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        for button in (self.run_button, self.export_button, self.pdf_button, self.print_button):
            header.addWidget(button)

        self.header_label = wrapped("No rehearsal yet.", "rehearsalHeader")
        self.status = StatusLine()

        # Posting: off (the button with the numbers on it) or on (and how to stop it)
        self.posting_box = QFrame()
        self.posting_box.setObjectName("postingBox")
        self.posting_label = wrapped("")
        self.posting_label.setObjectName("postingState")
        self.start_button = QPushButton("Start posting")
        self.start_button.setProperty("primary", True)
        self.stop_button = QPushButton("Stop posting")
        self.stop_button.hide()
        posting_row = QHBoxLayout(self.posting_box)
        posting_row.setContentsMargins(12, 8, 12, 8)
        posting_row.addWidget(self.posting_label, 1)
        posting_row.addWidget(self.start_button)
        posting_row.addWidget(self.stop_button)

        # Big numbers
        numbers = QHBoxLayout()
        self.numbers = {
            "would_post": BigNumber("documents would post", "Documents SYSPRO accepted in the rehearsal"),
            "amount": BigNumber("total to post", "Their total, to the cent"),
            "rejected": BigNumber("SYSPRO would reject", "Documents SYSPRO's validation refused: see why below",
                                  hot_when_nonzero=True),
            "mapping": BigNumber("need a mapping", "What needs a mapping before its invoices can post",
                                 hot_when_nonzero=True),
            "create": BigNumber("records to create", "Suppliers, purchase orders… the sync would create"),
        }
        for widget in self.numbers.values():
            numbers.addWidget(widget)

        # Totals per supplier and per branch, side by side
        self.supplier_table = make_table(("Supplier", "Documents", "Amount"))
        self.branch_table = make_table(("Branch", "Documents", "Amount"))
        totals = QHBoxLayout()
        for caption, table in (("Totals per supplier", self.supplier_table), ("Totals per branch", self.branch_table)):
            box = QGroupBox(caption)
            column = QVBoxLayout(box)
            column.addWidget(table)
            column.addStretch(1)  # the shorter table stays at the top, level with the other
            totals.addWidget(box, 1)

        # What SYSPRO would reject, by reason
        self.rejections_box = QGroupBox("What SYSPRO would reject")
        self.rejections_layout = QVBoxLayout(self.rejections_box)

        # What needs a mapping
        self.mapping_box = QGroupBox("What needs a mapping")
        self.mapping_layout = QVBoxLayout(self.mapping_box)
        self.mapping_buttons: list[QPushButton] = []

        # What would be created
        self.creations_box = QGroupBox("What would be created")
        creations = QVBoxLayout(self.creations_box)
        self.creations_hint = wrapped("", "hint")
        self.creations_table = make_table(("System", "What", "Name", "Approval"), stretch=2)
        creations.addWidget(self.creations_hint)
        creations.addWidget(self.creations_table)

        # Every document, for the one who signs
        self.documents_box = QGroupBox("Documents")
        self.documents_table = make_table(("Invoice", "Supplier", "Branch", "Type", "Date", "Amount",
                                           "SYSPRO says"), stretch=6)
        QVBoxLayout(self.documents_box).addWidget(self.documents_table)

        self.problems_label = wrapped("", "rehearsalProblems")
        self.problems_label.setStyleSheet("color: #991B1B;")
        self.problems_label.hide()

        self.content = QWidget()
        body = QVBoxLayout(self.content)
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.posting_box)
        body.addLayout(numbers)
        body.addWidget(self.problems_label)
        body.addLayout(totals)
        body.addWidget(self.rejections_box)
        body.addWidget(self.mapping_box)
        body.addWidget(self.creations_box)
        body.addWidget(self.documents_box)
        self.empty_label = wrapped("No rehearsal has run yet. Run one to see what the connector would post to "
                                   "SYSPRO, what SYSPRO would reject and why, and what would be created — "
                                   "before anything is posted.", "hint")

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.header_label)
        layout.addWidget(self.status)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.content)
        layout.addStretch(1)
        self.content.hide()

        self.run_button.clicked.connect(self.run_again)
        self.export_button.clicked.connect(self.export_csv)
        self.pdf_button.clicked.connect(self.save_pdf)
        self.print_button.clicked.connect(self.print_summary)
        self.start_button.clicked.connect(self.start_posting)
        self.stop_button.clicked.connect(self.stop_posting)
        bridge.jobEvent.connect(self._job_event)
        bridge.dataChanged.connect(self._data_changed)
        self._show_buttons()
        self.refresh()

    # -- reading
    @Slot()
    def refresh(self) -> None:
        self.bridge.db_call(load_state, on_done=self._loaded,
                            on_error=lambda message: self._failed("The rehearsal could not be read", message))

    def _loaded(self, state) -> None:
        if not alive(self):
            return
        rehearsal, posting = state
        self.loaded = True
        self.show_rehearsal(rehearsal, posting)

    @Slot(str)
    def _data_changed(self, what: str) -> None:
        if what == "settings":  # posting may have been switched elsewhere (the command line, the wizard)
            self.refresh()

    def show_rehearsal(self, rehearsal, posting: bool | None = None) -> None:
        self.rehearsal = rehearsal
        if posting is not None:
            self.posting = posting
        self.empty_label.setVisible(rehearsal is None)
        self.content.setVisible(rehearsal is not None)
        self._show_posting()
        self._show_buttons()
        if rehearsal is None:
            self.header_label.setText("No rehearsal yet. " + posting_sentence(bool(self.posting)))
            return
        would_post = list(rehearsal.would_post())
        self.header_label.setText(
            f"Rehearsed {local_time(rehearsal.ran_at)} · documents dated from {date_text(rehearsal.go_live)} "
            f"(the go-live date) · {'posting is on' if self.posting else 'posting is off'}. "
            "SYSPRO checked every document without saving it; nothing was posted, created or moved on.")
        self.numbers["would_post"].set_value(f"{len(would_post):,}", len(would_post))
        self.numbers["amount"].set_value(money(rehearsal.total_amount()))
        rejected = rejected_count(rehearsal)
        self.numbers["rejected"].set_value(f"{rejected:,}", rejected)
        self.numbers["mapping"].set_value(f"{len(rehearsal.needs_mapping):,}", len(rehearsal.needs_mapping))
        self.numbers["create"].set_value(f"{len(rehearsal.creations):,}", len(rehearsal.creations))
        problems = list(rehearsal.problems or ())
        self.problems_label.setText("\n".join(problems))
        self.problems_label.setVisible(bool(problems))

        for table, totals in ((self.supplier_table, rehearsal.by_supplier()),
                              (self.branch_table, rehearsal.by_branch())):
            rows = [(total.name, f"{total.documents:,}", money(total.amount)) for total in totals]
            rows.append(("Total", f"{len(would_post):,}", money(rehearsal.total_amount())))
            fill_table(table, rows, right=(1, 2))
            last = table.rowCount() - 1
            for column in range(3):
                font = table.item(last, column).font()
                font.setBold(True)
                table.item(last, column).setFont(font)

        self._show_rejections(rehearsal)
        self._show_mappings(rehearsal)
        self._show_creations(rehearsal)
        docs = sorted(rehearsal.documents, key=lambda d: (d.ok, d.supplier, str(d.st_invoice_number)))
        fill_table(self.documents_table, [
            (d.st_invoice_number, d.supplier, d.branch, engine.TYPES.get(d.transaction_code, d.transaction_code),
             date_text(d.invoice_date),
             money(d.amount), "; ".join(d.problems) if not d.ok else
             (f"accepted — {d.note}" if getattr(d, "note", "") else "accepted")) for d in docs], right=(5,))
        self.documents_box.setTitle(f"Documents ({len(docs):,})")

    def _show_rejections(self, rehearsal) -> None:
        clear_layout(self.rejections_layout)
        total = rejected_count(rehearsal)
        self.rejections_box.setTitle(f"What SYSPRO would reject ({plural(total, 'document')})")
        if not rehearsal.rejections:
            self.rejections_layout.addWidget(wrapped("Nothing: SYSPRO accepted every document it checked.", "hint"))
            return
        for group in sorted(rehearsal.rejections, key=lambda g: -len(g.documents)):
            card = QFrame()
            card.setObjectName("rejection")
            column = QVBoxLayout(card)
            column.setContentsMargins(10, 6, 10, 6)
            column.setSpacing(2)
            column.addWidget(wrapped(f"{group.reason} — {plural(len(group.documents), 'document')}",
                                     "rejectionReason"))
            column.addWidget(wrapped(f"How to fix: {group.fix}", "rejectionFix"))
            names = document_names(rehearsal, group.documents)
            listed = ", ".join(names[:MAX_LISTED_DOCUMENTS])
            more = len(group.documents) - MAX_LISTED_DOCUMENTS
            documents = wrapped(f"Documents: {listed}" + (f" … and {more} more (in the CSV)" if more > 0 else ""),
                                "rejectionDocuments")
            documents.setProperty("documents", names)
            column.addWidget(documents)
            self.rejections_layout.addWidget(card)

    def _show_mappings(self, rehearsal) -> None:
        clear_layout(self.mapping_layout)
        self.mapping_buttons = []
        self.mapping_box.setTitle(f"What needs a mapping ({len(rehearsal.needs_mapping):,})")
        if not rehearsal.needs_mapping:
            self.mapping_layout.addWidget(wrapped("Nothing: every invoice has the mappings it needs.", "hint"))
            return
        for need in rehearsal.needs_mapping:
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            count = invoice_count(need)
            kind = mapping_kind(need.kind)
            what = MAPPING_WORDS.get(kind, kind)
            text = wrapped(f"{what} {need.value} — {plural(count, 'invoice')} wait for it. {need.fix}")
            button = QPushButton("Add mapping…")
            key = mapping_key(need)
            button.setToolTip(f"Open the {kind} mappings" + (f" with {what} {key} filled in" if key else ""))
            button.clicked.connect(lambda _=False, k=kind, v=key: self.openMapping.emit(k, v))
            line.addWidget(text, 1)
            line.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
            self.mapping_layout.addWidget(row)
            self.mapping_buttons.append(button)

    def _show_creations(self, rehearsal) -> None:
        creations = list(rehearsal.creations)
        waiting = sum(1 for c in creations if c.waits_for_approval)
        self.creations_box.setTitle(f"What would be created ({len(creations):,})")
        if not creations:
            self.creations_hint.setText("Nothing would be created in ServiceTitan or SYSPRO.")
        else:
            per_system = {}
            for creation in creations:
                name = SYSTEM_NAMES.get(creation.system, creation.system)
                per_system[name] = per_system.get(name, 0) + 1
            self.creations_hint.setText(
                "; ".join(f"{count:,} in {name}" for name, count in per_system.items())
                + (f". {waiting:,} wait for your approval (more than the approval threshold allows at once): "
                   "approve them on their page." if waiting else "."))
        creations.sort(key=lambda c: (not c.waits_for_approval, c.system, c.flow, c.name))
        fill_table(self.creations_table, [
            (SYSTEM_NAMES.get(c.system, c.system), flow_name(c.flow), c.name,
             "Waits for your approval" if c.waits_for_approval else "Created by the sync") for c in creations])
        for r, creation in enumerate(creations):
            if creation.waits_for_approval:
                item = self.creations_table.item(r, 3)
                font = item.font()
                font.setBold(True)
                item.setFont(font)
                item.setForeground(WAITING_COLOUR)
        self.creations_table.setVisible(bool(creations))

    def _show_posting(self) -> None:
        on = bool(self.posting)
        if self.posting_box.property("on") != on:
            self.posting_box.setProperty("on", on)
            self.posting_box.style().unpolish(self.posting_box)
            self.posting_box.style().polish(self.posting_box)
        if on:
            self.posting_label.setText("Posting is on: scheduled syncs post to SYSPRO. Stop posting to go back "
                                       "to rehearsals only.")
            self.start_button.setText("Posting is on")
        else:
            self.posting_label.setText("Posting is off: scheduled syncs only rehearse; nothing reaches the AP "
                                       "ledger until you start posting. Review the numbers below first.")
            self.start_button.setText(self.start_text())
        self.stop_button.setVisible(on)

    def start_text(self) -> str:
        if self.rehearsal is None:
            return "Start posting"
        would_post = list(self.rehearsal.would_post())
        return f"Start posting — {plural(len(would_post), 'document')}, {money(self.rehearsal.total_amount())}"

    def _show_buttons(self) -> None:
        has = self.rehearsal is not None
        self.run_button.setEnabled(not self.running)
        self.run_button.setText("Rehearsing…" if self.running else
                                ("Run rehearsal again" if has else "Run rehearsal"))
        for button in (self.export_button, self.pdf_button, self.print_button):
            button.setEnabled(has)
        self.start_button.setEnabled(has and not self.posting and not self.running and self.loaded)
        self.start_button.setToolTip("" if has else "Run a rehearsal first: then you know what will be posted.")

    # -- running it
    @Slot()
    def run_again(self) -> None:
        job = self.bridge.run_job(REHEARSAL, engine.run_rehearsal, actor="user", unique=True, isolated=True,
                                  on_error=lambda message: self._failed("The rehearsal did not finish", message))
        if job is None:
            self.status.done("A rehearsal is already waiting to run.")
            return
        self.running = True
        self.status.busy("Rehearsal queued: it starts when the current job ends…")
        self._show_buttons()

    @Slot(object)
    def _job_event(self, event: JobEvent) -> None:
        if not alive(self):
            return
        if event.job_kind != REHEARSAL:
            # a scheduled sync while posting is off rehearses under the cycle's name
            if event.job_kind != CYCLE or self.posting is not False:
                return
            if event.kind == "started":
                self.status.busy(f"A sync started by {event.actor} is rehearsing (posting is off)…")
            elif event.kind == "finished" and hasattr(event.result, "would_post"):
                self.status.done("The scheduled rehearsal finished.")
                self.show_rehearsal(event.result)
                self.refresh()
            elif event.kind in ("failed", "cancelled"):
                self.status.done("")
            return
        if event.kind == "started":
            self.running = True
            self.status.busy(f"Rehearsing (started by {event.actor})…")
        elif event.kind == "progress":
            self.status.busy(f"Rehearsing… {event.done:,}/{event.total:,} {event.message}" if event.total
                             else f"Rehearsing… {event.message}")
        elif event.kind in ("finished", "failed", "cancelled"):
            self.running = False
            if event.kind == "finished":
                self.status.done("Rehearsal finished.")
                if hasattr(event.result, "would_post"):
                    self.show_rehearsal(event.result)
                self.refresh()
            elif event.kind == "cancelled":
                self.status.done("The rehearsal was stopped.")
        self._show_buttons()

    def _failed(self, sentence: str, message: str) -> None:
        if not alive(self):
            return
        self.running = False
        self.status.failed(f"{sentence}: {message}")
        self._show_buttons()

    # -- posting
    @Slot()
    def start_posting(self) -> None:
        rehearsal = self.rehearsal
        if rehearsal is None or self.posting:
            return
        count, amount = len(list(rehearsal.would_post())), money(rehearsal.total_amount())
        others = []
        if rejected_count(rehearsal):
            others.append(f"{plural(rejected_count(rehearsal), 'document')} SYSPRO would reject")
        if rehearsal.needs_mapping:
            others.append(f"invoices waiting for {plural(len(rehearsal.needs_mapping), 'mapping')}")
        informative = (
            f"From the next sync, ml-connector posts to the live SYSPRO AP ledger: the rehearsal found "
            f"{plural(count, 'document')} totalling {amount}, dated from {date_text(rehearsal.go_live)}. "
            + (f"Not posted until fixed: {' and '.join(others)}. " if others else "")
            + "Invoices that arrive later are posted as they come. You can stop posting here at any time; "
            "what was posted stays posted.")
        if not confirm(self, "Start posting", f"Start posting {plural(count, 'document')}, {amount}, to SYSPRO?",
                       informative, "Start posting"):
            return
        self.start_button.setEnabled(False)
        self.status.busy("Turning posting on…")
        self.bridge.db_call(lambda: engine.start_posting(rehearsal, actor="user"), on_done=self._posting_switched,
                            on_error=lambda message: self._failed("Posting could not be turned on", message))

    @Slot()
    def stop_posting(self) -> None:
        if not confirm(self, "Stop posting", "Stop posting to SYSPRO?",
                       "Scheduled syncs will only rehearse until you start posting again. A document being "
                       "posted right now is finished first.", "Stop posting"):
            return
        self.stop_button.setEnabled(False)
        self.bridge.db_call(lambda: engine.stop_posting(actor="user"), on_done=self._posting_switched,
                            on_error=lambda message: self._failed("Posting could not be turned off", message))

    def _posting_switched(self, _result) -> None:
        if not alive(self):
            return
        self.stop_button.setEnabled(True)
        self.bridge.db_call(engine.posting_enabled, on_done=self._posting_read)

    def _posting_read(self, on: bool) -> None:
        if not alive(self):
            return
        self.posting = on
        self.status.done(posting_sentence(on))
        self.show_rehearsal(self.rehearsal)
        self.bridge.dataChanged.emit("settings")  # the dashboard's banner and the scheduler follow

    # -- exporting
    @Slot()
    def export_csv(self) -> None:
        rehearsal = self.rehearsal
        if rehearsal is None:
            return
        name = f"rehearsal-{rehearsal.ran_at:%Y-%m-%d}.csv" if rehearsal.ran_at else "rehearsal.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export the rehearsal", name, "CSV files (*.csv)")
        if not path:
            return
        self.bridge.db_call(lambda: rehearsal.write_csv(path), on_done=lambda _n: self.status.done(
            f"Exported {plural(len(rehearsal.documents), 'document')} to {path}."),
            on_error=lambda message: self._export_failed("The CSV file could not be written", message))

    def summary_document(self) -> QTextDocument:
        document = QTextDocument(self)
        document.setHtml(self.rehearsal.printable_html())
        return document

    @Slot()
    def save_pdf(self) -> None:
        if self.rehearsal is None:
            return
        name = f"rehearsal-{self.rehearsal.ran_at:%Y-%m-%d}.pdf" if self.rehearsal.ran_at else "rehearsal.pdf"
        path, _ = QFileDialog.getSaveFileName(self, "Save the rehearsal summary", name, "PDF files (*.pdf)")
        if not path:
            return
        if not path.lower().endswith(".pdf"):
            path += ".pdf"
        try:
            write_pdf(self.summary_document(), path)
        except OSError as exc:
            self._export_failed("The PDF could not be written", str(exc))
            return
        self.status.done(f"Saved the summary to {path}: print it for the controller to sign.")

    @Slot()
    def print_summary(self) -> None:
        if self.rehearsal is None:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle("Print the rehearsal summary")
        document = self.summary_document()

        def accepted() -> None:
            document.print_(printer)
            self.status.done("The summary went to the printer.")

        dialog.accepted.connect(accepted)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.print_dialog = dialog
        dialog.open()

    def _export_failed(self, sentence: str, message: str) -> None:
        if not alive(self):
            return
        self.status.failed(f"{sentence}: {message}")
        show_error(self, "Go-live rehearsal", f"{sentence}. Choose another folder and try again.", message)


def write_pdf(document: QTextDocument, path: str) -> None:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(path)
    document.print_(printer)
    if not Path(path).exists():
        raise OSError(f"{path} was not created: is the folder writable?")

