"""The e.net session: logon/logoff per cycle, session recovery, in-doubt posts, redaction."""
from __future__ import annotations

import json

import pytest
import requests
import responses

from desktop_app.core.errors import OutcomeUnknown
from desktop_app.syspro import apstin
from desktop_app.syspro.enet import EnetClient
from desktop_app.syspro.errors import (
    BusinessObjectError,
    LogonFailed,
    PostOutcomeUnknown,
    SessionExpired,
    TransportError,
)

from .conftest import COMPANY_PASSWORD, ENET_URL, OPERATOR_PASSWORD, USER_IDS, xml_out
from .test_builders import ap_doc
from .test_xmlout import APSTIN_DUPLICATE, APSTIN_SUCCESS

ROWS = xml_out("ApSupplier", "<HeaderDetails/><Row><Supplier>SUPP01</Supplier></Row><RowsReturned>  1</RowsReturned>")
SECRETS = (OPERATOR_PASSWORD, COMPANY_PASSWORD, USER_IDS[0].strip(), USER_IDS[1].strip())


def assert_no_secrets(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), f"secret leaked into: {text!r}"


def all_log_text(capture) -> list[str]:
    return [record.getMessage() for record in capture.records]


def test_logon_query_logoff_per_cycle(enet, client):
    enet.answer("Query/Query", ROWS)
    with client.session() as session:
        assert session.query("COMFND", "<Query/>") == ROWS
    assert enet.paths() == ["Logon", "Query/Query", "Logoff"]
    logon = enet.calls[0].params
    assert logon == {"Operator": "ADMIN", "OperatorPassword": OPERATOR_PASSWORD, "CompanyId": "L",
                     "CompanyPassword": COMPANY_PASSWORD}
    query = enet.calls[1].params
    assert query == {"UserId": USER_IDS[0].strip(), "BusinessObject": "COMFND", "XmlIn": "<Query/>"}
    assert enet.calls[2].params == {"UserId": USER_IDS[0].strip()}
    assert session.stats.requests == 3


def test_blank_company_password_is_still_sent(enet):
    http = requests.Session()
    client = EnetClient(base_url=ENET_URL, operator="ADMIN", operator_password=OPERATOR_PASSWORD, company_id="L",
                        session=http)
    with client.session():
        pass
    assert enet.calls[0].params["CompanyPassword"] == ""
    http.close()


def test_logoff_even_when_the_post_raises(enet, client):
    enet.answer("Transaction/Post", requests.ReadTimeout("read timed out"))
    with pytest.raises(PostOutcomeUnknown):
        with client.session() as session:
            apstin.post_ap_invoice(session, ap_doc())
    assert enet.paths() == ["Logon", "Transaction/Post", "Logoff"]


def test_logoff_even_when_the_caller_fails(enet, client):
    with pytest.raises(ZeroDivisionError):
        with client.session():
            raise ZeroDivisionError("the caller failed")
    assert enet.paths() == ["Logon", "Logoff"]


def test_post_timeout_is_outcome_unknown_and_never_reposted(enet, client):
    enet.answer("Transaction/Post", requests.ReadTimeout("read timed out"))
    with client.session() as session:
        with pytest.raises(OutcomeUnknown) as caught:
            session.post("APSTIN", "<PostApInvoice/>", "<PostApInvoice><Item/></PostApInvoice>")
        exchange = session.last_exchange
    assert len(enet.calls_to("Transaction/Post")) == 1
    assert isinstance(caught.value, PostOutcomeUnknown)
    assert "look it up" in str(caught.value)
    assert caught.value.exchange is exchange
    assert exchange.response_text is None
    assert exchange.xml_in == "<PostApInvoice><Item/></PostApInvoice>"
    assert exchange.operation == "Transaction/Post" and exchange.business_object == "APSTIN"


def test_post_dropped_connection_is_outcome_unknown(enet, client):
    enet.answer("Transaction/Post", requests.ConnectionError("Connection aborted. RemoteDisconnected"))
    with client.session() as session, pytest.raises(OutcomeUnknown):
        session.post("APSTIN", "<p/>", "<d/>")
    assert len(enet.calls_to("Transaction/Post")) == 1


def test_post_http_500_is_outcome_unknown_but_query_500_is_transport_error(enet, client):
    enet.answer("Transaction/Post", 500)
    enet.answer("Query/Query", 500)
    with client.session() as session:
        with pytest.raises(OutcomeUnknown):
            session.post("APSTIN", "<p/>", "<d/>")
        with pytest.raises(TransportError):
            session.query("COMFND", "<q/>")


def test_post_that_never_left_is_a_transport_error(enet, client):
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    # what requests raises when no connection could be opened
    enet.answer("Transaction/Post", requests.ConnectionError(MaxRetryError(
        None, "/Transaction/Post", NewConnectionError(None, "Failed to establish a new connection: refused"))))
    with client.session() as session:
        with pytest.raises(TransportError) as caught:
            session.post("APSTIN", "<p/>", "<d/>")
    assert not isinstance(caught.value, OutcomeUnknown)


def test_expired_session_query_relogs_on_once_and_repeats(enet, client):
    enet.answer("Query/Query", "ERROR: Invalid UserId", ROWS)
    with client.session() as session:
        assert session.query("COMFND", "<q/>") == ROWS
        assert session.stats.relogons == 1
    assert enet.paths() == ["Logon", "Query/Query", "Logon", "Query/Query", "Logoff"]
    queries = enet.calls_to("Query/Query")
    assert queries[0].params["UserId"] == USER_IDS[0].strip()
    assert queries[1].params["UserId"] == USER_IDS[1].strip()
    assert enet.calls_to("Logoff")[0].params["UserId"] == USER_IDS[1].strip()


def test_query_session_rejected_twice_raises_session_expired(enet, client):
    enet.answer("Query/Query", "ERROR: Invalid UserId")
    with client.session() as session, pytest.raises(SessionExpired) as caught:
        session.query("COMFND", "<q/>")
    assert len(enet.calls_to("Logon")) == 2 and len(enet.calls_to("Query/Query")) == 2
    assert "dedicated integration operator" in str(caught.value)


@pytest.mark.parametrize("call", [lambda s: s.post("APSTIN", "<p/>", "<d/>"),
                                  lambda s: s.setup("Add", "APSSSP", "<p/>", "<d/>"),
                                  lambda s: s.setup("Update", "APSSSP", "<p/>", "<d/>")],
                         ids=["post", "setup-add", "setup-update"])
def test_a_write_answered_invalid_userid_is_in_doubt_not_sent_again(enet, client, call):
    # What e.net answers for a session evicted while the business object ran is not published: the
    # document is looked up (a query, on a fresh session) before anything is sent again.
    for operation in ("Transaction/Post", "Setup/Add", "Setup/Update"):
        enet.answer(operation, "ERROR: Invalid UserId", APSTIN_SUCCESS)
    enet.answer("Query/Query", ROWS)
    with client.session() as session:
        with pytest.raises(PostOutcomeUnknown) as caught:
            call(session)
        assert "look it up in SYSPRO" in str(caught.value)
        writes = [c for c in enet.calls if c.path in ("Transaction/Post", "Setup/Add", "Setup/Update")]
        assert len(writes) == 1 and len(enet.calls_to("Logon")) == 1
        assert session.query("COMFND", "<q/>") == ROWS  # the look-up logs on anew
        assert [c.params["UserId"] for c in enet.calls_to("Query/Query")] == [USER_IDS[1].strip()]
        assert session.stats.relogons == 1
    assert len(enet.calls_to("Logoff")) == 1


def test_post_with_other_session_error_is_outcome_unknown_without_repost(enet, client):
    enet.answer("Transaction/Post", "ERROR: The session has expired")
    with client.session() as session, pytest.raises(PostOutcomeUnknown):
        session.post("APSTIN", "<p/>", "<d/>")
    assert len(enet.calls_to("Transaction/Post")) == 1
    assert len(enet.calls_to("Logon")) == 1


def test_setup_is_treated_like_a_post(enet, client):
    enet.answer("Setup/Add", requests.ReadTimeout())
    with client.session() as session, pytest.raises(OutcomeUnknown):
        session.setup("Add", "APSSSP", "<p/>", "<d/>")
    assert len(enet.calls_to("Setup/Add")) == 1
    with client.session() as session, pytest.raises(ValueError):
        session.setup("Delete", "APSSSP", "<p/>", "<d/>")


def test_business_object_exception(enet, client):
    enet.answer("Transaction/Post", "ERROR: e.net exception 100000: Business object APSTIN is not licensed")
    with client.session() as session, pytest.raises(BusinessObjectError) as caught:
        session.post("APSTIN", "<p/>", "<d/>")
    assert "not licensed" in str(caught.value) and caught.value.business_object == "APSTIN"
    assert not isinstance(caught.value, OutcomeUnknown)


def test_json_quoted_bodies_are_accepted(enet, client):
    enet.answer("Logon", json.dumps(USER_IDS[0]))
    enet.answer("Logoff", json.dumps("0"))
    enet.answer("Transaction/Post", json.dumps(APSTIN_DUPLICATE))
    with client.session() as session:
        result = apstin.post_ap_invoice(session, ap_doc())
    assert result.duplicate and not result.ok
    assert enet.calls_to("Transaction/Post")[0].params["UserId"] == USER_IDS[0].strip()


def test_logon_refused(enet, client, debug_logs):
    enet.answer("Logon", "ERROR: Invalid operator password")
    with pytest.raises(LogonFailed) as caught:
        with client.session():
            pass
    assert "Invalid operator password" in str(caught.value) and "'ADMIN'" in str(caught.value)
    assert enet.paths() == ["Logon"]
    assert_no_secrets(str(caught.value), repr(caught.value), *all_log_text(debug_logs))


def test_logon_unreachable(rsps, client, debug_logs):
    rsps.add(responses.GET, f"{ENET_URL}/Logon",
             body=requests.ConnectionError(
                 f"Max retries exceeded with url: /Logon?OperatorPassword={OPERATOR_PASSWORD}"))
    with pytest.raises(TransportError) as caught:
        with client.session():
            pass
    assert "Could not reach" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert_no_secrets(str(caught.value), *all_log_text(debug_logs))


def test_no_secret_in_logs_exchanges_or_errors_over_a_whole_cycle(enet, client, debug_logs):
    exchanges = []
    client.on_exchange = exchanges.append
    enet.answer("Query/Query", "ERROR: Invalid UserId", ROWS)
    enet.answer("Transaction/Post", APSTIN_SUCCESS, requests.ReadTimeout())
    errors = []
    with client.session() as session:
        session.query("COMFND", "<q/>")
        session.post("INVTMA", "<p/>", "<PostInvAdjustments><Item><PasswordForLedgerCode>"
                                       f"{OPERATOR_PASSWORD}</PasswordForLedgerCode></Item></PostInvAdjustments>")
        try:
            session.post("APSTIN", "<p/>", "<d/>")
        except OutcomeUnknown as exc:
            errors.append(exc)
        assert "EnetSession(" in repr(session) and USER_IDS[1].strip() not in repr(session)
    assert errors and len(exchanges) == 4
    texts = [str(e) for e in errors] + all_log_text(debug_logs) + [repr(client)]
    for exchange in exchanges:
        texts += [exchange.redacted_url, exchange.xml_in, exchange.xml_parameters, exchange.response_text or ""]
        assert "UserId" in exchange.redacted_url and "chars]" in exchange.redacted_url
    assert_no_secrets(*texts)
    assert "<PasswordForLedgerCode>***</PasswordForLedgerCode>" in exchanges[2].xml_in
    assert any("SYSPRO e.net GET" in line for line in all_log_text(debug_logs))


def test_exchange_is_redacted_when_read_and_its_repr_shows_no_secret(enet, client):
    """Exchanges are redacted lazily (most are never read): whatever is read or printed is redacted."""
    enet.answer("Transaction/Post", APSTIN_SUCCESS)
    with client.session() as session:
        session.post("INVTMA", f"<p><Password>{COMPANY_PASSWORD}</Password></p>",
                     f"<PostInvAdjustments><PasswordForLedgerCode>{OPERATOR_PASSWORD}</PasswordForLedgerCode>"
                     "</PostInvAdjustments>")
        exchange = session.last_exchange
    shown = repr(exchange)
    assert "Transaction/Post" in shown and "INVTMA" in shown
    assert_no_secrets(shown, exchange.redacted_url, exchange.xml_in, exchange.xml_parameters, exchange.response_text)
    assert "<PasswordForLedgerCode>***</PasswordForLedgerCode>" in exchange.xml_in
    assert exchange.redacted_url.startswith(f"{ENET_URL}/Transaction/Post?UserId=***&BusinessObject=INVTMA")
    with pytest.raises(AttributeError):
        exchange.xml_in = "changed"  # read-only, as the frozen dataclass was


def test_post_ap_invoice_round_trip_with_audit(enet, client):
    enet.answer("Transaction/Post", APSTIN_SUCCESS)
    with client.session() as session:
        result = apstin.post_ap_invoice(session, ap_doc(), validate_only=True)
        exchange = session.last_exchange
    sent = enet.calls_to("Transaction/Post")[0].params
    assert sent["BusinessObject"] == "APSTIN"
    assert "<ValidateOnly>Y</ValidateOnly>" in sent["XmlParameters"]
    assert "<Invoice>ST-100234</Invoice>" in sent["XmlIn"]
    assert exchange.xml_in == sent["XmlIn"] and exchange.xml_parameters == sent["XmlParameters"]
    assert exchange.response_text == APSTIN_SUCCESS
    assert result.ok


def test_from_settings_reads_keyring(enet, memory_keyring):
    from desktop_app.core.config import Settings
    from desktop_app.core.secrets import set_secret

    set_secret("syspro.operator_password", OPERATOR_PASSWORD)
    settings = Settings({"syspro.enet_url": ENET_URL, "syspro.operator": "ADMIN", "syspro.company": "L"})
    client = EnetClient.from_settings(settings)
    with client.session():
        pass
    assert enet.calls[0].params["OperatorPassword"] == OPERATOR_PASSWORD
    assert enet.calls[0].params["CompanyPassword"] == ""
    assert client.timeout == (10, 100)
