import datetime as dt

import pytest

from desktop_app.core import config, db


def test_defaults_and_types():
    settings = config.Settings()
    assert settings["sync.interval_minutes"] == 15
    assert settings["sync.cost_item_types"] == ("Material", "Equipment")
    assert settings["sync.write_back"] is True
    assert settings["sync.start_date"] is None


@pytest.mark.parametrize("key,raw,expected", [
    ("sync.interval_minutes", "30", 30),
    ("sync.start_date", "2026-01-15", dt.date(2026, 1, 15)),
    ("sync.timezone", "America/New_York", "America/New_York"),
    ("sync.cost_item_types", "Material, Equipment,Service", ("Material", "Equipment", "Service")),
    ("sync.write_back", "no", False),
    ("syspro.enet_url", "http://erp:20000/SYSPROWCFService/Rest/", "http://erp:20000/SYSPROWCFService/Rest"),
])
def test_parse_valid(key, raw, expected):
    assert config.parse_value(key, raw) == expected


@pytest.mark.parametrize("key,raw,fragment", [
    ("sync.interval_minutes", "-3", "at least 1"),
    ("sync.interval_minutes", "ten", "whole number"),
    ("sync.start_date", "15/01/2026", "YYYY-MM-DD"),
    ("sync.timezone", "Mars/Olympus", "time zone"),
    ("sync.cost_item_types", "Material,Gadget", "Gadget"),
    ("syspro.enet_url", "erp:20000", "web address"),
    ("syspro.odata_url", "https://op:secret@erp/odata", "no user name or password"),
    ("sync.conflict_policy", "coin-toss", "ask"),
])
def test_parse_invalid_names_the_problem(key, raw, fragment):
    with pytest.raises(config.SettingsError) as info:
        config.parse_value(key, raw)
    assert key in str(info.value) and fragment in str(info.value)


def test_unknown_key_lists_valid_keys():
    with pytest.raises(config.SettingsError) as info:
        config.parse_value("sync.intervall", "5")
    assert "sync.interval_minutes" in str(info.value)


def test_save_and_load_round_trip():
    db.open_database()
    config.save_setting("sync.interval_minutes", "20")
    config.save_setting("servicetitan.environment", "integration")
    settings = config.load_settings()
    assert settings["sync.interval_minutes"] == 20
    assert settings["servicetitan.auth_url"] == "https://auth-integration.servicetitan.io/connect/token"
    assert settings.is_set("sync.interval_minutes") and not settings.is_set("sync.timezone")


def test_odata_entity_override():
    settings = config.Settings({"syspro.odata_entities": "ApInvoice=ApInvoices, ApSupplier=Suppliers"})
    assert settings.odata_entity("ApInvoice") == "ApInvoices"
    assert settings.odata_entity("InvMaster") == "InvMaster"
