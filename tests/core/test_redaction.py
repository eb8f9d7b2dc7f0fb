import logging

from desktop_app.core import logs, paths, redact, secrets


def test_secret_in_log_message_and_exception_never_reaches_the_file():
    secrets.set_secret("servicetitan.client_secret", "cs1.TOPSECRETVALUE")
    logs.setup_logging()
    log = logging.getLogger("desktop_app.test")
    try:
        log.info("token request with %s", "cs1.TOPSECRETVALUE")
        try:
            raise RuntimeError("server said client_secret=cs1.TOPSECRETVALUE was bad")
        except RuntimeError:
            log.exception("failed")
        log.warning("GET http://erp/Rest/Logon?Operator=ADMIN&OperatorPassword=hunter22&CompanyId=EDU1")
        log.warning("odata at https://admin:p4ssw0rd@erp/odata failed")
        log.warning("header Authorization: Bearer eyJhbGciOi.abc.def")
    finally:
        for handler in logging.getLogger("desktop_app").handlers:
            handler.flush()
        logs.reset_logging()
    text = (paths.log_dir() / "ml-connector.log").read_text(encoding="utf-8")
    assert "failed" in text and "token request" in text
    for leaked in ("TOPSECRETVALUE", "hunter22", "p4ssw0rd", "eyJhbGciOi"):
        assert leaked not in text


def test_patterns_mask_values_they_have_never_seen():
    masked = redact.redact("<OperatorPassword>abc</OperatorPassword> client_secret=xyz&x=1")
    assert "abc" not in masked and "xyz" not in masked and "x=1" in masked


def test_live_feed_receives_redacted_records():
    seen = []
    logs.live_feed.subscribe(seen.append)
    try:
        logs.setup_logging()
        secrets.set_secret("syspro.company_password", "C0mpanyPw")
        logging.getLogger("desktop_app.sync.invoices").info("posting with C0mpanyPw")
    finally:
        logs.live_feed.unsubscribe(seen.append)
        logs.reset_logging()
    assert seen and "C0mpanyPw" not in seen[-1].getMessage()


def test_secrets_are_masked_from_when_they_are_registered_until_they_are_forgotten():
    from desktop_app.core.redact import MASK, forget_all, redact, register_secret

    text = "operator pw Tr0ub4dor&3 and company pw Tr0ub4dor&3-Co"
    assert redact(text) == text
    register_secret("Tr0ub4dor&3")
    register_secret("Tr0ub4dor&3-Co")  # contains the first: masked whole, not as "***-Co"
    register_secret("abc")  # too short to be told from ordinary text
    assert redact(text) == f"operator pw {MASK} and company pw {MASK}"
    assert redact("abc") == "abc"
    forget_all()
    assert redact(text) == text


# --- structure, not substrings -------------------------------------------------------------------

import base64  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from urllib.parse import quote, urlencode  # noqa: E402
from xml.sax.saxutils import escape  # noqa: E402

import pytest  # noqa: E402

PW = "S3cr&t<\"pw'"  # characters every encoding escapes differently

STRUCTURED = [
    # (form, text with the secret PW, the part that must survive)
    ("url query", "GET http://erp/Rest/Logon?" + urlencode({"Operator": "ADMIN", "OperatorPassword": PW,
                                                             "CompanyId": "L"}), "CompanyId=L"),
    ("url query, other case", "logon?operator=A&operatorpassword=" + quote(PW, safe="") + "&x=1", "&x=1"),
    ("company password", "Logon?CompanyPassword=" + quote(PW, safe="") + "&CompanyId=L", "CompanyId=L"),
    ("session id", "Query/Query?UserId=4F2A9C-77&BusinessObject=COMFND", "BusinessObject=COMFND"),
    ("form body", "grant_type=client_credentials&client_id=cid.1&client_secret=" + quote(PW, safe=""),
     "client_id=cid.1"),
    ("url-encoded query in a query",
     "next=" + quote("/Logon?" + urlencode({"OperatorPassword": PW, "CompanyId": "L"}), safe=""), "CompanyId%3DL"),
    ("xml element", f"<Logon><OperatorPassword>{escape(PW)}</OperatorPassword><Date>2024-05-01</Date></Logon>",
     "<Date>2024-05-01</Date>"),
    ("xml element with namespace and attribute",
     f'<x:PasswordForLedgerCode a="1">{escape(PW)}</x:PasswordForLedgerCode><Ledger>2024</Ledger>',
     "<Ledger>2024</Ledger>"),
    ("xml-escaped xml", escape(f"<CompanyPassword>{escape(PW)}</CompanyPassword><Co>L</Co>"),
     "&lt;Co&gt;L&lt;/Co&gt;"),
    ("url-encoded xml", "XmlIn=" + quote(f"<CompanyPassword>{PW}</CompanyPassword><Co>L</Co>", safe=""),
     "%3CCo%3EL%3C%2FCo%3E"),
    ("json", json.dumps({"client_secret": PW, "client_id": "cid.1"}), '"client_id": "cid.1"'),
    ("json token", json.dumps({"access_token": PW, "expires_in": 900}), '"expires_in": 900'),
    ("json-escaped json", json.dumps({"body": json.dumps({"password": PW, "user": "u"})}), '\\"user\\": \\"u\\"'),
    ("python dict", repr({"client_secret": PW, "tenant": "1"}), "'tenant': '1'"),
    ("bearer header", "Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln", "Authorization: Bearer "),
    ("basic header", "{'Authorization': 'Basic " + base64.b64encode(f"ADMIN:{PW}".encode()).decode() + "'}",
     "'Authorization': 'Basic "),
    ("app key header", "headers={'ST-App-Key': 'ak1.abcdef', 'Accept': 'application/json'}", "'Accept'"),
    ("url credentials", f"https://admin:{quote(PW, safe='')}@erp/odata", "https://admin:"),
]


@pytest.mark.parametrize("form, text, kept", STRUCTURED, ids=[row[0] for row in STRUCTURED])
def test_secrets_are_found_by_the_structure_that_names_them(form, text, kept):
    # never registered: only the structure says what is secret
    encoded = {PW, quote(PW, safe=""), escape(PW), json.dumps(PW)[1:-1], "4F2A9C-77", "eyJhbGciOi", "ak1.abcdef",
               base64.b64encode(f"ADMIN:{PW}".encode()).decode()}
    for masked in (redact.redact(text), redact.redact_document(text)):
        assert not [value for value in encoded if value in masked], masked
        assert kept in masked and redact.MASK in masked


AUDIT_XML = """<?xml version="1.0" encoding="Windows-1252"?>
<PostApInvoice xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="APSTIN.XSD">
  <Item><Header><Supplier>2024</Supplier><Invoice>INV-2024-05</Invoice><InvoiceDate>2024-05-01</InvoiceDate>
  <Reference>ST 2024 &amp; "2024" 12024 2024.50</Reference><Amount>2024.00</Amount></Header></Item>
</PostApInvoice>"""


def test_a_short_password_never_alters_dates_numbers_or_an_audit_document():
    redact.register_secret("2024")
    assert redact.redact_document(AUDIT_XML) == AUDIT_XML  # byte for byte
    assert redact.redact("posted on 2024-05-01, invoice INV-2024, total 12024 and 2024.50") == \
        "posted on 2024-05-01, invoice INV-2024, total 12024 and 2024.50"
    # free text: the known value standing alone, or escaped, is still masked
    assert redact.redact("the server refused password 2024.") == "the server refused password ***."
    assert redact.redact("pw='2024' (2024)") == "pw='***' (***)"


def test_an_audit_xml_without_a_secret_is_unchanged_through_the_exchange_and_the_ledger(memory_keyring):
    from desktop_app.core import db, models
    from desktop_app.sync import ledger
    from desktop_app.syspro.enet import Exchange

    for value in ("2024", "ADMIN-PW-1", "0001"):
        redact.register_secret(value)
    exchange = Exchange("Transaction/Post", "APSTIN", "<PostApInvoice><Parameters/></PostApInvoice>", AUDIT_XML,
                        AUDIT_XML, "http://127.0.0.1:9/Rest/Transaction/Post",
                        {"UserId": "SESSION-1", "BusinessObject": "APSTIN", "XmlIn": AUDIT_XML})
    assert exchange.xml_in == AUDIT_XML and exchange.response_text == AUDIT_XML
    assert "SESSION-1" not in exchange.redacted_url and "UserId=***" in exchange.redacted_url
    db.open_database()
    try:
        event_id = ledger.record(None, "posted", "posted invoice 2024-05-01", actor="test", record_key="k",
                                 xml_sent=exchange.xml_in, xml_received=exchange.response_text)
        event = models.AuditEvent.get_by_id(event_id)
        assert event.xml_sent == AUDIT_XML and event.xml_received == AUDIT_XML
        assert event.message == "posted invoice 2024-05-01"
    finally:
        db.close_database()


@pytest.mark.parametrize("value", ["hunter2024", "Tr0ub4dor&3", 'quo"te<x>'])
def test_a_known_value_is_masked_in_its_encoded_forms_as_a_whole_token(value):
    redact.register_secret(value)
    for form in (value, quote(value, safe=""), escape(value), json.dumps(value)[1:-1]):
        assert form not in redact.redact(f"failed with {form} here"), form
        assert redact.redact(f"x{form}y") == f"x{form}y"  # inside a longer token: left alone


def test_a_cli_traceback_is_redacted(tmp_path):
    script = """
import sys
from desktop_app import cli, commands
from desktop_app.core.redact import register_secret

register_secret("Hunter2Hunter")  # as if read from the keyring

def boom(args):
    raise RuntimeError("GET http://erp/Rest/Logon?Operator=A&OperatorPassword=pl41nText&CompanyId=L failed; "
                       "secret Hunter2Hunter; header Authorization: Basic QURNSU46cGw0MW5UZXh0")

cli.COMMANDS["status"] = boom
sys.exit(cli.main(["status"]))
"""
    import os

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ))
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError" in result.stderr and "CompanyId=L" in result.stderr
    for leaked in ("pl41nText", "Hunter2Hunter", "QURNSU46cGw0MW5UZXh0"):
        assert leaked not in result.stderr
