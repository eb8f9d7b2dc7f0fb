"""Invoices: the ledger of AP documents on the shared record page, with the invoice's own filters
(dates, supplier, branch), its detail (what blocks it, its AP lines) and actions (Retry, Retry all
failed, Skip, Keep as posted, Credit against…).

Everything that reads or writes the database goes through bridge.db_call; Retry goes through the
job worker (it talks to SYSPRO).
"""
from __future__ import annotations

import datetime as dt
import functools

from PySide6.QtCore import QDate, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.sync import invoices, ledger
from desktop_app.sync.build import left_out_text
from desktop_app.ui.invoice_model import INVOICES, DocumentDetail, LinesModel, filter_choices, load_detail
from desktop_app.ui.record_detail import Action, RecordDetailPane, hint_label, plain_table
from desktop_app.ui.record_page import ACTOR, RecordListPage
from desktop_app.ui.widgets import format_money, plural, show_error, state_label

RETRYABLE = frozenset({ledger.FAILED, ledger.IN_DOUBT, ledger.NEEDS_MAPPING, ledger.SKIPPED, ledger.HELD,
                       ledger.WAITING_FOR_ORIGINAL, ledger.UNREADABLE})
NO_DATE = QDate(2000, 1, 1)  # the date edits' minimum, shown as "Any"
KIND_WORDS = {"vendors": "vendor", "items": "item", "gl": "GL account", "branches": "business unit",
              "warehouses": "location"}


def _credit_pickable(detail) -> bool:
    return detail is not None and detail.transaction_code == "C" and detail.state in invoices.CREDIT_PICKABLE


INVOICE_ACTIONS = (
    Action("credit_against", "Credit against…", "Pick the SYSPRO invoice of this supplier that this credit note "
           "(a return) is applied to", applies=_credit_pickable, shown=_credit_pickable),
    Action("retry", "Retry", "Map it again with today's mappings and post it to SYSPRO",
           applies=lambda d: d.state in RETRYABLE, primary=True),
    Action("skip", "Skip…", "Never post this document; you give the reason",
           applies=lambda d: d.state != ledger.SKIPPED and ledger.SKIPPED in ledger.ALLOWED.get(d.state, ())),
    Action("keep_as_posted", "Keep as posted", "The ServiceTitan edit needs no change in SYSPRO: keep the posted "
           "document", applies=lambda d: d.state == ledger.CHANGED_IN_SOURCE,
           shown=lambda d: d is not None and d.state == ledger.CHANGED_IN_SOURCE),
)


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


class InvoiceDetailPane(RecordDetailPane):
    """One document: facts, what blocks it (with Add mapping), its AP lines and total, and its history."""

    openMapping = Signal(str, object)

    ACTIONS = INVOICE_ACTIONS
    FACTS = ["Supplier", "SYSPRO invoice", "Type", "Amount", "Invoice date", "Branch", "Business unit",
             "Technician", "Job", "Journal", "Attempts", "Posted", "SYSPRO amount", "Confirmed"]
    FACT_COLUMNS = 4
    FACTS_TO_THE_LEFT = False
    ATTENTION = ledger.ATTENTION
    PROMPT = "Select a document to see its lines and history."

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        buttons = self.action_buttons
        self.credit_button, self.retry_button = buttons["credit_against"], buttons["retry"]
        self.skip_button, self.keep_button = buttons["skip"], buttons["keep_as_posted"]

        self.missing_box = QFrame(self)
        self.missing_box.setStyleSheet("QFrame#missing { background: #FFFBEB; border: 1px solid #FDE68A; "
                                       "border-radius: 6px; }")
        self.missing_box.setObjectName("missing")
        self.missing_layout = QVBoxLayout(self.missing_box)
        self.missing_box.hide()
        self.missing_buttons: list[QPushButton] = []
        self.body.addWidget(self.missing_box)

        lines_page = QWidget(self)
        lines_layout = QVBoxLayout(lines_page)
        lines_layout.setContentsMargins(0, 4, 0, 0)
        self.lines_model = LinesModel(self)
        self.lines_view = plain_table(self.lines_model, lines_page)
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
        self.finish()

    def fact_values(self, detail: DocumentDetail) -> dict[str, str]:
        return {
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

    def reason_shown(self, detail: DocumentDetail) -> bool:
        blocked = detail.state == ledger.NEEDS_MAPPING and bool(detail.missing)
        return bool(detail.reason) and not blocked  # the missing box says it better

    def show_more(self, detail: DocumentDetail | None) -> None:
        for button in self.missing_buttons:
            button.deleteLater()
        self.missing_buttons = []
        while self.missing_layout.count():
            item = self.missing_layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        if detail is None:
            self.missing_box.hide()
            self.lines_model.set_lines([])
            self.total_label.setText("")
            self.left_out_label.hide()
            return
        if detail.state == ledger.NEEDS_MAPPING and detail.missing:
            self._show_missing(detail.missing)
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

    def _show_missing(self, missing: list[dict]) -> None:
        heading = QLabel(f"Waiting for {plural(len(missing), 'mapping')}. Add "
                         f"{'it' if len(missing) == 1 else 'them'} and the document is sent on the "
                         "next sync (or click Retry).", self.missing_box)
        heading.setWordWrap(True)
        self.missing_layout.addWidget(heading)
        for entry in missing:
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


class InvoicesPage(RecordListPage):
    openMapping = Signal(str, object)  # (mapping kind, ST key) → MappingsPage.show_missing
    read_detail = staticmethod(load_detail)
    detail_error = "The document could not be read"

    TITLE = "Invoices"
    STATES = ledger.STATES
    ATTENTION_STATES = ledger.ATTENTION
    SEARCH_HINT = "Search invoice, SYSPRO invoice, supplier, reason"
    REFRESH_ON = frozenset({"invoices", "mappings", "all"})

    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(bridge, parent)
        self.credit_dialog: CreditTargetDialog | None = None
        self.retry_all_button = QPushButton("Retry all failed", self)
        self.retry_all_button.setToolTip("Retry every Failed and In-doubt document with today's mappings")
        self.head.insertWidget(self.head.indexOf(self.refresh_button), self.retry_all_button)
        self.retry_all_button.clicked.connect(self.retry_all_failed)
        self.detail_pane.openMapping.connect(self.openMapping)
        self._load_choices()

    def make_flow_view(self):
        return INVOICES

    def make_detail_pane(self) -> InvoiceDetailPane:
        return InvoiceDetailPane(self)

    # -- the invoice's own filters
    def add_filters(self, row: QHBoxLayout) -> None:
        self.date_from = self._date_edit()
        self.date_to = self._date_edit()
        self.supplier_combo = self._choice_combo("All suppliers")
        self.branch_combo = self._choice_combo("All branches")
        for caption, widget in (("From", self.date_from), ("To", self.date_to), ("Supplier", self.supplier_combo),
                                ("Branch", self.branch_combo)):
            row.addWidget(hint_label(caption, self))
            row.addWidget(widget)
        for combo in (self.supplier_combo, self.branch_combo):
            combo.currentIndexChanged.connect(self._filters_changed)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(self._filters_changed)

    def _date_edit(self) -> QDateEdit:
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

    def filter_values(self) -> dict:
        def day(edit: QDateEdit) -> dt.date | None:
            value = edit.date()
            return None if value == NO_DATE else dt.date(value.year(), value.month(), value.day())

        return {"date_from": day(self.date_from), "date_to": day(self.date_to),
                "supplier": self.supplier_combo.currentData() or "", "branch": self.branch_combo.currentData() or ""}

    def refresh_more(self) -> None:
        self._load_choices()

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

    # -- actions
    @Slot(int)
    def retry(self, doc_id: int) -> None:
        name = self.describe(doc_id)
        self.run_record_job(doc_id, "retry", lambda ctx: invoices.replay(ctx, [doc_id]), actor="user-retry",
                            busy=f"Retrying {name}…", done=f"Retry of {name} finished", what=f"Retry of {name}")

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
        name = self.describe(doc_id)
        reason, ok = QInputDialog.getText(self, "Skip document",
                                          f"Why should {name} never be posted? (kept in its history)",
                                          QLineEdit.EchoMode.Normal, "")
        reason = (reason or "").strip()
        if not ok:
            return
        if not reason:
            self.status.failed("Nothing was skipped: a reason is needed.")
            return
        self.db_action(lambda: invoices.skip(doc_id, reason, actor=ACTOR), busy=f"Skipping {name}…",
                       done=lambda _doc: f"{name} is skipped: {reason}", failed=f"{name} could not be skipped")

    @Slot(int)
    def credit_against(self, doc_id: int) -> None:
        detail = self.detail_pane.detail
        if detail is None or detail.id != doc_id:
            return
        if self.credit_dialog is not None:
            self.credit_dialog.deleteLater()
        name = self.describe(doc_id)
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
        self.db_action(lambda: invoices.pick_credit_target(doc_id, invoice, actor=ACTOR),
                       busy=f"Applying {name} to SYSPRO invoice {invoice}…",
                       done=lambda doc: f"{name} will be posted as a credit against SYSPRO invoice "
                                        f"{doc.syspro_invoice} on the next sync.",
                       failed=f"{name} could not be applied to invoice {invoice}")

    @Slot(int)
    def keep_as_posted(self, doc_id: int) -> None:
        name = self.describe(doc_id)
        self.db_action(lambda: invoices.accept_change(doc_id, actor=ACTOR), busy=f"Keeping {name} as posted…",
                       done=lambda doc: f"{name} stays as posted ({state_label(doc.state).lower()}).",
                       failed=f"{name} could not be kept as posted")
