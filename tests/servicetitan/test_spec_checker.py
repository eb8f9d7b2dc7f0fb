"""The OpenAPI request check used by every test's teardown must itself catch bad requests."""
from __future__ import annotations

import pytest

from .st_fakes import api


@pytest.fixture
def checker(spec_checker):
    return spec_checker


def test_reference_documents_are_found(checker):
    assert "/tenant/{tenant}/export/invoices" in checker.spec("accounting")["paths"]


def test_accepts_a_declared_request(checker):
    url = api("accounting", "invoices") + "?activeState=All&ids=1,2&page=1&pageSize=500"
    assert checker.check("GET", url, None) == "GET accounting /tenant/{tenant}/invoices"


@pytest.mark.parametrize("method,url,fragment", [
    ("GET", api("accounting", "no-such-thing"), "no such path"),
    ("DELETE", api("inventory", "vendors/5"), "not allowed"),
    ("GET", api("inventory", "purchase-orders") + "?active=Any", "undeclared"),
    ("GET", api("accounting", "invoices") + "?active=Any", "undeclared"),
    ("GET", api("pricebook", "materials") + "?active=All", "not one of"),
    ("GET", api("accounting", "invoices") + "?ids=" + ",".join(map(str, range(51))), "more than 50"),
    ("GET", api("settings", "business-units/intacct"), "required"),
])
def test_rejects_what_the_spec_does_not_declare(checker, method, url, fragment):
    with pytest.raises(AssertionError, match=fragment):
        checker.check(method, url, None)


def test_rejects_a_body_that_does_not_match(checker):
    body = b'{"externalData": {"applicationGuid": "g", "externalData": [{"key": "k", "value": "v"}], "bogus": 1}}'
    with pytest.raises(AssertionError, match="body does not match"):
        checker.check("PATCH", api("inventory", "adjustments/7"), body)
