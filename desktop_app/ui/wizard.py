"""First-run setup: ServiceTitan, SYSPRO, how to sync, then (optionally) mapping suggestions.

Every field is checked as it is typed with the same rules the engine uses (`config.parse_value`)
and a sentence appears under it. Test connection stores what was typed (settings in the database,
secrets in the keyring — on the db thread) and logs on through the job worker, like a sync would.
Stored secrets are never read back into a field: the field stays empty with "•••••• (stored)",
and leaving it empty keeps the stored value.
"""
from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable

from PySide6.QtCore import QDate, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from desktop_app.core import config, secrets
from desktop_app.core.config import SPECS, SettingsError
from desktop_app.core.errors import ConnectionResult
from desktop_app.core.origins import ALLOW_UNENCRYPTED, unencrypted_warning
from desktop_app.sync import rehearsal
from desktop_app.ui.messages import alive, show_error
from desktop_app.ui.sync_control import run_connection_test

STORED_PLACEHOLDER = "•••••• (stored)"
ST_WHERE = "In ServiceTitan: Settings → Integrations → API Application Access."
ENVIRONMENTS = (("Production", "production"), ("Integration (test tenant)", "integration"),
                ("Custom addresses", "custom"))


@functools.cache
def timezone_names() -> list[str]:
    return sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC")


def save_values(values: dict[str, str], secret_values: dict[str, str]) -> dict[str, str]:
    """Store settings then secrets (db thread); returns {key or secret name: sentence} for what failed."""
    errors: dict[str, str] = {}
    for key, raw in values.items():  # dict order: servicetitan.environment before the URLs it sets
        try:
            config.save_setting(key, raw, actor="wizard")
        except SettingsError as exc:
            errors[key] = field_sentence(key, str(exc))
    for name, value in secret_values.items():
        if value:
            try:
                secrets.set_secret(name, value)
            except secrets.SecretStoreError as exc:
                errors[name] = str(exc)
    return errors


def field_sentence(key: str, message: str) -> str:
    """Engine messages start with the key; next to the field the key is noise."""
    prefix = f"{key}: "
    text = message[len(prefix):] if message.startswith(prefix) else message
    return text[:1].upper() + text[1:]


def load_current() -> tuple[config.Settings, dict[str, bool]]:
    try:
        status = secrets.secrets_status()
    except secrets.SecretStoreError:
        status = {name: False for name in secrets.SECRET_NAMES}
    return config.load_settings(), status


class SecretEdit(QLineEdit):
    """A masked field that never shows what is stored."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.stored = False
        self.set_stored(False)

    def set_stored(self, stored: bool) -> None:
        self.stored = stored
        self.setPlaceholderText(STORED_PLACEHOLDER if stored else "")
        self.setToolTip("Stored in the system keyring. Leave empty to keep it; type to replace it."
                        if stored else "Stored in the system keyring, never in files or logs.")


class SetupPage(QWizardPage):
    """A page of labelled fields, each with a hint and a sentence under it when it is wrong."""

    def __init__(self, title: str, subtitle: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addLayout(self.form)
        self.fields: dict[str, QLineEdit] = {}
        self.secret_fields: dict[str, SecretEdit] = {}
        self.errors: dict[str, QLabel] = {}
        self.required: set[str] = set()

    def add_field(self, key: str, label: str, widget: QWidget, hint: str = "", *, required: bool = False) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        if hint:
            hint_label = QLabel(hint)
            hint_label.setObjectName("hint")
            hint_label.setWordWrap(True)
            column.addWidget(hint_label)
        error = QLabel()
        error.setTextFormat(Qt.TextFormat.PlainText)
        error.setObjectName("fieldError")
        error.setStyleSheet("color: #B91C1C;")
        error.setWordWrap(True)
        error.hide()
        column.addWidget(error)
        self.form.addRow(label + (" *" if required else ""), box)
        self.errors[key] = error
        if required:
            self.required.add(key)
        if isinstance(widget, SecretEdit):
            self.secret_fields[key] = widget
            widget.textChanged.connect(lambda _text, key=key: self.check_field(key))
        elif isinstance(widget, QLineEdit):
            widget.setObjectName(key)
            self.fields[key] = widget
            widget.textChanged.connect(lambda _text, key=key: self.check_field(key))
        return widget

    def show_error(self, key: str, sentence: str) -> None:
        label = self.errors.get(key)
        if label is None:
            return
        label.setText(sentence)
        label.setVisible(bool(sentence))
        widget = self.fields.get(key) or self.secret_fields.get(key)
        if widget is not None:
            widget.setProperty("invalid", bool(sentence))
            widget.style().unpolish(widget)
            widget.style().polish(widget)

    def field_problem(self, key: str, *, strict: bool) -> str:
        if key in self.secret_fields:
            edit = self.secret_fields[key]
            if strict and key in self.required and not edit.text() and not edit.stored:
                return "Required."
            return ""
        text = self.fields[key].text().strip()
        if not text:
            return "Required." if strict and key in self.required else ""
        try:
            config.parse_value(key, text)
        except SettingsError as exc:
            return field_sentence(key, str(exc))
        return self.extra_problem(key, text)

    def extra_problem(self, key: str, text: str) -> str:
        return ""

    def check_field(self, key: str, *, strict: bool = False) -> bool:
        problem = self.field_problem(key, strict=strict)
        self.show_error(key, problem)
        return not problem

    def check(self) -> bool:
        return all([self.check_field(key, strict=True) for key in self.errors if key in self.fields
                    or key in self.secret_fields])

    def validatePage(self) -> bool:
        return self.check()

    def values(self) -> dict[str, str]:
        return {key: edit.text().strip() for key, edit in self.fields.items()}

    def secret_values(self) -> dict[str, str]:
        return {name: edit.text() for name, edit in self.secret_fields.items() if edit.text()}

    def fill(self, settings: config.Settings, stored: dict[str, bool]) -> None:
        for key, edit in self.fields.items():
            edit.setText(config.to_text(key, settings[key]))
        for name, edit in self.secret_fields.items():
            edit.clear()
            edit.set_stored(stored.get(name, False))

    def secrets_stored(self) -> None:
        """After a successful save: typed secrets leave the widgets; the placeholder says stored."""
        for edit in self.secret_fields.values():
            if edit.text():
                edit.clear()
                edit.set_stored(True)


class ConnectionPage(SetupPage):
    system = ""

    def __init__(self, bridge, title: str, subtitle: str, parent: QWidget | None = None):
        super().__init__(title, subtitle, parent)
        self.bridge = bridge
        self.last_result: ConnectionResult | None = None
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("testConnection")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.result_label = QLabel()
        self.result_label.setTextFormat(Qt.TextFormat.PlainText)
        self.result_label.setObjectName("testResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Show details")
        self.details_button.setCheckable(True)
        self.details_button.hide()
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(110)
        self.details.hide()
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.busy)
        row.addWidget(self.result_label, 1)
        row.addWidget(self.details_button)
        self.layout_.addStretch(1)
        self.layout_.addLayout(row)
        self.layout_.addWidget(self.details)
        self.test_button.clicked.connect(self.test_connection)
        self.details_button.toggled.connect(self.details.setVisible)

    @Slot()
    def test_connection(self) -> None:
        if not self.check():
            self._show_result(None, "✗ Fix the fields marked above first.")
            return
        self.test_button.setEnabled(False)
        self.busy.show()
        self._show_result(None, "Saving and connecting…")
        values, secret_values = self.values(), self.secret_values()
        self.bridge.db_call(lambda: save_values(values, secret_values), on_done=self._saved,
                            on_error=self._save_failed)

    def _saved(self, errors: dict[str, str]) -> None:
        if not alive(self):
            return
        if errors:
            for key, sentence in errors.items():
                self.show_error(key, sentence)
            self._done(None, "✗ Nothing was tested: " + " ".join(errors.values()))
            return
        self.secrets_stored()
        run_connection_test(self.bridge, self.system, self._tested)

    def _save_failed(self, message: str) -> None:
        if alive(self):
            self._done(None, f"✗ The settings could not be saved: {message}")

    def _tested(self, result: ConnectionResult) -> None:
        if not alive(self):
            return
        self.last_result = result
        self._done(result, ("✓ " if result.ok else "✗ ") + result.message)

    def _done(self, result: ConnectionResult | None, sentence: str) -> None:
        self.test_button.setEnabled(True)
        self.busy.hide()
        self._show_result(result, sentence)

    def _show_result(self, result: ConnectionResult | None, sentence: str) -> None:
        colour = "#15803D" if sentence.startswith("✓") else "#B91C1C" if sentence.startswith("✗") else "#4B5563"
        self.result_label.setStyleSheet(f"color: {colour};")
        self.result_label.setText(sentence)
        details = "\n".join(result.details) if result is not None else ""
        self.details.setPlainText(details)
        self.details_button.setVisible(bool(details))
        if not details:
            self.details_button.setChecked(False)


def warning_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setStyleSheet("color: #B45309;")
    label.setWordWrap(True)
    label.hide()
    return label


def show_warning(label: QLabel, sentence: str) -> None:
    label.setText(sentence)
    label.setVisible(bool(sentence))


class ServiceTitanPage(ConnectionPage):
    system = "servicetitan"

    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(bridge, "ServiceTitan", "The API application ml-connector signs in with. "
                         + ST_WHERE, parent)
        self.environment = QComboBox()
        self.environment.setObjectName("servicetitan.environment")
        for label, value in ENVIRONMENTS:
            self.environment.addItem(label, value)
        self.add_field("servicetitan.environment", "Environment", self.environment,
                       "Production for your live tenant; Integration for ServiceTitan's test environment.")
        self.add_field("servicetitan.auth_url", "Sign-in URL", QLineEdit(), required=True)
        self.add_field("servicetitan.api_url", "API URL", QLineEdit(), required=True)
        self.add_field("servicetitan.tenant", "Tenant ID", QLineEdit(),
                       "The number shown as Tenant ID on the API Application Access page.", required=True)
        self.add_field("servicetitan.client_id", "Client ID", QLineEdit(),
                       "Starts with cid. — shown when the app was connected to your tenant.", required=True)
        self.add_field("servicetitan.client_secret", "Client secret", SecretEdit(),
                       "Shown once when it is generated; generate a new one there if it was lost.", required=True)
        self.add_field("servicetitan.app_key", "App key", SecretEdit(),
                       "The application key (ak1.…) of the app in the ServiceTitan developer portal.", required=True)
        self.unencrypted_warning = warning_label("unencryptedWarning")
        self.form.addRow("", self.unencrypted_warning)
        for key in ("servicetitan.auth_url", "servicetitan.api_url"):
            self.fields[key].textChanged.connect(self._show_unencrypted_warning)
        self.environment.currentIndexChanged.connect(self._environment_changed)
        self._environment_changed()

    @Slot()
    def _show_unencrypted_warning(self, *_args) -> None:
        # the box that allows it is on the SYSPRO page; here only what was typed is judged
        show_warning(self.unencrypted_warning, unencrypted_warning(
            {key: self.fields[key].text() for key in ("servicetitan.auth_url", "servicetitan.api_url")}, False))

    @Slot()
    def _environment_changed(self, *_args) -> None:
        env = self.environment.currentData()
        urls = config.ENVIRONMENT_URLS.get(env)
        for key, url in zip(("servicetitan.auth_url", "servicetitan.api_url"), urls or (None, None), strict=True):
            edit = self.fields[key]
            if url is not None:
                edit.setText(url)
            edit.setReadOnly(url is not None)

    def extra_problem(self, key: str, text: str) -> str:
        if key == "servicetitan.tenant" and not text.isdigit():
            return "The tenant ID is a number, e.g. 1234567890."
        if key == "servicetitan.client_id" and " " in text:
            return "The client ID has no spaces."
        return ""

    def values(self) -> dict[str, str]:
        return {"servicetitan.environment": self.environment.currentData(), **super().values()}

    def fill(self, settings, stored) -> None:
        index = self.environment.findData(settings["servicetitan.environment"])
        self.environment.setCurrentIndex(max(index, 0))
        super().fill(settings, stored)
        self._environment_changed()


class SysproPage(ConnectionPage):
    system = "syspro"

    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(bridge, "SYSPRO", "How ml-connector reaches SYSPRO e.net Solutions and OData. "
                         "Use a dedicated integration operator: SYSPRO allows one session per operator, so "
                         "a person logging on as the same operator would be logged off.", parent)
        self.add_field("syspro.enet_url", "e.net REST URL", QLineEdit(),
                       "For example http://erp:20000/SYSPROWCFService/Rest", required=True)
        self.add_field("syspro.odata_url", "OData URL", QLineEdit(),
                       "Optional; used to read AP invoices back. For example https://erp/SYSPRO8Odata/SYSPROOData")
        self.add_field("syspro.operator", "Operator", QLineEdit(),
                       "A dedicated integration operator (not a person's log-on).", required=True)
        self.add_field("syspro.operator_password", "Operator password", SecretEdit(), required=True)
        self.add_field("syspro.company", "Company", QLineEdit(), "The SYSPRO company ID, e.g. EDU1.", required=True)
        self.add_field("syspro.company_password", "Company password", SecretEdit(),
                       "Only if the company has a password.")
        for key in ("syspro.enet_url", "syspro.odata_url"):
            self.fields[key].setPlaceholderText("https://…")
            self.fields[key].textChanged.connect(self._show_unencrypted_warning)
        self.allow_unencrypted = QCheckBox("Allow unencrypted http:// addresses (not recommended)")
        self.allow_unencrypted.setObjectName(ALLOW_UNENCRYPTED)
        self.add_field(ALLOW_UNENCRYPTED, "Unencrypted", self.allow_unencrypted,
                       "Only for a trusted network whose SYSPRO (or ServiceTitan sign-in) has no https: passwords "
                       "then cross the network readable by anyone on it.")
        self.unencrypted_warning = warning_label("unencryptedWarning")
        self.form.addRow("", self.unencrypted_warning)
        self.allow_unencrypted.toggled.connect(self._show_unencrypted_warning)
        self.add_field("syspro.supplier_address_lines", "Supplier address lines", QLineEdit(),
                       "What SupAddr1…SupAddr5 hold at this site, e.g. street,city,state,country,- "
                       "(street2, or - for a line not used). Read a sample supplier to check.")
        from desktop_app.ui.sample_supplier import SampleSupplierBox

        self.sample = SampleSupplierBox(bridge, lambda: self.fields["syspro.supplier_address_lines"].text(),
                                        lambda sentence: self.show_error("syspro.supplier_address_lines", sentence),
                                        prepare=self._save_first)
        self.form.addRow("", self.sample)

    @Slot()
    def _show_unencrypted_warning(self, *_args) -> None:
        show_warning(self.unencrypted_warning, unencrypted_warning(
            {key: self.fields[key].text() for key in ("syspro.enet_url", "syspro.odata_url")},
            self.allow_unencrypted.isChecked()))

    def values(self) -> dict[str, str]:
        return {**super().values(), ALLOW_UNENCRYPTED: "true" if self.allow_unencrypted.isChecked() else "false"}

    def fill(self, settings, stored) -> None:
        super().fill(settings, stored)
        self.allow_unencrypted.setChecked(bool(settings[ALLOW_UNENCRYPTED]))

    def _save_first(self, then: Callable[[str], None]) -> None:
        """The sample is read with what was typed: the fields are stored first, as Test connection does."""
        if not self.check():
            then("fix the fields marked above first")
            return
        values, secret_values = self.values(), self.secret_values()

        def saved(errors: dict[str, str]) -> None:
            for key, sentence in errors.items():
                self.show_error(key, sentence)
            if not errors:
                self.secrets_stored()
            then(" ".join(errors.values()))

        self.bridge.db_call(lambda: save_values(values, secret_values), on_done=saved, on_error=then)


def suggested_start_date(today: dt.date | None = None) -> dt.date:
    """The first day of the current month: books usually start a month clean."""
    return (today or dt.date.today()).replace(day=1)


class SyncPage(SetupPage):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("How to sync", "These can be changed later on the Settings page.", parent)
        self.interval = QSpinBox()
        self.interval.setRange(SPECS["sync.interval_minutes"].minimum, SPECS["sync.interval_minutes"].maximum)
        self.interval.setSuffix(" minutes")
        self.interval.setValue(SPECS["sync.interval_minutes"].default)
        self.add_field("sync.interval_minutes", "Sync every", self.interval)
        start = QWidget()
        start_column = QVBoxLayout(start)
        start_column.setContentsMargins(0, 0, 0, 0)
        self.start_date = QDateEdit(QDate.fromString(suggested_start_date().isoformat(), "yyyy-MM-dd"))
        self.start_date.setObjectName("sync.start_date")
        self.start_date.setCalendarPopup(True)
        self.start_date.setDisplayFormat("yyyy-MM-dd")
        self.start_confirmed = QCheckBox("Yes, the connector posts what is dated from this day on")
        self.start_confirmed.setObjectName("startConfirmed")
        self.start_confirmed.toggled.connect(lambda _on: self.check_field("sync.start_date"))
        self.start_date.dateChanged.connect(lambda _day: self.check_field("sync.start_date"))
        start_column.addWidget(self.start_date, 0, Qt.AlignmentFlag.AlignLeft)
        start_column.addWidget(self.start_confirmed)
        self.add_field("sync.start_date", "Go-live date", start,
                       "ServiceTitan invoices, purchase orders and adjustments dated from this day on (in the "
                       "time zone below) go to SYSPRO; anything dated earlier is never posted, even when it is "
                       "edited later. Usually the first day of the first month SYSPRO should get from here; "
                       "the first day of this month is only a suggestion.", required=True)
        self.timezone = QComboBox()
        self.timezone.setEditable(True)
        self.timezone.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.timezone.addItems(timezone_names())
        completer = QCompleter(timezone_names(), self.timezone)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.timezone.setCompleter(completer)
        self.timezone.setCurrentText(SPECS["sync.timezone"].default)
        self.add_field("sync.timezone", "Accounting time zone", self.timezone,
                       "Decides the invoice date and period of an invoice finished near midnight.")
        self.timezone.currentTextChanged.connect(lambda _text: self.check_field("sync.timezone"))
        types = QWidget()
        types_row = QHBoxLayout(types)
        types_row.setContentsMargins(0, 0, 0, 0)
        self.cost_types: dict[str, QCheckBox] = {}
        for name in SPECS["sync.cost_item_types"].choices:
            box = QCheckBox(name)
            box.setChecked(name in SPECS["sync.cost_item_types"].default)
            box.toggled.connect(lambda _on: self.check_field("sync.cost_item_types"))
            self.cost_types[name] = box
            types_row.addWidget(box)
        types_row.addStretch(1)
        self.add_field("sync.cost_item_types", "Cost item types", types,
                       "Invoice items of these types carry a cost that goes to AP.")
        self.add_field("sync.default_supplier", "Default supplier", QLineEdit(),
                       "SYSPRO supplier for items without a vendor; leave empty to have such invoices wait "
                       "for a mapping.")
        self.write_back = QCheckBox("Mark posted invoices as exported in ServiceTitan")
        self.write_back.setChecked(SPECS["sync.write_back"].default)
        self.add_field("sync.write_back", "Write back", self.write_back)
        stock = QWidget()
        stock_column = QVBoxLayout(stock)
        stock_column.setContentsMargins(0, 0, 0, 0)
        question = QLabel("Do your technicians use parts from your own warehouse or truck stock?")
        question.setWordWrap(True)
        self.stock_all = QRadioButton("No: post the cost of every material and equipment line")
        self.stock_non_stock = QRadioButton("Yes: leave parts from our own stock out; post only parts bought "
                                            "for the job")
        self.ap_lines_group = QButtonGroup(self)
        self.ap_lines_group.addButton(self.stock_all)
        self.ap_lines_group.addButton(self.stock_non_stock)
        self.stock_all.setChecked(SPECS["sync.ap_lines"].default == "all")
        self.stock_non_stock.setChecked(SPECS["sync.ap_lines"].default == "non_stock")
        for widget in (question, self.stock_all, self.stock_non_stock):
            stock_column.addWidget(widget)
        self.add_field("sync.ap_lines", "Parts from stock", stock,
                       "Parts from your own stock were bought on purchase orders, and those suppliers' bills "
                       "reach AP that way: posting them again from the job's invoice would put their cost in "
                       "AP twice. Parts bought for the job (e.g. at the supply counter) are posted either way. "
                       "An invoice's detail shows which lines were left out and why.")

    def field_problem(self, key: str, *, strict: bool) -> str:
        if key in self.fields:
            return super().field_problem(key, strict=strict)
        if key == "sync.start_date" and not self.start_confirmed.isChecked():
            return ("Required: choose the go-live date and tick the box to confirm it. Without it the "
                    "connector cannot tell which documents are its own, and it does not sync."
                    if strict else "")
        try:
            config.parse_value(key, self.values()[key])
        except SettingsError as exc:
            return field_sentence(key, str(exc))
        return ""

    def check(self) -> bool:
        return all([self.check_field(key, strict=True) for key in self.errors])

    def values(self) -> dict[str, str]:
        return {
            "sync.interval_minutes": str(self.interval.value()),
            "sync.start_date": (self.start_date.date().toString("yyyy-MM-dd")
                                if self.start_confirmed.isChecked() else ""),
            "sync.timezone": self.timezone.currentText().strip(),
            "sync.cost_item_types": ",".join(name for name, box in self.cost_types.items() if box.isChecked()),
            "sync.write_back": "true" if self.write_back.isChecked() else "false",
            "sync.ap_lines": "non_stock" if self.stock_non_stock.isChecked() else "all",
            **super().values(),
        }

    def fill(self, settings, stored) -> None:
        super().fill(settings, stored)
        self.interval.setValue(settings["sync.interval_minutes"])
        start = settings["sync.start_date"] or suggested_start_date()
        self.start_date.setDate(QDate(start.year, start.month, start.day))
        # a date stored before was confirmed then; a suggestion waits for the person's tick
        self.start_confirmed.setChecked(settings["sync.start_date"] is not None)
        self.timezone.setCurrentText(settings["sync.timezone"])
        for name, box in self.cost_types.items():
            box.setChecked(name in settings["sync.cost_item_types"])
        self.write_back.setChecked(bool(settings["sync.write_back"]))
        self.stock_non_stock.setChecked(settings["sync.ap_lines"] == "non_stock")
        self.stock_all.setChecked(settings["sync.ap_lines"] != "non_stock")


class FinishPage(QWizardPage):
    mappingsRequested = Signal()

    def __init__(self, wizard: SetupWizard):
        super().__init__()
        self.setTitle("Ready")
        self.setSubTitle("Press Finish to save. ml-connector then syncs on its own; the dashboard shows "
                         "what needs your attention.")
        self._wizard = wizard
        text = QLabel("ml-connector needs to know which ServiceTitan vendors and items are which SYSPRO "
                      "suppliers and stock codes. It can compare names on both sides and propose matches; "
                      "nothing is applied until you accept it on the Mappings page.")
        text.setWordWrap(True)
        self.suggest_button = QPushButton("Suggest mappings now")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.result_label = QLabel()
        self.result_label.setTextFormat(Qt.TextFormat.PlainText)
        self.result_label.setObjectName("suggestResult")
        self.result_label.setWordWrap(True)
        self.open_mappings = QPushButton("Open the Mappings page")
        self.open_mappings.hide()
        row = QHBoxLayout()
        row.addWidget(self.suggest_button)
        row.addWidget(self.busy)
        row.addWidget(self.result_label, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(row)
        layout.addWidget(self.open_mappings, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        self.suggest_button.clicked.connect(self.suggest)
        self.open_mappings.clicked.connect(self.mappingsRequested)

    @Slot()
    def suggest(self) -> None:
        self.suggest_button.setEnabled(False)
        self.busy.show()
        self.result_label.setText("Saving, then reading both systems…")
        self._wizard.save_all(self._saved)

    def _saved(self, errors: dict[str, str]) -> None:
        if errors:
            self._finish("✗ Setup is not complete: " + " ".join(errors.values()))
            return
        self._wizard.bridge.run_job("suggest-mappings", count_suggestions, actor="wizard",
                                    on_done=self._counted, on_error=lambda m: self._finish(f"✗ {m}"))

    def _counted(self, counts) -> None:
        if counts is None:
            self._finish("The look-up was cancelled.")
            return
        self._finish(f"✓ {counts['vendors']} vendor and {counts['items']} item suggestions are waiting on the "
                     "Mappings page.")
        self.open_mappings.show()

    def _finish(self, sentence: str) -> None:
        if alive(self):
            self.suggest_button.setEnabled(True)
            self.busy.hide()
            self.result_label.setText(sentence)


def count_suggestions(ctx) -> dict[str, int]:
    from desktop_app.sync.suggestions import suggestions_for

    return {kind: len(suggestions_for(ctx, kind)) for kind in ("vendors", "items")}


class SetupWizard(QWizard):
    """Emits `saved` once everything is stored; `mappingsRequested` to jump to the Mappings page."""

    saved = Signal()
    mappingsRequested = Signal()
    loaded = Signal()

    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle("Set up ml-connector")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setMinimumSize(720, 620)
        self.servicetitan_page = ServiceTitanPage(bridge)
        self.syspro_page = SysproPage(bridge)
        self.sync_page = SyncPage()
        self.finish_page = FinishPage(self)
        for page in (self.servicetitan_page, self.syspro_page, self.sync_page, self.finish_page):
            self.addPage(page)
        self.finish_page.mappingsRequested.connect(self._open_mappings)
        self._saving = False
        bridge.db_call(load_current, on_done=self._fill,
                       on_error=lambda message: show_error(self, f"The current settings could not be read: {message}"))

    @property
    def setup_pages(self) -> tuple[SetupPage, ...]:
        return (self.servicetitan_page, self.syspro_page, self.sync_page)

    def _fill(self, current) -> None:
        if not alive(self):
            return
        settings, stored = current
        for page in self.setup_pages:
            page.fill(settings, stored)
        self.loaded.emit()

    def save_all(self, then: Callable[[dict[str, str]], None], *, finishing: bool = False) -> None:
        values: dict[str, str] = {}
        secret_values: dict[str, str] = {}
        for page in self.setup_pages:
            values.update(page.values())
            secret_values.update(page.secret_values())

        def saved(errors: dict[str, str]) -> None:
            if not alive(self):
                return
            for page in self.setup_pages:
                for key, sentence in errors.items():
                    page.show_error(key, sentence)
                if not errors:
                    page.secrets_stored()
            if not errors:
                self.bridge.dataChanged.emit("settings")
            then(errors)

        def store() -> dict[str, str]:
            if finishing:  # a new site rehearses before anything is posted
                values.update(rehearsal.posting_after_setup())
            return save_values(values, secret_values)

        self.bridge.db_call(store, on_done=saved,
                            on_error=lambda message: then({"": f"The settings could not be saved: {message}"}))

    def accept(self) -> None:
        if self._saving:
            return
        self._saving = True
        self.button(QWizard.WizardButton.FinishButton).setEnabled(False)
        self.save_all(self._saved_for_finish, finishing=True)

    def _saved_for_finish(self, errors: dict[str, str]) -> None:
        self._saving = False
        self.button(QWizard.WizardButton.FinishButton).setEnabled(True)
        if errors:
            show_error(self, "Setup could not be saved. " + " ".join(errors.values()))
            return
        self.saved.emit()
        super().accept()

    @Slot()
    def _open_mappings(self) -> None:
        self.mappingsRequested.emit()
        self.accept()
