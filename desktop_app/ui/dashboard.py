"""The dashboard: are both systems reachable, when did we last sync, what needs a person.

Everything shown is read in one database call (`read_snapshot`) after each job, when the data
changes, and every 30 seconds; the GUI thread only paints the answer.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from html import escape

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.db import JobRun
from desktop_app.sync import delay as ap_delay
from desktop_app.sync import ledger, records, rehearsal
from desktop_app.sync.delay import Delay
from desktop_app.ui.messages import alive
from desktop_app.ui.sync_control import SYSTEMS, SyncControl, test_job_kind

STATE_LABELS = {
    ledger.DISCOVERED: "Discovered",
    ledger.NEEDS_MAPPING: "Needs mapping",
    ledger.SKIPPED: "Skipped",
    ledger.READY: "Ready to post",
    ledger.POSTING: "Posting",
    ledger.POSTED: "Posted",
    ledger.CONFIRMED: "Confirmed in SYSPRO",
    ledger.FAILED: "Failed",
    ledger.IN_DOUBT: "In doubt",
    ledger.CHANGED_IN_SOURCE: "Changed in ServiceTitan",
    ledger.WAITING_FOR_ORIGINAL: "Credit waiting for original",
    ledger.HELD: "Credit held",
    ledger.UNREADABLE: "Cannot be read",
}
TILE_ORDER = (ledger.READY, ledger.POSTED, ledger.CONFIRMED, ledger.NEEDS_MAPPING, ledger.FAILED,
              ledger.IN_DOUBT, ledger.CHANGED_IN_SOURCE, ledger.SKIPPED, ledger.DISCOVERED, ledger.POSTING,
              ledger.WAITING_FOR_ORIGINAL, ledger.HELD, ledger.UNREADABLE)
ATTENTION_ROWS = (
    (ledger.FAILED, "failed in SYSPRO", "Review"),
    (ledger.IN_DOUBT, "in doubt (sent, no answer)", "Review"),
    (ledger.CHANGED_IN_SOURCE, "changed in ServiceTitan after posting", "Review"),
    (ledger.NEEDS_MAPPING, "waiting for a mapping", "Review"),
    (ledger.HELD, "held: returns with no SYSPRO invoice to credit", "Review"),
    (ledger.UNREADABLE, "cannot be read: ServiceTitan sent a field the connector cannot read", "Review"),
)
REFRESH_MS = 30_000
LIVE_REFRESH_S = 2.0  # while a sync reports progress, the tiles follow it this often at most

TILE_STYLE = """
QPushButton#stateTile { background: #FFFFFF; border: 1px solid #D9DDE3; border-radius: 6px;
    min-width: 104px; min-height: 58px; }
QPushButton#stateTile:hover { border-color: #0F766E; }
QPushButton#stateTile[hot="true"] { background: #FEF2F2; border-color: #FCA5A5; }
QLabel#tileCount { font-size: 17pt; font-weight: 600; color: #111827; background: transparent; }
QPushButton#stateTile[hot="true"] QLabel#tileCount { color: #B91C1C; }
QLabel#tileName { color: #4B5563; background: transparent; }
QLabel#connectionDot[status="ok"] { color: #15803D; }
QLabel#connectionDot[status="failed"] { color: #B91C1C; }
QLabel#connectionDot[status="unknown"] { color: #9CA3AF; }
QFrame#postingOffBanner { background: #FFFBEB; border: 1px solid #F59E0B; border-radius: 6px; }
QLabel#postingOffText { color: #92400E; background: transparent; }
"""


@dataclass
class Connection:
    status: str = "unknown"  # ok | failed | unknown
    sentence: str = "Not checked yet."
    when: dt.datetime | None = None


@dataclass
class Snapshot:
    counts: dict[str, int]
    last_cycle: dict | None
    connections: dict[str, Connection] = field(default_factory=dict)
    waiting: list[dict] = field(default_factory=list)  # records.waiting_counts: creations waiting for approval
    posting: bool = True  # off after the wizard: scheduled syncs only rehearse until a person starts posting
    delay: Delay | None = None  # how long the last posted invoices took from ServiceTitan to AP


def _mentions(text: str, system: str) -> bool:
    return SYSTEMS[system].lower() in (text or "").lower()


def connection_states(runs) -> dict[str, Connection]:
    """Latest known state per system from job runs, newest first: a test decides, a sync tells."""
    states: dict[str, Connection] = {}
    for run in runs:
        when = run.finished_at or run.started_at
        for system in SYSTEMS:
            if system in states:
                continue
            if run.kind == test_job_kind(system):
                summary = run.summary or {}
                if run.state == "completed" and summary:
                    ok = bool(summary.get("ok"))
                    states[system] = Connection("ok" if ok else "failed", summary.get("message", ""), when)
                elif run.state == "failed":
                    states[system] = Connection("failed", run.error, when)
            elif run.kind == "cycle":
                errors = ((run.summary or {}).get("errors") or {}).values()
                problems = run.error if run.state == "failed" else " ".join(errors)
                if run.state == "completed" and not _mentions(problems, system):
                    states[system] = Connection("ok", "Reached during the last sync.", when)
                elif _mentions(problems, system):
                    states[system] = Connection("failed", problems, when)
        if len(states) == len(SYSTEMS):
            break
    return {system: states.get(system, Connection()) for system in SYSTEMS}


def read_snapshot() -> Snapshot:
    """One database read for the whole dashboard (runs on the db thread)."""
    kinds = ["cycle"] + [test_job_kind(system) for system in SYSTEMS]
    runs = list(JobRun.select().where(JobRun.kind.in_(kinds), JobRun.state != "running")
                .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(50))
    last = next((run for run in runs if run.kind == "cycle"), None)
    last_cycle = None if last is None else {
        "state": last.state, "actor": last.actor, "started_at": last.started_at,
        "finished_at": last.finished_at, "error": last.error, "summary": last.summary or {}}
    return Snapshot(ledger.counts(), last_cycle, connection_states(runs), records.waiting_counts(),
                    rehearsal.posting_enabled(), ap_delay.invoice_to_ap())


def local_time(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:  # the database stores naive UTC
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone()
    if value.date() == dt.datetime.now().astimezone().date():
        return value.strftime("today %H:%M")
    return value.strftime("%d %b %Y %H:%M")


FLOW_NAMES = {"vendors": "Vendors", "invoices": "Invoices", "purchase-orders": "Purchase orders",
              "adjustments": "Inventory adjustments"}


def flow_name(flow: str) -> str:
    return FLOW_NAMES.get(flow, flow.replace("-", " ").capitalize())


def flow_lines(cycle: dict | None) -> list[tuple[str, bool, str]]:
    """(flow, ran, sentence) for each flow of the last cycle: which ran and which failed, and why."""
    if cycle is None or cycle["state"] != "completed":
        return []
    summary = cycle["summary"] or {}
    errors = summary.get("errors") or {}
    flows = {f for f in summary if f not in ("errors", "error_kinds")} | set(errors)
    order = list(FLOW_NAMES)  # the order they run in
    lines = []
    for flow in sorted(flows, key=lambda f: (order.index(f) if f in order else len(order), f)):
        if flow in errors:
            lines.append((flow, False, f"{flow_name(flow)}: failed — {errors[flow]}"))
        else:
            lines.append((flow, True, f"{flow_name(flow)}: ran."))
    return lines


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def summary_sentence(cycle: dict) -> str:
    if cycle["state"] == "failed":
        return f"It failed: {cycle['error']}"
    if cycle["state"] in ("interrupted", "cancelled"):
        return f"It was {cycle['state']} before it finished."
    errors = cycle["summary"].get("errors") or {}
    if errors:
        # each reason once, naming the flows it stopped; the one that stopped the most first
        order = list(FLOW_NAMES)
        by_reason: dict[str, list[str]] = {}
        for flow in sorted(errors, key=lambda f: (order.index(f) if f in order else len(order), f)):
            by_reason.setdefault(errors[flow], []).append(flow)
        if len(by_reason) == 1 and len(errors) > 1:
            return "It did not complete: " + next(iter(by_reason))
        groups = sorted(by_reason.items(), key=lambda item: -len(item[1]))
        return "It did not complete: " + " ".join(
            f"{reason.rstrip()} ({_and([flow_name(f) for f in flows])} failed.)" for reason, flows in groups)
    invoices = cycle["summary"].get("invoices") or {}
    if not invoices:
        return "It finished."
    parts = [f"{invoices.get(key, 0)} {label}" for key, label in
             (("discovered", "new"), ("posted", "posted"), ("confirmed", "confirmed"), ("failed", "failed"),
              ("needs_mapping", "need mapping")) if invoices.get(key)]
    return "It finished: " + (", ".join(parts) if parts else "nothing new") + "."


class StateTile(QPushButton):
    """A big number over the state's name; clicking opens the invoices in that state."""

    def __init__(self, state: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.count = 0
        self.setObjectName("stateTile")
        self.count_label = QLabel("–")
        self.count_label.setObjectName("tileCount")
        self.name_label = QLabel(STATE_LABELS[state])
        self.name_label.setObjectName("tileName")
        column = QVBoxLayout(self)
        column.setContentsMargins(12, 6, 12, 8)
        column.setSpacing(0)
        for label in (self.count_label, self.name_label):
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            column.addWidget(label)

    def set_count(self, count: int) -> None:
        self.count = count
        self.count_label.setText(f"{count:,}")
        self.setAccessibleName(f"{STATE_LABELS[self.state]}: {count}")
        hot = bool(count) and self.state in ledger.ATTENTION
        if self.property("hot") != hot:  # tint only the tiles that need a person
            self.setProperty("hot", hot)
            for widget in (self, self.count_label):
                widget.style().unpolish(widget)
                widget.style().polish(widget)

    def sizeHint(self):
        return self.layout().sizeHint()


class DashboardPage(QWidget):
    stateClicked = Signal(str)       # open Invoices filtered by this state
    mappingsRequested = Signal()
    pageRequested = Signal(str)  # a main-window page key: the page where waiting records are approved
    wizardRequested = Signal()
    countsChanged = Signal(dict)

    def __init__(self, bridge, control: SyncControl, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.control = control
        self.snapshot: Snapshot | None = None
        self._loading = False
        self._again = False
        self.setStyleSheet(TILE_STYLE)

        title = QLabel("Dashboard")
        title.setObjectName("pageTitle")
        self.pause_button = QPushButton()
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setProperty("primary", True)
        self.sync_button.setToolTip("Run one sync cycle now (F5)")
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.pause_button)
        header.addWidget(self.sync_button)

        # Posting is off: nothing reaches SYSPRO until a person has read the rehearsal
        self.posting_banner = QFrame()
        self.posting_banner.setObjectName("postingOffBanner")
        banner_text = QLabel("<b>Posting is off: review the rehearsal.</b> Scheduled syncs only rehearse; nothing "
                             "is posted to SYSPRO until you start posting on the Go-live rehearsal page.")
        banner_text.setObjectName("postingOffText")
        banner_text.setWordWrap(True)
        self.rehearsal_button = QPushButton("Review the rehearsal")
        self.rehearsal_button.setProperty("primary", True)
        self.rehearsal_button.clicked.connect(lambda: self.pageRequested.emit("rehearsal"))
        banner_row = QHBoxLayout(self.posting_banner)
        banner_row.setContentsMargins(12, 8, 12, 8)
        banner_row.addWidget(banner_text, 1)
        banner_row.addWidget(self.rehearsal_button)
        self.posting_banner.hide()

        # Connections
        self.connection_labels: dict[str, tuple[QLabel, QLabel]] = {}
        connections = QGroupBox("Connections")
        grid = QGridLayout(connections)
        for row, (system, name) in enumerate(SYSTEMS.items()):
            dot = QLabel("●")
            dot.setObjectName("connectionDot")
            text = QLabel()
            text.setTextFormat(Qt.TextFormat.PlainText)  # a reason ServiceTitan or SYSPRO gave: never rendered as HTML
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            for column, widget in enumerate((dot, QLabel(f"<b>{name}</b>"), text)):
                grid.addWidget(widget, row, column, Qt.AlignmentFlag.AlignTop)
            self.connection_labels[system] = (dot, text)
        grid.setColumnStretch(2, 1)

        # Sync cycle
        cycle_box = QGroupBox("Sync")
        cycle_layout = QVBoxLayout(cycle_box)
        self.last_label = QLabel("Last sync: none yet.")
        self.last_label.setTextFormat(Qt.TextFormat.PlainText)
        self.last_label.setWordWrap(True)
        self.next_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.progress_label = QLabel()
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)
        self.progress_label.setObjectName("hint")
        self.progress_label.hide()
        # one line per flow that failed in the last cycle, with its reason: the others did run
        self.flows_label = QLabel()
        self.flows_label.setObjectName("failedFlows")
        self.flows_label.setTextFormat(Qt.TextFormat.PlainText)
        self.flows_label.setWordWrap(True)
        self.flows_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.flows_label.hide()
        self.delay_label = QLabel()
        self.delay_label.setObjectName("invoiceToAp")
        self.delay_label.setTextFormat(Qt.TextFormat.PlainText)
        self.delay_label.setToolTip("How long the last invoices posted took from their creation in ServiceTitan "
                                    "to SYSPRO AP, a wait for a mapping or a person included.")
        self.delay_label.hide()
        cycle_layout.addWidget(self.last_label)
        cycle_layout.addWidget(self.delay_label)
        cycle_layout.addWidget(self.flows_label)
        cycle_layout.addWidget(self.next_label)
        cycle_layout.addWidget(self.progress)
        cycle_layout.addWidget(self.progress_label)

        # Tiles
        tiles_box = QGroupBox("AP invoices by state")
        tiles = QGridLayout(tiles_box)
        self.tiles: dict[str, StateTile] = {}
        for i, state in enumerate(TILE_ORDER):
            tile = StateTile(state)
            tile.setProperty("state_name", state)
            tile.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            tile.setCursor(Qt.CursorShape.PointingHandCursor)
            tile.setToolTip(f"Show the {STATE_LABELS[state].lower()} invoices")
            tile.clicked.connect(self._tile_clicked)
            tiles.addWidget(tile, i // 5, i % 5)
            self.tiles[state] = tile

        # Needs your attention
        attention_box = QGroupBox("Needs your attention")
        attention = QVBoxLayout(attention_box)
        self.attention_rows: dict[str, tuple[QWidget, QLabel]] = {}
        for state, _label, action in ATTENTION_ROWS:
            row = QWidget()
            row_layout = QHBoxLayout(row)
            row_layout.setContentsMargins(0, 0, 0, 0)
            text = QLabel()
            button = QPushButton(action)
            button.setProperty("state_name", state)
            button.clicked.connect(self._tile_clicked)
            row_layout.addWidget(text, 1)
            if state == ledger.NEEDS_MAPPING:
                mappings = QPushButton("Open mappings")
                mappings.clicked.connect(self.mappingsRequested)
                row_layout.addWidget(mappings)
            row_layout.addWidget(button)
            row.hide()
            attention.addWidget(row)
            self.attention_rows[state] = (row, text)
        self.waiting_rows: dict[str, tuple[QWidget, QLabel]] = {}
        for flow, page_key, action in (("vendors", "vendors", "Open vendors"),
                                       ("purchase-orders", "purchase_orders", "Open purchase orders"),
                                       ("adjustments", "adjustments", "Open adjustments")):
            row = QWidget()
            row_layout = QHBoxLayout(row)
            row_layout.setContentsMargins(0, 0, 0, 0)
            text = QLabel()
            text.setObjectName(f"waiting-{flow}")
            button = QPushButton(action)
            button.clicked.connect(lambda _checked=False, key=page_key: self.pageRequested.emit(key))
            row_layout.addWidget(text, 1)
            row_layout.addWidget(button)
            row.hide()
            attention.addWidget(row)
            self.waiting_rows[flow] = (row, text)
        self.all_clear = QLabel("Nothing needs your attention.")
        self.all_clear.setObjectName("hint")
        attention.addWidget(self.all_clear)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.posting_banner)
        top = QHBoxLayout()
        top.addWidget(connections, 1)
        top.addWidget(cycle_box, 1)
        layout.addLayout(top)
        layout.addWidget(tiles_box)
        layout.addWidget(attention_box)
        layout.addStretch(1)

        self.sync_button.clicked.connect(control.sync_now)
        self.pause_button.clicked.connect(control.toggle_paused)
        control.pausedChanged.connect(self._paused_changed)
        control.cycleStarted.connect(self._cycle_started)
        control.cycleProgress.connect(self._cycle_progress)
        control.cycleEnded.connect(self._cycle_ended)
        bridge.dataChanged.connect(self.refresh)
        self._paused_changed(control.paused)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    # -- reading
    @Slot()
    def refresh(self, *_args) -> None:
        self._refreshed_at = time.monotonic()
        if self._loading:
            self._again = True
            return
        self._loading = True
        self.bridge.db_call(read_snapshot, on_done=self._show, on_error=self._failed)

    def _failed(self, message: str) -> None:
        if alive(self):
            self._loading = False
            self.last_label.setText(f"The dashboard could not be read: {message}")

    def _show(self, snapshot: Snapshot) -> None:
        if not alive(self):
            return
        self._loading = False
        self.snapshot = snapshot
        self.posting_banner.setVisible(not snapshot.posting)
        for state, tile in self.tiles.items():
            tile.set_count(snapshot.counts.get(state, 0))
        attention = 0
        for state, (row, text) in self.attention_rows.items():
            count = snapshot.counts.get(state, 0)
            attention += count
            text.setText(f"<b>{count}</b> invoice{'s' if count != 1 else ''} {ATTENTION_ROWS_LABEL[state]}")
            row.setVisible(count > 0)
        for flow, (row, text) in self.waiting_rows.items():
            sentences = [w["sentence"] for w in snapshot.waiting if w["flow"] == flow]
            text.setText(".<br>".join(f"<b>{escape(line)}</b>" for line in sentences) + "." if sentences else "")
            row.setVisible(bool(sentences))
            attention += len(sentences)
        self.all_clear.setVisible(attention == 0)
        for system, connection in snapshot.connections.items():
            dot, text = self.connection_labels[system]
            dot.setProperty("status", connection.status)
            dot.style().unpolish(dot)
            dot.style().polish(dot)
            when = f" ({local_time(connection.when)})" if connection.when else ""
            sentence = connection.sentence
            if connection.status == "unknown" and self.control.running:
                sentence = "The sync running now will tell."  # a first sync can take minutes
            text.setText({"ok": "Connected", "failed": "Not working", "unknown": "Unknown"}[connection.status]
                         + when + (f" — {sentence}" if connection.status != "ok" else ""))
            text.setToolTip(f"<p>{escape(sentence)}</p>")  # a tooltip guesses HTML too: always escaped HTML
        cycle = snapshot.last_cycle
        if cycle is None:
            self.last_label.setText("Last sync: none yet.")
        else:
            self.last_label.setText(f"Last sync: {local_time(cycle['finished_at'] or cycle['started_at'])} "
                                    f"(started by {cycle['actor']}). {summary_sentence(cycle)}")
        self.delay_label.setText(snapshot.delay.sentence() + "." if snapshot.delay else "")
        self.delay_label.setVisible(snapshot.delay is not None)
        lines = flow_lines(cycle)
        failed = [sentence for _, ran, sentence in lines if not ran]
        self.flows_label.setText("\n".join(sentence for _, _, sentence in lines) if failed else "")
        self.flows_label.setVisible(bool(failed))
        self._show_next_run()
        self.countsChanged.emit(dict(snapshot.counts))
        if self._again:
            self._again = False
            self.refresh()

    def _show_next_run(self) -> None:
        if self.control.paused:
            self.next_label.setText("Next sync: scheduled syncs are paused.")
        elif self.control.scheduler is None:
            self.next_label.setText("Next sync: not scheduled.")
        else:
            self.next_label.setText(f"Next sync: {local_time(self.control.next_run_time())}")

    # -- actions and cycle progress
    @Slot()
    def _tile_clicked(self) -> None:
        state = self.sender().property("state_name")
        if state:
            self.stateClicked.emit(state)

    @Slot(bool)
    def _paused_changed(self, paused: bool) -> None:
        self.pause_button.setText("Resume scheduled syncs" if paused else "Pause scheduled syncs")
        self._show_next_run()

    @Slot(str)
    def _cycle_started(self, actor: str) -> None:
        self.sync_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.progress_label.setText(f"Syncing (started by {actor})…")
        self.progress_label.show()

    @Slot(int, int, str)
    def _cycle_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        self.progress_label.setText(message)
        if time.monotonic() - self._refreshed_at >= LIVE_REFRESH_S:
            self.refresh()  # a first sync of thousands of invoices takes minutes: show the counts move

    @Slot(str, str, object)
    def _cycle_ended(self, kind: str, sentence: str, _result) -> None:
        self.sync_button.setEnabled(True)
        self.progress.hide()
        self.progress_label.setText(sentence)
        self.progress_label.setProperty("outcome", kind)
        self.progress_label.show()
        self.refresh()


ATTENTION_ROWS_LABEL = {state: label for state, label, _ in ATTENTION_ROWS}
