"""The page of one two-way flow (vendors, purchase orders, adjustments sent to SYSPRO).

Its link records with their states, a detail pane with the record's facts and history, Retry
for what failed or is held, and for a conflict both versions side by side with "Keep
ServiceTitan's" / "Keep SYSPRO's". Records a cycle would have mass-created wait for approval: a
banner says how many, and "Create selected" / "Create all" approve them. On the Vendors page an
alias can be made the primary vendor of its supplier. Reads go through bridge.db_call; Retry, a
decision and an approval are jobs (they talk to ServiceTitan and SYSPRO).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.sync import records
from desktop_app.ui.invoices_page import HistoryTabMixin, _plain_table
from desktop_app.ui.master_detail import MasterDetailMixin
from desktop_app.ui.messages import alive
from desktop_app.ui.records_model import (
    ATTENTION,
    ORIGINS,
    ConflictModel,
    RecordDetail,
    RecordsModel,
    RecordsSnapshot,
    flow_text,
    load_record,
    load_records,
)
from desktop_app.ui.widgets import (
    SearchBox,
    StateBadgeDelegate,
    StatusLine,
    add_shortcut,
    plural,
    set_badge,
    show_error,
    state_label,
)

RETRYABLE = frozenset({records.FAILED, records.IN_DOUBT, records.HELD})
APPROVABLE_FLOWS = frozenset({"vendors", "purchase-orders", "adjustments"})  # flows whose creations wait for approval
WINNER_WORDS = {"servicetitan": "ServiceTitan's", "syspro": "SYSPRO's"}


def hint_label(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("hint")
    label.setStyleSheet("color: #6B7280;")
    return label


class RecordDetailPane(HistoryTabMixin, QWidget):
    """One record: facts, why it waits, a conflict side by side, its audit timeline."""

    retryRequested = Signal(int)
    resolveRequested = Signal(int, str)  # record id, winner ("servicetitan" | "syspro")
    primaryRequested = Signal(int)  # ServiceTitan vendor id to make the primary of its supplier

    def __init__(self, flow: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.flow = flow
        self.detail: RecordDetail | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)

        head = QHBoxLayout()
        self.badge = QLabel(self)
        self.title = QLabel("", self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.retry_button = QPushButton("Retry", self)
        self.retry_button.setProperty("primary", True)
        self.retry_button.setToolTip("Check it again with today's mappings and send it if it can go")
        self.primary_button = QPushButton("Make primary vendor", self)
        self.primary_button.setToolTip("Sync this vendor's fields with the SYSPRO supplier instead of the current "
                                       "primary vendor's (the other vendors of the supplier stay aliases)")
        head.addWidget(self.badge)
        head.addWidget(self.title, 1)
        head.addWidget(self.primary_button)
        head.addWidget(self.retry_button)
        self.retry_button.clicked.connect(self._retry_clicked)
        self.primary_button.clicked.connect(self._primary_clicked)
        layout.addLayout(head)

        facts = QGridLayout()
        facts.setHorizontalSpacing(18)
        self.fact_labels: dict[str, QLabel] = {}
        names = ["ServiceTitan id", flow_text(flow).syspro_header, "Started in", "Attempts", "Last change (UTC)"]
        for position, name in enumerate(names):
            row, col = divmod(position, 3)
            value = QLabel("", self)
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            facts.addWidget(hint_label(name, self), row, col * 2)
            facts.addWidget(value, row, col * 2 + 1)
            self.fact_labels[name] = value
        facts.setColumnStretch(5, 1)
        layout.addLayout(facts)

        self.reason = QLabel("", self)
        self.reason.setTextFormat(Qt.TextFormat.PlainText)
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.reason)

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
        self.conflict_view = _plain_table(self.conflict_model, self.conflict_box)
        self.conflict_view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.conflict_view.horizontalHeader().setStretchLastSection(True)
        box.addWidget(self.conflict_view)
        self.keep_st_button.clicked.connect(lambda: self._resolve_clicked("servicetitan"))
        self.keep_syspro_button.clicked.connect(lambda: self._resolve_clicked("syspro"))
        layout.addWidget(self.conflict_box)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._history_tab(), "History")
        self.trail_view.setMinimumHeight(72)
        layout.addWidget(self.tabs, 1)
        self.show_detail(None)

    def _retry_clicked(self) -> None:
        if self.detail is not None:
            self.retryRequested.emit(self.detail.id)

    def _primary_clicked(self) -> None:
        if self.detail is not None and self.detail.st_id is not None:
            self.primaryRequested.emit(self.detail.st_id)

    def _resolve_clicked(self, winner: str) -> None:
        if self.detail is not None:
            self.resolveRequested.emit(self.detail.id, winner)

    def show_detail(self, detail: RecordDetail | None) -> None:
        self.detail = detail
        if detail is None:
            self.badge.hide()
            noun = flow_text(self.flow).noun
            article = "an" if noun[:1].lower() in "aeiou" else "a"
            self.title.setText(f"Select {article} {noun} to see its history.")
            for label in self.fact_labels.values():
                label.setText("")
            self.reason.hide()
            self.conflict_box.hide()
            self.conflict_model.set_conflict(None)
            self.trail_model.set_events([])
            self.set_actions_enabled(False)
            return
        self.badge.show()
        set_badge(self.badge, detail.state)
        self.title.setText(detail.title)
        values = [str(detail.st_id) if detail.st_id is not None else "— (not in ServiceTitan yet)",
                  detail.syspro_key or "— (not in SYSPRO yet)", ORIGINS.get(detail.origin, detail.origin or "—"),
                  str(detail.attempts), detail.updated_at.strftime("%Y-%m-%d %H:%M") if detail.updated_at else "—"]
        for label, value in zip(self.fact_labels.values(), values, strict=True):
            label.setText(value)
        in_conflict = detail.state == records.CONFLICT
        self.reason.setText(detail.reason)
        self.reason.setVisible(bool(detail.reason) and not in_conflict)  # the conflict box says it better
        attention = detail.state in records.ATTENTION
        self.reason.setStyleSheet("color: #991B1B; font-weight: 600;" if attention else "color: #4B5563;")
        self.conflict_model.set_conflict(detail.conflict if in_conflict else None)
        self.conflict_box.setVisible(in_conflict)
        if in_conflict:
            self.conflict_view.resizeColumnsToContents()
            self.conflict_view.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
            rows = max(1, self.conflict_model.rowCount())
            header = self.conflict_view.horizontalHeader().sizeHint().height()
            self.conflict_view.setFixedHeight(min(rows, 5) * 24 + header + 4)
        self._show_trail(detail.trail)
        if detail.trail:
            self.trail_view.scrollToBottom()
        self.set_actions_enabled(True)

    def set_actions_enabled(self, enabled: bool) -> None:
        state = self.detail.state if self.detail else None
        self.retry_button.setEnabled(enabled and state in RETRYABLE)
        self.retry_button.setVisible(state != records.CONFLICT)
        for button in (self.keep_st_button, self.keep_syspro_button):
            button.setEnabled(enabled and state == records.CONFLICT)
        alias = self.detail is not None and self.detail.alias_of is not None
        self.primary_button.setVisible(alias)
        self.primary_button.setEnabled(enabled and alias)
        self.xml_button.setEnabled(False)


class RecordsPage(MasterDetailMixin, QWidget):
    """A flow's records, filters, counts per state and the detail pane. `embedded` leaves out the
    page title (the Adjustments page puts this in a tab under its own title)."""

    FLOW = "vendors"
    loaded = Signal(int)  # rows shown, after every (re)load
    read_detail = staticmethod(load_record)
    detail_error = "The record could not be read"

    def __init__(self, bridge, flow: str | None = None, parent: QWidget | None = None, *, embedded: bool = False):
        super().__init__(parent)
        self.bridge = bridge
        self.flow = flow or self.FLOW
        self.text = flow_text(self.flow)
        self.selected_id: int | None = None
        self.counts: dict[str, int] = {}
        self.ready = False
        self.last_message = None
        self._generation = 0
        self._detail_generation = 0
        self._running: set[int] = set()  # records with a job in flight
        self._approving = False

        layout = QVBoxLayout(self)
        if embedded:
            layout.setContentsMargins(6, 6, 6, 4)
        else:
            layout.setContentsMargins(10, 10, 10, 6)
        head = QHBoxLayout()
        if not embedded:
            title = QLabel(self.text.title, self)
            title.setObjectName("pageTitle")
            head.addWidget(title)
            head.addSpacing(12)
        self.count_label = hint_label("Loading…", self)
        self.count_label.setTextFormat(Qt.TextFormat.RichText)
        head.addWidget(self.count_label, 1)
        self.refresh_button = QPushButton("Refresh", self)
        head.addWidget(self.refresh_button)
        layout.addLayout(head)
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

        filters = QHBoxLayout()
        self.state_combo = QComboBox(self)
        self.state_combo.addItem("All states", None)
        self.state_combo.addItem("Needs attention", ATTENTION)
        for state in records.STATES:
            self.state_combo.addItem(state_label(state), state)
        self.search_box = SearchBox(f"Search {self.text.label_header.lower()}, ids, reason", self)
        filters.addWidget(hint_label("State", self))
        filters.addWidget(self.state_combo)
        filters.addStretch(1)
        filters.addWidget(self.search_box)
        layout.addLayout(filters)

        self.model = RecordsModel(self.flow, self)
        self.table = _plain_table(self.model, self)
        if self.flow in APPROVABLE_FLOWS:
            self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setItemDelegateForColumn(RecordsModel.COL_STATE, StateBadgeDelegate(self.table))
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for column, width in enumerate([115, 240, 125, 160, 110, 85]):
            self.table.setColumnWidth(column, width)

        self.detail_pane = RecordDetailPane(self.flow, self)
        self.table.setMinimumHeight(150)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail_pane)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)
        self.status = StatusLine(self)
        layout.addWidget(self.status)

        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.state_combo.currentIndexChanged.connect(self.refresh)
        self.search_box.searchChanged.connect(self.refresh)
        self.refresh_button.clicked.connect(self.refresh)
        self.detail_pane.retryRequested.connect(self.retry)
        self.detail_pane.resolveRequested.connect(self.resolve)
        self.detail_pane.primaryRequested.connect(self.make_primary)
        bridge.dataChanged.connect(self._data_changed)
        add_shortcut(self, "Ctrl+F", self.focus_search)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)  # a cycle reports many changes: refresh once after them
        self._refresh_timer.timeout.connect(self.refresh)
        self.refresh()

    # -- loading
    def set_state_filter(self, state: str | None) -> None:
        """One state, "ATTENTION", or None for all."""
        self.state_combo.setCurrentIndex(max(self.state_combo.findData(state), 0))

    def focus_search(self) -> None:
        self.search_box.focus()

    @Slot()
    def refresh(self, *_args) -> None:
        self._refresh_timer.stop()
        self._generation += 1
        generation = self._generation
        flow, state, search = self.flow, self.state_combo.currentData(), self.search_box.text().strip()
        self.bridge.db_call(lambda: load_records(flow, state, search),
                            on_done=lambda snapshot: self._loaded(generation, snapshot),
                            on_error=lambda message: self._load_failed(generation, message))

    def _loaded(self, generation: int, snapshot: RecordsSnapshot) -> None:
        if generation != self._generation or not alive(self):
            return
        self.model.set_rows(snapshot.rows)
        self.counts = snapshot.counts
        self.count_label.setText(self._counts_text(snapshot.counts))
        self._show_waiting(snapshot.waiting)
        self.ready = True
        self._reselect()
        self.loaded.emit(len(snapshot.rows))

    def _counts_text(self, counts: dict[str, int]) -> str:
        total = sum(counts.values())
        parts = []
        for state in records.STATES:
            if counts.get(state):
                text = f"{counts[state]:,} {state_label(state).lower()}"
                if state in records.ATTENTION:
                    text = f'<span style="color:#991B1B; font-weight:600;">{text}</span>'
                parts.append(text)
        head = plural(total, self.text.noun)
        return head + (" · " + " · ".join(parts) if parts else "")

    def _show_waiting(self, waiting: list[dict]) -> None:
        shown = bool(waiting) and self.flow in APPROVABLE_FLOWS
        self.approval_label.setText(".\n".join(w["sentence"] for w in waiting) + "." if shown else "")
        self.approval_banner.setVisible(shown)
        self.create_selected_button.setEnabled(shown and not self._approving)
        self.create_all_button.setEnabled(shown and not self._approving)

    def selected_waiting_ids(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.rows[row]["id"] for row in rows if self.model.rows[row]["state"] == records.WAITING]

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

    @Slot(int)
    def make_primary(self, st_vendor_id: int) -> None:
        from desktop_app.sync import vendors

        def done(link) -> None:
            if alive(self):
                self.status.done(f"Vendor {st_vendor_id} is now the primary vendor of supplier {link.syspro_key}: "
                                 "its fields are synced from the next sync on.")
                self.refresh()

        self.bridge.db_call(lambda: vendors.set_primary(st_vendor_id, actor="user"), on_done=done,
                            on_error=lambda message: self.status.failed(f"Vendor {st_vendor_id} could not be made "
                                                                        f"the primary vendor: {message}"))

    def _load_failed(self, generation: int, message: str) -> None:
        if generation == self._generation and alive(self):
            self.count_label.setText("")
            self.status.failed(f"The {self.text.noun} list could not be read: {message}")

    select_record = MasterDetailMixin.select_item

    @Slot(str)
    def _data_changed(self, _what: str) -> None:
        self._refresh_timer.start()

    # -- actions (jobs: they talk to ServiceTitan and SYSPRO)
    def _describe(self, record_id: int) -> str:
        detail = self.detail_pane.detail
        return detail.title if detail is not None and detail.id == record_id else f"record {record_id}"

    @Slot(int)
    def retry(self, record_id: int) -> None:
        name, flow = self._describe(record_id), self.flow
        self._start(record_id, f"Retrying {name}…")
        job = self.bridge.run_job("retry", lambda ctx: records.replay(ctx, flow, [record_id]), actor="user-retry",
                                  on_done=lambda _summary: self._finished(record_id, f"Retry of {name} finished"),
                                  on_error=lambda message: self._job_failed(record_id, f"Retry of {name}", message))
        if job is None:
            self._running.discard(record_id)
            self.status.done("A retry is already waiting to run.")

    @Slot(int, str)
    def resolve(self, record_id: int, winner: str) -> None:
        name, words = self._describe(record_id), WINNER_WORDS[winner]
        self._start(record_id, f"Keeping {words} version of {name}…")
        self.bridge.run_job("resolve-conflict", lambda ctx: records.resolve_conflict(ctx, record_id, winner),
                            actor="user",
                            on_done=lambda _link: self._finished(record_id, f"{words} version of {name} was kept"),
                            on_error=lambda message: self._job_failed(record_id, f"Keeping {words} version of "
                                                                      f"{name}", message))

    def _start(self, record_id: int, sentence: str) -> None:
        self._running.add(record_id)
        self.detail_pane.set_actions_enabled(False)
        self.status.busy(sentence)

    def _finished(self, record_id: int, sentence: str) -> None:
        self._running.discard(record_id)
        if not alive(self):
            return

        def tell(detail: RecordDetail | None) -> None:
            if not alive(self):
                return
            if detail is None:
                self.status.done(f"{sentence}.")
                return
            now = f"{sentence}: it is now {state_label(detail.state).lower()}."
            if detail.state in records.ATTENTION and detail.reason:
                self.status.failed(f"{now} {detail.reason}")
            else:
                self.status.done(now)
            if self.selected_id == record_id:
                self._detail_generation += 1
                self.detail_pane.show_detail(detail)

        self.bridge.db_call(lambda: load_record(record_id), on_done=tell)
        self.refresh()

    def _job_failed(self, record_id: int, what: str, message: str) -> None:
        self._running.discard(record_id)
        if not alive(self):
            return
        self.status.failed(f"{what} did not finish: {message}")
        show_error(self, self.text.title, f"{what} did not finish.", message)
        self.refresh()


class VendorsPage(RecordsPage):
    FLOW = "vendors"


class PurchaseOrdersPage(RecordsPage):
    FLOW = "purchase-orders"
