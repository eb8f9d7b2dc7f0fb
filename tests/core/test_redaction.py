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
