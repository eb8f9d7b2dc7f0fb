"""The setup wizard and the Settings page: typed like a user, tested against real (unreachable or
simulated) servers on 127.0.0.1, stored in the real database and keyring backend."""
from __future__ import annotations

import socket

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QWizard

from desktop_app.core import config, secrets
from desktop_app.ui.settings_page import SettingsPage
from desktop_app.ui.wizard import STORED_PLACEHOLDER, SetupWizard

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (propagateSizeHints|raise)")

ST_SECRET, APP_KEY, OP_PASSWORD, CO_PASSWORD = "st-secret-9f8e7d", "ak1.appkey-5544", "op-pass-1122", "co-pass-3344"


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def wizard(qtbot, bridge):
    wizard = SetupWizard(bridge)
    qtbot.addWidget(wizard)
    with qtbot.waitSignal(wizard.loaded, timeout=5000):
        wizard.show()
    return wizard


def type_into(qtbot, edit: QLineEdit, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def fill_servicetitan(qtbot, page, port: int) -> None:
    page.environment.setCurrentIndex(page.environment.findData("custom"))
    type_into(qtbot, page.fields["servicetitan.auth_url"], f"http://127.0.0.1:{port}/connect/token")
    type_into(qtbot, page.fields["servicetitan.api_url"], f"http://127.0.0.1:{port}")
    type_into(qtbot, page.fields["servicetitan.tenant"], "1234567")
    type_into(qtbot, page.fields["servicetitan.client_id"], "cid.abc123")
    type_into(qtbot, page.secret_fields["servicetitan.client_secret"], ST_SECRET)
    type_into(qtbot, page.secret_fields["servicetitan.app_key"], APP_KEY)


def fill_syspro(qtbot, page, port: int) -> None:
    type_into(qtbot, page.fields["syspro.enet_url"], f"http://127.0.0.1:{port}/SYSPROWCFService/Rest")
    type_into(qtbot, page.fields["syspro.operator"], "INTEGRATION")
    type_into(qtbot, page.secret_fields["syspro.operator_password"], OP_PASSWORD)
    type_into(qtbot, page.fields["syspro.company"], "EDU1")
    type_into(qtbot, page.secret_fields["syspro.company_password"], CO_PASSWORD)


def press_test(qtbot, page) -> str:
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert page.busy.isVisibleTo(page) or page.result_label.text().startswith(("✓", "✗"))
    qtbot.waitUntil(lambda: page.result_label.text().startswith(("✓", "✗")), timeout=30000)
    assert not page.busy.isVisibleTo(page) and page.test_button.isEnabled()
    return page.result_label.text()


def test_fields_say_what_is_wrong(qtbot, wizard):
    page = wizard.servicetitan_page
    page.environment.setCurrentIndex(page.environment.findData("custom"))
    type_into(qtbot, page.fields["servicetitan.api_url"], "api.servicetitan.io")
    assert "not a web address" in page.errors["servicetitan.api_url"].text()
    assert page.errors["servicetitan.api_url"].isVisibleTo(page)
    type_into(qtbot, page.fields["servicetitan.tenant"], "acme")
    assert "is a number" in page.errors["servicetitan.tenant"].text()
    page.fields["servicetitan.tenant"].clear()
    assert not page.validatePage()  # Next refuses: empty tenant, missing secrets
    assert page.errors["servicetitan.tenant"].text() == "Required."
    assert page.errors["servicetitan.client_secret"].text() == "Required."
    assert wizard.currentPage() is page


def test_servicetitan_unreachable_gives_a_cross_and_a_sentence(qtbot, wizard, engine_db, memory_keyring):
    page = wizard.servicetitan_page
    fill_servicetitan(qtbot, page, closed_port())
    sentence = press_test(qtbot, page)
    assert sentence.startswith("✗ ")
    assert "Could not reach the ServiceTitan sign-in server 127.0.0.1" in sentence
    assert ST_SECRET not in sentence and "Traceback" not in sentence
    # Test connection stored what was typed; the secret left the widget
    assert config.load_settings()["servicetitan.tenant"] == "1234567"
    assert secrets.get_secret("servicetitan.client_secret") == ST_SECRET
    assert page.secret_fields["servicetitan.client_secret"].text() == ""
    assert page.secret_fields["servicetitan.client_secret"].placeholderText() == STORED_PLACEHOLDER


def test_syspro_unreachable_gives_a_cross(qtbot, wizard, engine_db):
    page = wizard.syspro_page
    fill_syspro(qtbot, page, closed_port())
    sentence = press_test(qtbot, page)
    assert sentence.startswith("✗ ") and "127.0.0.1" in sentence
    assert OP_PASSWORD not in sentence and OP_PASSWORD not in page.details.toPlainText()


def test_finishing_stores_settings_and_secrets_and_never_shows_them_again(qtbot, bridge, wizard, engine_db):
    port = closed_port()
    fill_servicetitan(qtbot, wizard.servicetitan_page, port)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    assert wizard.currentPage() is wizard.syspro_page
    fill_syspro(qtbot, wizard.syspro_page, port)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    sync = wizard.sync_page
    assert wizard.currentPage() is sync
    sync.interval.setValue(20)
    sync.timezone.setCurrentText("America/Denver")
    sync.cost_types["Service"].setChecked(True)
    type_into(qtbot, sync.fields["sync.default_supplier"], "GEN001")
    sync.write_back.setChecked(False)
    qtbot.mouseClick(sync.start_confirmed, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    assert wizard.currentPage() is wizard.finish_page
    with qtbot.waitSignal(wizard.finished, timeout=5000) as finished:
        qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    assert finished.args == [QWizard.DialogCode.Accepted.value]

    settings = config.load_settings()
    assert settings["servicetitan.environment"] == "custom"
    assert settings["servicetitan.api_url"] == f"http://127.0.0.1:{port}"
    assert settings["servicetitan.client_id"] == "cid.abc123"
    assert settings["syspro.operator"] == "INTEGRATION" and settings["syspro.company"] == "EDU1"
    assert settings["sync.interval_minutes"] == 20 and settings["sync.timezone"] == "America/Denver"
    assert "Service" in settings["sync.cost_item_types"] and settings["sync.default_supplier"] == "GEN001"
    assert settings["sync.write_back"] is False and settings["sync.start_date"] is not None
    assert {name: secrets.get_secret(name) for name in secrets.SECRET_NAMES} == {
        "servicetitan.client_secret": ST_SECRET, "servicetitan.app_key": APP_KEY,
        "syspro.operator_password": OP_PASSWORD, "syspro.company_password": CO_PASSWORD}

    again = SetupWizard(bridge)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.loaded, timeout=5000):
        again.show()
    assert again.servicetitan_page.fields["servicetitan.client_id"].text() == "cid.abc123"
    texts = [edit.text() for edit in again.findChildren(QLineEdit)]
    assert not any(secret in text for text in texts for secret in (ST_SECRET, APP_KEY, OP_PASSWORD, CO_PASSWORD))
    for page in again.setup_pages:
        for edit in page.secret_fields.values():
            assert edit.text() == "" and edit.placeholderText() == STORED_PLACEHOLDER
    # leaving a stored secret empty keeps it
    assert again.servicetitan_page.validatePage()
    with qtbot.waitSignal(again.finished, timeout=5000):
        again.accept()
    assert secrets.get_secret("servicetitan.client_secret") == ST_SECRET


def test_sandbox_connections_pass(qtbot, sandbox, bridge):
    wizard = SetupWizard(bridge)
    qtbot.addWidget(wizard)
    with qtbot.waitSignal(wizard.loaded, timeout=5000):
        wizard.show()
    assert wizard.servicetitan_page.secret_fields["servicetitan.client_secret"].placeholderText() == STORED_PLACEHOLDER
    sentence = press_test(qtbot, wizard.servicetitan_page)
    assert sentence.startswith("✓ "), sentence
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    assert wizard.currentPage() is wizard.syspro_page  # stored secrets satisfy "required"
    sentence = press_test(qtbot, wizard.syspro_page)
    assert sentence.startswith("✓ "), sentence
    assert wizard.syspro_page.details_button.isVisibleTo(wizard.syspro_page)

    for _ in range(2):
        qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    finish = wizard.finish_page
    assert wizard.currentPage() is finish
    qtbot.mouseClick(finish.suggest_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: finish.result_label.text().startswith(("✓", "✗")), timeout=30000)
    assert finish.result_label.text().startswith("✓ "), finish.result_label.text()
    assert "suggestions" in finish.result_label.text()


def test_settings_page_saves_and_explains_refusals(qtbot, bridge, engine_db):
    page = SettingsPage(bridge)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: bool(page.loaded_texts), timeout=5000)
    assert page.secret_labels["syspro.operator_password"].text() == "Not stored"
    page.editors["sync.interval_minutes"].widget.setValue(30)
    type_into(qtbot, page.editors["syspro.enet_url"].widget, "erp:20000/Rest")
    with qtbot.waitSignal(page.saved, timeout=5000):
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert "not a web address" in page.errors["syspro.enet_url"].text()
    assert page.errors["syspro.enet_url"].isVisibleTo(page)
    assert page.editors["syspro.enet_url"].widget.text() == "erp:20000/Rest"  # kept for fixing
    settings = config.load_settings()
    assert settings["sync.interval_minutes"] == 30 and settings["syspro.enet_url"] == ""
    assert not settings.is_set("sync.timezone")  # untouched defaults stay defaults


def to_sync_page(qtbot, wizard) -> None:
    port = closed_port()
    fill_servicetitan(qtbot, wizard.servicetitan_page, port)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    fill_syspro(qtbot, wizard.syspro_page, port)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    assert wizard.currentPage() is wizard.sync_page


def finish(qtbot, wizard) -> None:
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    assert wizard.currentPage() is wizard.finish_page
    with qtbot.waitSignal(wizard.finished, timeout=5000) as finished:
        qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    assert finished.args == [QWizard.DialogCode.Accepted.value]


def test_the_wizard_cannot_finish_without_a_confirmed_go_live_date(qtbot, wizard, engine_db):
    import datetime as dt

    to_sync_page(qtbot, wizard)
    sync = wizard.sync_page
    # a suggestion (the first day of this month) is shown, but it is the person's to confirm
    assert sync.start_date.date().toString("yyyy-MM-dd") == dt.date.today().replace(day=1).isoformat()
    assert not sync.start_confirmed.isChecked()
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    assert wizard.currentPage() is sync  # Next refuses: Finish is on the next page, out of reach
    error = sync.errors["sync.start_date"]
    assert error.isVisibleTo(sync) and "go-live date" in error.text()
    assert config.load_settings()["sync.start_date"] is None

    sync.start_date.setFocus()
    sync.start_date.setDate(sync.start_date.date().addMonths(-2))  # the person picks another date...
    qtbot.mouseClick(sync.start_confirmed, Qt.MouseButton.LeftButton)  # ...and confirms it
    assert not error.isVisibleTo(sync)
    finish(qtbot, wizard)
    expected = dt.date.today().replace(day=1)
    expected = (expected - dt.timedelta(days=1)).replace(day=1)
    expected = (expected - dt.timedelta(days=1)).replace(day=1)
    assert config.load_settings()["sync.start_date"] == expected


def test_the_stock_question_sets_which_lines_go_to_ap(qtbot, bridge, wizard, engine_db):
    to_sync_page(qtbot, wizard)
    sync = wizard.sync_page
    assert any("use parts from your own warehouse or truck stock?" in label.text()
               for label in sync.findChildren(QLabel))  # asked in plain words
    assert sync.stock_all.isChecked()  # the default: every line, as before the question existed
    qtbot.mouseClick(sync.stock_non_stock, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(sync.start_confirmed, Qt.MouseButton.LeftButton)
    finish(qtbot, wizard)
    assert config.load_settings()["sync.ap_lines"] == "non_stock"

    again = SetupWizard(bridge)  # shown again, the wizard keeps the answer
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.loaded, timeout=5000):
        again.show()
    assert again.sync_page.stock_non_stock.isChecked() and again.sync_page.start_confirmed.isChecked()


def test_settings_page_reads_a_sample_supplier_with_the_typed_address_layout(qtbot, sandbox, bridge):
    sandbox.company.syspro.add_supplier("AAASAMPLE", SupplierName="Sample Supply", SupAddr1="12 Elm St",
                                        SupAddr2="Suite 4", SupAddr3="Temple", SupAddr4="TX", SupPostalCode="76501")
    page = SettingsPage(bridge)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: bool(page.loaded_texts), timeout=5000)
    editor = page.editors["syspro.supplier_address_lines"].widget
    assert editor.text() == "street,city,state,country,-"
    editor.setText("street,city,city,state,-")
    qtbot.mouseClick(page.sample.button, Qt.MouseButton.LeftButton)
    assert "more than one line" in page.errors["syspro.supplier_address_lines"].text()
    editor.setText("street,street2,city,state,-")
    qtbot.mouseClick(page.sample.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.sample.result.text().startswith(("Supplier", "No supplier")), timeout=30000)
    text = page.sample.result.text()
    assert text.startswith("Supplier AAASAMPLE (Sample Supply):"), text
    assert "SupAddr2 'Suite 4' → ServiceTitan unit" in text and "SupAddr5 '' → not used" in text
    assert not config.load_settings().is_set("syspro.supplier_address_lines")  # read, not saved


def test_wizard_reads_a_sample_supplier_with_the_typed_address_layout(qtbot, sandbox, bridge):
    sandbox.company.syspro.add_supplier("AAASAMPLE", SupplierName="Sample Supply", SupAddr1="12 Elm St",
                                        SupAddr2="Suite 4", SupAddr3="Temple", SupAddr4="TX", SupPostalCode="76501")
    wizard = SetupWizard(bridge)
    qtbot.addWidget(wizard)
    with qtbot.waitSignal(wizard.loaded, timeout=5000):
        wizard.show()
    page = wizard.syspro_page
    edit = page.fields["syspro.supplier_address_lines"]
    assert edit.text() == "street,city,state,country,-"
    type_into(qtbot, edit, "street,street2")
    assert "exactly five" in page.errors["syspro.supplier_address_lines"].text()
    type_into(qtbot, edit, "street,street2,city,state,-")
    assert not page.errors["syspro.supplier_address_lines"].isVisibleTo(page)
    qtbot.mouseClick(page.sample.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.sample.result.text().startswith(("Supplier", "No supplier")), timeout=30000)
    text = page.sample.result.text()
    assert text.startswith("Supplier AAASAMPLE (Sample Supply):"), text
    assert "SupAddr2 'Suite 4' → ServiceTitan unit" in text and "SupAddr3 'Temple' → ServiceTitan city" in text
    assert config.load_settings()["syspro.supplier_address_lines"] == ("street", "street2", "city", "state", "-")
