"""Field rules: each failure names the field; amounts are never rounded silently."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from desktop_app.core.errors import ConfigError
from desktop_app.syspro import fields
from desktop_app.syspro.errors import ValidationError


def test_validation_error_is_a_config_error_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        fields.text("Supplier", "X" * 16, limit="Supplier")
    assert isinstance(caught.value, ConfigError)
    assert caught.value.field == "Supplier"
    assert "Supplier" in str(caught.value) and "15" in str(caught.value)


@pytest.mark.parametrize("key,limit", [("Supplier", 15), ("Invoice", 20), ("StockCode", 30), ("LedgerCode", 35),
                                       ("Warehouse", 10), ("PurchaseOrder", 20), ("Branch", 10),
                                       ("Reference", 50), ("Notation", 50)])
def test_contract_key_lengths(key, limit):
    assert fields.text(key, "A" * limit, limit=key) == "A" * limit
    with pytest.raises(ValidationError):
        fields.text(key, "A" * (limit + 1), limit=key)


def test_required_text():
    with pytest.raises(ValidationError, match="Invoice: a value is required"):
        fields.text("Invoice", "  ", required=True)


def test_dates():
    assert fields.date_text("InvoiceDate", dt.date(2026, 1, 5)) == "2026-01-05"
    assert fields.date_text("InvoiceDate", "2026-01-05") == "2026-01-05"
    assert fields.date_text("DueDate", None) == ""
    for bad in ("05/01/2026", "2026-02-30", "20260105", dt.datetime(2026, 1, 5, 10, 0)):
        with pytest.raises(ValidationError, match="InvoiceDate"):
            fields.date_text("InvoiceDate", bad)
    with pytest.raises(ValidationError):
        fields.date_text("InvoiceDate", None, required=True)


def test_amounts_two_places_and_more_precision_rejected():
    assert fields.amount_text("TransactionValue", Decimal("1150")) == "1150.00"
    assert fields.amount_text("TransactionValue", Decimal("-12.5")) == "-12.50"
    assert fields.amount_text("TransactionValue", Decimal("3.100")) == "3.10"  # trailing zero is not precision
    with pytest.raises(ValidationError, match="TransactionValue.*more than 2 decimal places"):
        fields.amount_text("TransactionValue", Decimal("10.005"))
    with pytest.raises(ValidationError, match="not float"):
        fields.amount_text("TransactionValue", 10.5)
    with pytest.raises(ValidationError):
        fields.amount_text("TransactionValue", Decimal("NaN"))
    with pytest.raises(ValidationError, match="too large"):
        fields.amount_text("TransactionValue", Decimal("1000000000000"))


def test_quantities_up_to_six_places():
    assert fields.quantity_text("Quantity", Decimal("-5")) == "-5"
    assert fields.quantity_text("Quantity", Decimal("2.123456")) == "2.123456"
    with pytest.raises(ValidationError, match="Quantity.*6 decimal"):
        fields.quantity_text("Quantity", Decimal("2.1234567"))


def test_prices_up_to_five_places():
    assert fields.price_text("Price", Decimal("1.23456")) == "1.23456"
    with pytest.raises(ValidationError):
        fields.price_text("Price", Decimal("1.234567"))


def test_tax_code_is_one_letter():
    assert fields.tax_code("TaxCode", "A") == "A"
    assert fields.tax_code("TaxCode", None) == ""
    with pytest.raises(ValidationError, match="TaxCode"):
        fields.tax_code("TaxCode", "AB")


def test_control_characters_are_refused_with_the_field_name():
    root = fields.root("Doc")
    with pytest.raises(ValidationError, match="Notation"):
        fields.add(root, "Notation", "bell\x07")
