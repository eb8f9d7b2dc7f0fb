"""A button and its answer: one SYSPRO supplier read with the address layout as typed
(syspro.supplier_address_lines), so the office sees which SupAddr line becomes which ServiceTitan
address field before relying on it. The read is a job on the worker, never on the GUI thread."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.core import config
from desktop_app.core.config import SettingsError
from desktop_app.ui.messages import alive

ADDRESS_LINES = "syspro.supplier_address_lines"


def sample_text(sample: dict) -> str:
    """The sample supplier's address lines and what each becomes in ServiceTitan, one line each."""
    rows = [f"Supplier {sample['supplier']} ({sample['name']}):"]
    for line in sample["lines"]:
        target = f"ServiceTitan {line['servicetitan']}" if line["servicetitan"] else "not used"
        rows.append(f"{line['column']} {line['value']!r} → {target}")
    rows.append(f"SupPostalCode {sample['postal_code']!r} → ServiceTitan zip")
    return "\n".join(rows)


class SampleSupplierBox(QWidget):
    """`layout_text()` gives the layout as typed; `on_problem(sentence)` shows (or, with "", clears) what
    is wrong with it; `prepare(then)`, when given, runs first (the wizard saves the connection fields)
    and calls then("") to go on or then(sentence) to stop."""

    def __init__(self, bridge, layout_text: Callable[[], str], on_problem: Callable[[str], None], *,
                 prepare: Callable[[Callable[[str], None]], None] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge, self.layout_text, self.on_problem, self.prepare = bridge, layout_text, on_problem, prepare
        self.button = QPushButton("Read a sample supplier", self)
        self.button.setToolTip("Read one SYSPRO supplier with the address layout above and show what each "
                               "address line becomes in ServiceTitan")
        self.result = QLabel(self)
        self.result.setTextFormat(Qt.TextFormat.PlainText)
        self.result.setObjectName("sampleSupplier")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(self.result)
        self.button.clicked.connect(self.read)

    @Slot()
    def read(self) -> None:
        from desktop_app.ui.wizard import field_sentence

        try:
            roles = config.parse_value(ADDRESS_LINES, self.layout_text())
        except SettingsError as exc:
            self.on_problem(field_sentence(ADDRESS_LINES, str(exc)))
            return
        self.on_problem("")
        self.button.setEnabled(False)
        self._say("Reading a supplier from SYSPRO…")
        if self.prepare is None:
            self._start(roles, "")
        else:
            self.prepare(lambda problem: self._start(roles, problem))

    def _start(self, roles: tuple[str, ...], problem: str) -> None:
        from desktop_app.sync import vendors

        if not alive(self):
            return
        if problem:
            self._finish(f"No supplier was read: {problem}")
            return
        job = self.bridge.run_job("sample-supplier", lambda ctx: vendors.sample_supplier(ctx, roles=roles),
                                  actor="user", on_done=lambda sample: self._finish(sample_text(sample)),
                                  on_error=lambda message: self._finish(f"No supplier could be read: {message}"))
        if job is None:
            self._finish("A supplier is being read already.")

    def _finish(self, sentence: str) -> None:
        if alive(self):
            self.button.setEnabled(True)
            self._say(sentence)

    def _say(self, sentence: str) -> None:
        self.result.setText(sentence)
        self.result.show()
