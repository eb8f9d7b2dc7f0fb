"""The wizard and the Settings page warn about plain http:// addresses and the box that allows them;
a test of the connection with one is refused with the sentence that says why and what to do."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from desktop_app.core import config
from desktop_app.ui.settings_page import SettingsPage

from .test_shell_wizard import fill_syspro, press_test, type_into, wizard  # noqa: F401 - the fixture

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (propagateSizeHints|raise)")

PLAIN = "http://erp.example:20000/SYSPROWCFService/Rest"


def test_the_wizard_warns_about_plain_http_and_the_test_is_refused_until_allowed(qtbot, wizard, engine_db):  # noqa: F811
    page = wizard.syspro_page
    fill_syspro(qtbot, page, 9)
    assert not page.unencrypted_warning.isVisibleTo(page)  # 127.0.0.1 is this machine
    type_into(qtbot, page.fields["syspro.enet_url"], PLAIN)
    assert page.unencrypted_warning.isVisibleTo(page)
    assert "syspro.enet_url: plain http://" in page.unencrypted_warning.text()
    assert "refuses" in page.unencrypted_warning.text()

    sentence = press_test(qtbot, page)
    assert sentence.startswith("✗ ") and "is a plain http:// address on another machine" in sentence
    assert "syspro.allow_unencrypted" in sentence

    qtbot.mouseClick(page.allow_unencrypted, Qt.MouseButton.LeftButton)
    assert page.unencrypted_warning.text().startswith("Warning: syspro.enet_url use plain http://")
    sentence = press_test(qtbot, page)  # now tried: erp.example cannot be reached
    assert sentence.startswith("✗ ") and "plain http://" not in sentence
    assert config.load_settings()["syspro.allow_unencrypted"] is True

    type_into(qtbot, page.fields["syspro.enet_url"], "https://erp.example/SYSPROWCFService/Rest")
    assert "are allowed" in page.unencrypted_warning.text()
    qtbot.mouseClick(page.allow_unencrypted, Qt.MouseButton.LeftButton)
    assert not page.unencrypted_warning.isVisibleTo(page)


def test_the_servicetitan_page_warns_about_a_plain_http_sign_in(qtbot, wizard):  # noqa: F811
    page = wizard.servicetitan_page
    page.environment.setCurrentIndex(page.environment.findData("custom"))
    type_into(qtbot, page.fields["servicetitan.auth_url"], "http://auth.example/connect/token")
    assert page.unencrypted_warning.isVisibleTo(page)
    assert "servicetitan.auth_url: plain http://" in page.unencrypted_warning.text()
    type_into(qtbot, page.fields["servicetitan.auth_url"], "https://auth.example/connect/token")
    assert not page.unencrypted_warning.isVisibleTo(page)


def test_the_settings_page_warns_next_to_the_box(qtbot, bridge, engine_db):
    page = SettingsPage(bridge)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: bool(page.loaded_texts), timeout=5000)
    assert not page.unencrypted_warning.isVisibleTo(page)
    type_into(qtbot, page.editors["syspro.odata_url"].widget, "http://erp.example/SYSPRO8Odata")
    assert "syspro.odata_url: plain http://" in page.unencrypted_warning.text()
    assert page.unencrypted_warning.isVisibleTo(page)
    page.editors["syspro.allow_unencrypted"].widget.click()  # the page is not shown: a click on the box
    assert page.unencrypted_warning.text().startswith("Warning: syspro.odata_url use plain http://")
    with qtbot.waitSignal(page.saved, timeout=5000):
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert config.load_settings()["syspro.allow_unencrypted"] is True
