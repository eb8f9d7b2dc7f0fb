"""Every setting in `config.SPECS`, with the widget its kind calls for, saved through the engine's rules.

Only settings the user changed are saved (an untouched default stays a default). A value the
engine refuses gets its sentence under the field. Secrets are listed as stored or not — never shown.
"""
from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import config, secrets
from desktop_app.core.config import SPECS, SettingsError, SettingSpec
from desktop_app.core.errors import ConnectionResult
from desktop_app.core.origins import ALLOW_UNENCRYPTED, UNENCRYPTED_URL_SETTINGS, unencrypted_warning
from desktop_app.ui.messages import alive
from desktop_app.ui.sample_supplier import ADDRESS_LINES, SampleSupplierBox
from desktop_app.ui.sync_control import SYSTEMS, run_connection_test
from desktop_app.ui.wizard import field_sentence, timezone_names

GROUPS = (("servicetitan.", "ServiceTitan"), ("syspro.", "SYSPRO"), ("sync.", "Sync"), ("http.", "Network"))
SECRET_LABELS = {
    "servicetitan.client_secret": "ServiceTitan client secret",
    "servicetitan.app_key": "ServiceTitan app key",
    "syspro.operator_password": "SYSPRO operator password",
    "syspro.company_password": "SYSPRO company password",
}
NO_DATE = QDate(2000, 1, 1)  # shown as "Not set"


def label_for(key: str) -> str:
    name = key.split(".", 1)[1].replace("_", " ")
    for short, nice in (("url", "URL"), ("api", "API"), ("enet", "e.net"), ("odata", "OData"), ("st ", "ST "),
                        ("guid", "GUID"), ("id", "ID")):
        name = " ".join(nice if word == short else word for word in name.split(" "))
    return name if name.startswith("e.net") else name[:1].upper() + name[1:]


class SettingEditor:
    """One setting's widget, read and written as the text form the engine parses."""

    def __init__(self, spec: SettingSpec):
        self.spec = spec
        kind = spec.kind
        if kind == "int":
            self.widget = QSpinBox()
            self.widget.setRange(spec.minimum or 0, spec.maximum or 1_000_000)
        elif kind == "bool":
            self.widget = QCheckBox()
        elif kind == "date":
            self.widget = QDateEdit()
            self.widget.setCalendarPopup(True)
            self.widget.setDisplayFormat("yyyy-MM-dd")
            self.widget.setMinimumDate(NO_DATE)
            self.widget.setSpecialValueText("Not set")
        elif kind == "timezone":
            self.widget = QComboBox()
            self.widget.setEditable(True)
            self.widget.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            self.widget.addItems(timezone_names())
            completer = QCompleter(timezone_names(), self.widget)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            self.widget.setCompleter(completer)
        elif kind == "choice":
            self.widget = QComboBox()
            self.widget.addItems(spec.choices)
        elif kind == "list":
            self.widget = QWidget()
            row = QHBoxLayout(self.widget)
            row.setContentsMargins(0, 0, 0, 0)
            self.boxes = {name: QCheckBox(name) for name in spec.choices}
            for box in self.boxes.values():
                row.addWidget(box)
            row.addStretch(1)
        else:  # str, url
            self.widget = QLineEdit()
            if kind == "url":
                self.widget.setPlaceholderText("https://…")
        self.widget.setObjectName(spec.key)
        self.widget.setToolTip(spec.help)

    def text(self) -> str:
        kind, w = self.spec.kind, self.widget
        if kind == "int":
            return str(w.value())
        if kind == "bool":
            return "true" if w.isChecked() else "false"
        if kind == "date":
            return "" if w.date() == NO_DATE else w.date().toString("yyyy-MM-dd")
        if kind in ("timezone", "choice"):
            return w.currentText().strip()
        if kind == "list":
            return ",".join(name for name, box in self.boxes.items() if box.isChecked())
        return w.text().strip()

    def set_text(self, text: str) -> None:
        kind, w = self.spec.kind, self.widget
        if kind == "int":
            w.setValue(int(text or 0))
        elif kind == "bool":
            w.setChecked(text == "true")
        elif kind == "date":
            w.setDate(QDate.fromString(text, "yyyy-MM-dd") if text else NO_DATE)
        elif kind in ("timezone", "choice"):
            w.setCurrentText(text)
        elif kind == "list":
            chosen = set(text.split(","))
            for name, box in self.boxes.items():
                box.setChecked(name in chosen)
        else:
            w.setText(text)


def save_changed(changes: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Db thread: save each change; returns (errors by key, all settings as text afterwards)."""
    errors = {}
    for key, raw in changes.items():
        try:
            config.save_setting(key, raw, actor="user")
        except SettingsError as exc:
            errors[key] = field_sentence(key, str(exc))
    return errors, read_texts()[0]


def read_texts() -> tuple[dict[str, str], dict[str, bool]]:
    settings = config.load_settings()
    try:
        stored = secrets.secrets_status()
    except secrets.SecretStoreError:
        stored = {}
    return {key: config.to_text(key, settings[key]) for key in SPECS}, stored


class SettingsPage(QWidget):
    wizardRequested = Signal()
    saved = Signal()

    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.editors: dict[str, SettingEditor] = {}
        self.errors: dict[str, QLabel] = {}
        self.loaded_texts: dict[str, str] = {}

        title = QLabel("Settings")
        title.setObjectName("pageTitle")
        self.wizard_button = QPushButton("Run setup wizard again")
        self.test_button = QPushButton("Test connections")
        self.save_button = QPushButton("Save")
        self.save_button.setProperty("primary", True)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setObjectName("hint")
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.wizard_button)
        header.addWidget(self.test_button)

        body = QWidget()
        body_layout = QVBoxLayout(body)
        for prefix, group_title in GROUPS:
            group = QGroupBox(group_title)
            form = QFormLayout(group)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for key, spec in SPECS.items():
                if key.startswith(prefix):
                    form.addRow(label_for(key), self._field(spec))
            body_layout.addWidget(group)

        secrets_box = QGroupBox("Passwords and keys (kept in the system keyring)")
        secrets_form = QFormLayout(secrets_box)
        self.secret_labels: dict[str, QLabel] = {}
        for name in secrets.SECRET_NAMES:
            label = QLabel("…")
            label.setObjectName(f"secret:{name}")
            secrets_form.addRow(SECRET_LABELS[name], label)
            self.secret_labels[name] = label
        hint = QLabel("To change one, run the setup wizard again; stored values are never shown.")
        hint.setObjectName("hint")
        secrets_form.addRow(hint)
        body_layout.addWidget(secrets_box)

        tests_box = QGroupBox("Connection test")
        tests_form = QFormLayout(tests_box)
        self.test_labels: dict[str, QLabel] = {}
        for system, name in SYSTEMS.items():
            label = QLabel("Not tested in this session.")
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)
            label.setObjectName(f"test:{system}")
            tests_form.addRow(name, label)
            self.test_labels[system] = label
        body_layout.addWidget(tests_box)
        body_layout.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        scroll.viewport().setAutoFillBackground(False)
        body.setAutoFillBackground(False)
        footer = QHBoxLayout()
        footer.addWidget(self.status, 1)
        footer.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(scroll, 1)
        layout.addLayout(footer)

        for key in UNENCRYPTED_URL_SETTINGS:
            self.editors[key].widget.textChanged.connect(self._show_unencrypted_warning)
        self.editors[ALLOW_UNENCRYPTED].widget.toggled.connect(self._show_unencrypted_warning)
        self.save_button.clicked.connect(self.save)
        self.wizard_button.clicked.connect(self.wizardRequested)
        self.test_button.clicked.connect(self.test_connections)
        self.reload()

    def _field(self, spec: SettingSpec) -> QWidget:
        editor = SettingEditor(spec)
        self.editors[spec.key] = editor
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(editor.widget)
        hint = QLabel(spec.help)
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        column.addWidget(hint)
        error = QLabel()
        error.setTextFormat(Qt.TextFormat.PlainText)
        error.setObjectName("fieldError")
        error.setStyleSheet("color: #B91C1C;")
        error.setWordWrap(True)
        error.hide()
        column.addWidget(error)
        self.errors[spec.key] = error
        if spec.key == ALLOW_UNENCRYPTED:
            self.unencrypted_warning = QLabel()
            self.unencrypted_warning.setObjectName("unencryptedWarning")
            self.unencrypted_warning.setStyleSheet("color: #B45309;")
            self.unencrypted_warning.setWordWrap(True)
            self.unencrypted_warning.hide()
            column.addWidget(self.unencrypted_warning)
        if spec.key == ADDRESS_LINES:
            self.sample = SampleSupplierBox(self.bridge, editor.text, self._address_lines_problem)
            column.addWidget(self.sample)
        return box

    @Slot()
    def _show_unencrypted_warning(self, *_args) -> None:
        sentence = unencrypted_warning({key: self.editors[key].text() for key in UNENCRYPTED_URL_SETTINGS},
                                       self.editors[ALLOW_UNENCRYPTED].widget.isChecked())
        self.unencrypted_warning.setText(sentence)
        self.unencrypted_warning.setVisible(bool(sentence))

    def _address_lines_problem(self, sentence: str) -> None:
        self.errors[ADDRESS_LINES].setText(sentence)
        self.errors[ADDRESS_LINES].setVisible(bool(sentence))

    @Slot()
    def reload(self) -> None:
        self.bridge.db_call(read_texts, on_done=self._fill, on_error=self.status.setText)

    def _fill(self, loaded) -> None:
        if not alive(self):
            return
        texts, stored = loaded
        self.loaded_texts = dict(texts)
        for key, editor in self.editors.items():
            editor.set_text(texts[key])
        for name, label in self.secret_labels.items():
            label.setText("Stored" if stored.get(name) else "Not stored")

    def changes(self) -> dict[str, str]:
        return {key: editor.text() for key, editor in self.editors.items()
                if editor.text() != self.loaded_texts.get(key)}

    @Slot()
    def save(self) -> None:
        for label in self.errors.values():
            label.hide()
        changes = self.changes()
        if not changes:
            self.status.setText("Nothing changed.")
            return
        self.save_button.setEnabled(False)
        self.bridge.db_call(lambda: save_changed(changes), on_done=self._saved, on_error=self._save_failed)

    def _saved(self, outcome) -> None:
        if not alive(self):
            return
        errors, texts = outcome
        self.save_button.setEnabled(True)
        for key, sentence in errors.items():
            self.errors[key].setText(sentence)
            self.errors[key].show()
        # keep what the user typed in fields that failed; take the stored form of the rest
        self.loaded_texts = dict(texts)
        for key, editor in self.editors.items():
            if key not in errors:
                editor.set_text(texts[key])
        if errors:
            self.status.setText(f"{len(errors)} setting{'s' if len(errors) != 1 else ''} could not be saved; "
                                "see the fields marked in red.")
        else:
            self.status.setText(f"Saved at {dt.datetime.now():%H:%M}.")
        self.bridge.dataChanged.emit("settings")
        self.saved.emit()

    def _save_failed(self, message: str) -> None:
        if alive(self):
            self.save_button.setEnabled(True)
            self.status.setText(f"The settings could not be saved: {message}")

    @Slot()
    def test_connections(self) -> None:
        for system in SYSTEMS:
            self.test_labels[system].setText("Testing…")
            run_connection_test(self.bridge, system, self._tested)

    def _tested(self, result: ConnectionResult) -> None:
        if not alive(self):
            return
        system = next(key for key, name in SYSTEMS.items() if name == result.system)
        label = self.test_labels[system]
        label.setText(("✓ " if result.ok else "✗ ") + result.message)
        label.setToolTip("\n".join(result.details))
        label.setStyleSheet(f"color: {'#15803D' if result.ok else '#B91C1C'};")
