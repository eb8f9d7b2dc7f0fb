"""The page of one two-way flow (vendors, purchase orders, adjustments sent to SYSPRO) on the shared
record page.

Its link records with their states and counts, a detail pane with the record's facts and history,
Retry for what failed or is held, and for a conflict both versions side by side with "Keep
ServiceTitan's" / "Keep SYSPRO's". Records a cycle would have mass-created wait for approval: a
banner says how many, and "Create selected" / "Create all" approve them. On the Vendors page an
alias can be made the primary vendor of its supplier. Reads go through bridge.db_call; Retry, a
decision and an approval are jobs (they talk to ServiceTitan and SYSPRO).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.sync import records
from desktop_app.ui.messages import alive
from desktop_app.ui.record_detail import Action, RecordDetailPane, hint_label, plain_table
from desktop_app.ui.record_page import ACTOR, RecordListPage
from desktop_app.ui.records_model import (
    ORIGINS,
    ConflictModel,
    RecordDetail,
    RecordsExtra,
    flow_text,
    load_record,
    record_view,
)
from desktop_app.ui.widgets import plural, state_label

RETRYABLE = frozenset({records.FAILED, records.IN_DOUBT, records.HELD})
APPROVABLE_FLOWS = frozenset({"vendors", "purchase-orders", "adjustments"})  # flows whose creations wait for approval
WINNER_WORDS = {"servicetitan": "ServiceTitan's", "syspro": "SYSPRO's"}

RECORD_ACTIONS = (
    Action("make_primary", "Make primary vendor", "Sync this vendor's fields with the SYSPRO supplier instead of the "
           "current primary vendor's (the other vendors of the supplier stay aliases)",
           applies=lambda d: d.alias_of is not None and d.st_id is not None,
           shown=lambda d: d is not None and d.alias_of is not None),
    Action("retry", "Retry", "Check it again with today's mappings and send it if it can go",
           applies=lambda d: d.state in RETRYABLE, shown=lambda d: d is None or d.state != records.CONFLICT,
           primary=True),
)


class LinkDetailPane(RecordDetailPane):
    """One two-way record: facts, why it waits, a conflict side by side, its history."""

    resolveRequested = Signal(int, str)  # record id, winner ("servicetitan" | "syspro")

    ACTIONS = RECORD_ACTIONS
    ATTENTION = records.ATTENTION

    def __init__(self, flow: str, parent: QWidget | None = None):
        text = flow_text(flow)
        article = "an" if text.noun[:1].lower() in "aeiou" else "a"
        super().__init__(parent, facts=["ServiceTitan id", text.syspro_header, "Started in", "Attempts",
                                        "Last change (UTC)"],
                         prompt=f"Select {article} {text.noun} to see its history.")
        self.flow = flow
        self.retry_button, self.primary_button = self.action_buttons["retry"], self.action_buttons["make_primary"]

        self.conflict_box = QFrame(self)
        self.conflict_box.setObjectName("conflict")
        self.conflict_box.setStyleSheet("QFrame#conflict { background: #F5F3FF; border: 1px solid #DDD6FE; "
                                        "border-radius: 6px; }")
        box = QVBoxLayout(self.conflict_box)
        box.setContentsMargins(8, 6, 8, 8)
        top = QHBoxLayout()
        heading = QLabel("Changed in ServiceTitan and in SYSPRO since the last sync (changes highlighted). "
                         "Choose the version to keep: it is written to the other system at once.", self.conflict_box)
        heading.setWordWrap(True)
        self.keep_st_button = QPushButton("Keep ServiceTitan's", self.conflict_box)
        self.keep_st_button.setToolTip("Write the ServiceTitan version to SYSPRO")
        self.keep_syspro_button = QPushButton("Keep SYSPRO's", self.conflict_box)
        self.keep_syspro_button.setToolTip("Write the SYSPRO version to ServiceTitan")
        top.addWidget(heading, 1)
        top.addWidget(self.keep_st_button)
        top.addWidget(self.keep_syspro_button)
        box.addLayout(top)
        self.conflict_model = ConflictModel(self)
        self.conflict_view = plain_table(self.conflict_model, self.conflict_box)
        self.conflict_view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.conflict_view.horizontalHeader().setStretchLastSection(True)
        box.addWidget(self.conflict_view)
        self.keep_st_button.clicked.connect(lambda: self._resolve_clicked("servicetitan"))
        self.keep_syspro_button.clicked.connect(lambda: self._resolve_clicked("syspro"))
        self.body.addWidget(self.conflict_box)
        self.finish()

    def _resolve_clicked(self, winner: str) -> None:
        if self.detail is not None:
            self.resolveRequested.emit(self.detail.id, winner)

    def fact_values(self, detail: RecordDetail) -> dict[str, str]:
        values = [str(detail.st_id) if detail.st_id is not None else "— (not in ServiceTitan yet)",
                  detail.syspro_key or "— (not in SYSPRO yet)", ORIGINS.get(detail.origin, detail.origin or "—"),
                  str(detail.attempts), detail.updated_at.strftime("%Y-%m-%d %H:%M") if detail.updated_at else "—"]
        return dict(zip(self.fact_labels, values, strict=True))

    def reason_shown(self, detail: RecordDetail) -> bool:
        return bool(detail.reason) and detail.state != records.CONFLICT  # the conflict box says it better

    def show_more(self, detail: RecordDetail | None) -> None:
        in_conflict = detail is not None and detail.state == records.CONFLICT
        self.conflict_model.set_conflict(detail.conflict if in_conflict and detail is not None else None)
        self.conflict_box.setVisible(in_conflict)
        if in_conflict:
            self.conflict_view.resizeColumnsToContents()
            self.conflict_view.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
            rows = max(1, self.conflict_model.rowCount())
            header = self.conflict_view.horizontalHeader().sizeHint().height()
            self.conflict_view.setFixedHeight(min(rows, 5) * 24 + header + 4)

    def menu_buttons(self) -> list[QPushButton]:
        buttons = super().menu_buttons()
        if self.detail is not None and self.detail.state == records.CONFLICT:
            buttons += [self.keep_st_button, self.keep_syspro_button]
        return buttons

    def set_actions_enabled(self, enabled: bool) -> None:
        super().set_actions_enabled(enabled)
        in_conflict = self.detail is not None and self.detail.state == records.CONFLICT
        for button in (self.keep_st_button, self.keep_syspro_button):
            button.setEnabled(enabled and in_conflict)


class RecordsPage(RecordListPage):
    """A flow's records, filters, counts per state and the detail pane. `embedded` leaves out the
    page title (the Adjustments page puts this in a tab under its own title)."""

    FLOW = "vendors"
    read_detail = staticmethod(load_record)
    STATES = records.STATES
    ATTENTION_STATES = records.ATTENTION

    def __init__(self, bridge, flow: str | None = None, parent: QWidget | None = None, *, embedded: bool = False):
        self.flow = flow or self.FLOW
        self.text = flow_text(self.flow)
        self.TITLE = self.text.title
        header = self.text.label_header
        words = header if header[1:2].isupper() else header.lower()  # "PO number" keeps its capitals
        self.SEARCH_HINT = f"Search {words}, ids, reason"
        self.MULTI_SELECT = self.flow in APPROVABLE_FLOWS
        self.counts: dict[str, int] = {}
        self._approving = False
        super().__init__(bridge, parent, embedded=embedded)
        self.count_label.setTextFormat(Qt.TextFormat.RichText)
        self.detail_pane.resolveRequested.connect(self.resolve)

    def make_flow_view(self):
        return record_view(self.flow)

    def make_detail_pane(self) -> LinkDetailPane:
        return LinkDetailPane(self.flow, self)

    # -- what waits for approval, and the counts
    def add_notices(self, layout: QVBoxLayout) -> None:
        self.explanation = hint_label(self.text.explanation, self)
        self.explanation.setWordWrap(True)
        layout.addWidget(self.explanation)
        # what a cycle would have mass-created waits here for a person
        self.approval_banner = QFrame(self)
        self.approval_banner.setObjectName("approvalBanner")
        self.approval_banner.setStyleSheet("QFrame#approvalBanner { background: #E0F2FE; border: 1px solid #7DD3FC; "
                                           "border-radius: 6px; }")
        banner = QHBoxLayout(self.approval_banner)
        banner.setContentsMargins(10, 6, 8, 6)
        self.approval_label = QLabel("", self.approval_banner)
        self.approval_label.setWordWrap(True)
        self.approval_label.setStyleSheet("color: #075985; font-weight: 600;")
        self.create_selected_button = QPushButton("Create selected", self.approval_banner)
        self.create_selected_button.setToolTip("Create the selected records that wait for approval on the other "
                                               "system now")
        self.create_all_button = QPushButton("Create all", self.approval_banner)
        self.create_all_button.setToolTip("Create every record that waits for approval on the other system now")
        banner.addWidget(self.approval_label, 1)
        banner.addWidget(self.create_selected_button)
        banner.addWidget(self.create_all_button)
        layout.addWidget(self.approval_banner)
        self.approval_banner.hide()
        self.create_selected_button.clicked.connect(self.create_selected)
        self.create_all_button.clicked.connect(self.create_all)

    def counts_text(self, total: int, extra: RecordsExtra | None) -> str:
        counts = extra.counts if extra is not None else {}
        parts = []
        for state in records.STATES:
            if counts.get(state):
                text = f"{counts[state]:,} {state_label(state).lower()}"
                if state in records.ATTENTION:
                    text = f'<span style="color:#991B1B; font-weight:600;">{text}</span>'
                parts.append(text)
        head = plural(sum(counts.values()), self.text.noun)
        return head + (" · " + " · ".join(parts) if parts else "")

    def show_extra(self, extra: RecordsExtra | None) -> None:
        self.counts = extra.counts if extra is not None else {}
        waiting = extra.waiting if extra is not None else []
        shown = bool(waiting) and self.flow in APPROVABLE_FLOWS
        self.approval_label.setText(".\n".join(w["sentence"] for w in waiting) + "." if shown else "")
        self.approval_banner.setVisible(shown)
        self.create_selected_button.setEnabled(shown and not self._approving)
        self.create_all_button.setEnabled(shown and not self._approving)

    def selected_waiting_ids(self) -> list[int]:
        return [row["id"] for row in self.selected_rows() if row["state"] == records.WAITING]

    @Slot()
    def create_selected(self) -> None:
        ids = self.selected_waiting_ids()
        if not ids:
            self.status.failed("Select the records that wait for approval first (their state is "
                               f"'{state_label(records.WAITING).lower()}').")
            return
        self._approve(ids, f"Creating {plural(len(ids), self.text.noun)}…")

    @Slot()
    def create_all(self) -> None:
        waiting = self.counts.get(records.WAITING, 0)
        self._approve(None, f"Creating {plural(waiting, self.text.noun)} that waited for approval…")

    def _approve(self, ids: list[int] | None, sentence: str) -> None:
        flow = self.flow
        self._approving = True
        self.create_selected_button.setEnabled(False)
        self.create_all_button.setEnabled(False)
        self.status.busy(sentence)

        def done(result) -> None:
            self._approving = False
            if not alive(self):
                return
            approved, summary = result
            made = summary.to_syspro + summary.to_servicetitan
            self.status.done(f"{plural(approved, self.text.noun)} approved; {made} created." + (
                f" {summary.failed} could not be created: see their reason." if summary.failed else ""))
            self.refresh()

        def failed(message: str) -> None:
            self._approving = False
            if alive(self):
                self.status.failed(f"Creating the approved records did not finish: {message}")
                self.refresh()

        job = self.bridge.run_job("approve", lambda ctx: records.approve(ctx, flow, ids), actor="user-approve",
                                  on_done=done, on_error=failed)
        if job is None:
            self._approving = False
            self.status.done("An approval is already waiting to run.")

    # -- actions on one record
    @Slot(int)
    def retry(self, record_id: int) -> None:
        name, flow = self.describe(record_id), self.flow
        self.run_record_job(record_id, "retry", lambda ctx: records.replay(ctx, flow, [record_id]),
                            actor="user-retry", busy=f"Retrying {name}…", done=f"Retry of {name} finished",
                            what=f"Retry of {name}")

    @Slot(int, str)
    def resolve(self, record_id: int, winner: str) -> None:
        name, words = self.describe(record_id), WINNER_WORDS[winner]
        self.run_record_job(record_id, "resolve-conflict", lambda ctx: records.resolve_conflict(ctx, record_id, winner),
                            busy=f"Keeping {words} version of {name}…", done=f"{words} version of {name} was kept",
                            what=f"Keeping {words} version of {name}")

    @Slot(int)
    def make_primary(self, record_id: int) -> None:
        from desktop_app.sync import vendors

        detail = self.detail_pane.detail
        if detail is None or detail.id != record_id or detail.st_id is None:
            return
        st_vendor_id = detail.st_id
        self.db_action(lambda: vendors.set_primary(st_vendor_id, actor=ACTOR),
                       busy=f"Making vendor {st_vendor_id} the primary vendor of its supplier…",
                       done=lambda link: f"Vendor {st_vendor_id} is now the primary vendor of supplier "
                                         f"{link.syspro_key}: its fields are synced from the next sync on.",
                       failed=f"Vendor {st_vendor_id} could not be made the primary vendor")


class VendorsPage(RecordsPage):
    FLOW = "vendors"


class PurchaseOrdersPage(RecordsPage):
    FLOW = "purchase-orders"
