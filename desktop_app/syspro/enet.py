"""The e.net REST session: Logon at the start of a sync cycle, business-object calls, Logoff at its end.

e.net takes everything in the query string of a GET, passwords included, so URLs are
never logged as sent: every log line and audit record carries a rebuilt URL with the session id
and passwords masked and the XML documents elided (they are recorded separately, redacted).

SYSPRO allows one live session per operator; a second Logon evicts the first. So one
`EnetSession` serves a whole cycle and is re-established at most once per call when SYSPRO says it
no longer knows it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
from requests.utils import select_proxy

from desktop_app.core.errors import ConfigError
from desktop_app.core.http import never_sent, resolve_redirects_within_origin, session_from_environment
from desktop_app.core.origins import refuse_clear_text_proxy, require_encrypted
from desktop_app.core.redact import MASK, redact, redact_document, register_secret
from desktop_app.syspro import contract
from desktop_app.syspro.errors import (
    BusinessObjectError,
    LogonFailed,
    MalformedXmlOut,
    PostOutcomeUnknown,
    RequestTooLong,
    SessionExpired,
    SessionLostDuringWrite,
    TransportError,
)
from desktop_app.syspro.xmlout import decode_body, error_text

if TYPE_CHECKING:
    from desktop_app.core.config import Settings

log = logging.getLogger(__name__)

_SECRET_PARAMS = {"OperatorPassword", "CompanyPassword", "UserId"}
_DOCUMENT_PARAMS = {"XmlIn", "XmlParameters"}


class Exchange:
    """One business-object call as the audit trail keeps it (all text redacted).

    The texts are redacted when first read, not when the call is made: most exchanges are never
    read (the audit trail asks for the one of a post whose outcome is unknown). Reading them always
    gives the redacted form (secrets registered since the call are masked too); `repr` shows only
    that form.
    """

    __slots__ = ("operation", "business_object", "_raw", "_shown")

    def __init__(self, operation: str, business_object: str, xml_parameters: str, xml_in: str,
                 response_text: str | None, url: str, params: dict[str, str]):
        self.operation = operation  # "Query/Query" | "Setup/Add" | "Setup/Update" | "Transaction/Post"
        self.business_object = business_object
        self._raw: tuple[str, str, str | None, str, dict[str, str]] | None = (
            xml_parameters, xml_in, response_text, url, params)
        self._shown: tuple[str, str, str | None, str] | None = None

    def _redacted(self) -> tuple[str, str, str | None, str]:
        shown = self._shown
        if shown is None:
            raw = self._raw
            if raw is None:  # another thread has just redacted them (it sets _shown before clearing _raw)
                shown = self._shown
                assert shown is not None
                return shown
            xml_parameters, xml_in, response_text, url, params = raw
            shown = self._shown = (redact_document(xml_parameters), redact_document(xml_in),
                                   None if response_text is None else redact_document(response_text),
                                   redacted_url(url, params))
            self._raw = None  # the unredacted texts are not kept once the redacted ones exist
        return shown

    @property
    def xml_parameters(self) -> str:
        return self._redacted()[0]

    @property
    def xml_in(self) -> str:
        return self._redacted()[1]

    @property
    def response_text(self) -> str | None:
        """None: no answer arrived."""
        return self._redacted()[2]

    @property
    def redacted_url(self) -> str:
        return self._redacted()[3]

    def __repr__(self) -> str:
        return (f"Exchange(operation={self.operation!r}, business_object={self.business_object!r}, "
                f"redacted_url={self.redacted_url!r}, answered={self.response_text is not None})")


@dataclass
class SessionStats:
    requests: int = 0
    logons: int = 0
    relogons: int = 0


class _RedactUrllib3(logging.Filter):
    """urllib3 logs request lines (with our query string) at DEBUG: mask them before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def _guard_urllib3_logging() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactUrllib3) for f in logger.filters):
        logger.addFilter(_RedactUrllib3())


def redacted_url(url: str, params: dict[str, str]) -> str:
    """The URL for logs and the audit trail: secrets masked, XML documents elided (kept elsewhere)."""
    shown = []
    for key, val in params.items():
        if key in _SECRET_PARAMS:
            shown.append(f"{key}={MASK if val else ''}")
        elif key in _DOCUMENT_PARAMS:
            shown.append(f"{key}=[{len(val)} chars]")
        else:
            shown.append(urlencode({key: val}))
    return redact_document(f"{url}?{'&'.join(shown)}")


class EnetClient:
    """Knows where and as whom to log on; `session()` gives one logged-on session per sync cycle."""

    def __init__(self, *, base_url: str, operator: str, operator_password: str, company_id: str,
                 company_password: str = "", connect_timeout: float = 10, read_timeout: float = 100,
                 session: requests.Session | None = None,
                 on_exchange: Callable[[Exchange], None] | None = None, allow_unencrypted: bool = False):
        if not base_url:
            raise ConfigError("The SYSPRO e.net address (syspro.enet_url) is not set.")
        if not operator:
            raise ConfigError("The SYSPRO operator (syspro.operator) is not set.")
        if not company_id:
            raise ConfigError("The SYSPRO company (syspro.company) is not set.")
        require_encrypted(base_url, setting="syspro.enet_url", service="the SYSPRO operator's and company's",
                          allow_unencrypted=allow_unencrypted)
        register_secret(operator_password)
        register_secret(company_password)
        _guard_urllib3_logging()
        self.base_url = base_url.rstrip("/")
        self.operator = operator
        self.company_id = company_id
        self._operator_password = operator_password or ""
        self._company_password = company_password or ""
        self.timeout = (connect_timeout, read_timeout)
        self._http = session if session is not None else session_from_environment(self.base_url)
        self._owns_http = session is None
        probe = self._http.merge_environment_settings(self.base_url + "/", {}, None, None, None)
        refuse_clear_text_proxy(self.base_url, select_proxy(self.base_url + "/", probe["proxies"]),
                                setting="syspro.enet_url")
        self.on_exchange = on_exchange

    def __repr__(self) -> str:
        return f"EnetClient(base_url={self.base_url!r}, operator={self.operator!r}, company_id={self.company_id!r})"

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> EnetClient:
        from desktop_app.core.secrets import get_secret

        return cls(
            base_url=settings.get("syspro.enet_url") or "",
            operator=settings.get("syspro.operator") or "",
            operator_password=get_secret("syspro.operator_password") or "",
            company_id=settings.get("syspro.company") or "",
            company_password=get_secret("syspro.company_password") or "",
            connect_timeout=settings.get("http.connect_timeout") or 10,
            read_timeout=settings.get("http.read_timeout") or 100,
            allow_unencrypted=bool(settings.get("syspro.allow_unencrypted")),
            **kwargs,
        )

    @contextmanager
    def session(self) -> Iterator[EnetSession]:
        """Log on, yield the session, and log off however the block ends."""
        stats = SessionStats()
        user_id = self._logon(stats)
        enet_session = EnetSession(self, user_id, stats)
        try:
            yield enet_session
        finally:
            self._logoff(enet_session)
            self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # --- transport ---------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str], stats: SessionStats) -> str:
        """One GET; returns the decoded body. Raises requests exceptions for the caller to classify.

        e.net reads every value form-encoded from the query string, as requests' `params` encodes
        them. Redirects are followed only within e.net's origin
        (`resolve_redirects_within_origin`), also on a session the caller gave: the credentials
        are in the URL.
        """
        url = f"{self.base_url}/{path}"
        stats.requests += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("SYSPRO e.net GET %s", redacted_url(url, params))
        http = self._http
        request = http.prepare_request(requests.Request("GET", url, params=params))
        settings = http.merge_environment_settings(request.url, {}, None, None, None)
        response = http.send(request, timeout=self.timeout, allow_redirects=False, **settings)
        if response.is_redirect:
            history = [response, *resolve_redirects_within_origin(http, response, request, timeout=self.timeout,
                                                                  **settings)]
            response = history.pop()
            response.history = history
        if response.status_code >= 400:
            too_long = _refused_as_too_long(response)
            raise _HttpStatus(response.status_code, response.reason,
                              request_bytes=len(f"GET {request.path_url} HTTP/1.1") if too_long else 0)
        return decode_body(response.content)

    def _logon(self, stats: SessionStats) -> str:
        params = {
            "Operator": self.operator,
            "OperatorPassword": self._operator_password,
            "CompanyId": self.company_id,
            "CompanyPassword": self._company_password,
        }
        where = f"SYSPRO e.net at {self.base_url}"
        try:
            body = self._get(contract.LOGON, params, stats)
        except _HttpStatus as exc:
            raise TransportError(redact(f"{where} answered the logon with HTTP {exc}. Check syspro.enet_url "
                                        "and that the SYSPRO e.net service is running.")) from None
        except requests.RequestException as exc:
            raise TransportError(redact(f"Could not reach {where}: {_describe(exc)}. Check syspro.enet_url, "
                                        "the network and that the e.net service is running.")) from None
        stats.logons += 1
        error = error_text(body)
        if error is not None:
            hint = "" if self._operator_password else " No operator password is stored (syspro.operator_password)."
            raise LogonFailed(redact(
                f"SYSPRO refused the logon of operator {self.operator!r} to company {self.company_id!r}: "
                f"{error.removeprefix('ERROR:').strip()}. Check the operator, company and their passwords."
                + hint))
        user_id = body.strip()
        if not user_id or any(ch.isspace() or ch in "<>&" for ch in user_id) or len(user_id) > 100:
            raise MalformedXmlOut(f"{where} answered the logon with something that is not a session id "
                                  f"({len(body)} characters). Is syspro.enet_url the e.net REST address "
                                  "(…/SYSPROWCFService/Rest)?")
        register_secret(user_id)
        log.info("Logged on to SYSPRO company %s as operator %s", self.company_id, self.operator)
        return user_id

    def _logoff(self, enet_session: EnetSession) -> None:
        if enet_session._lost:
            return  # SYSPRO already ended that session
        try:
            body = self._get(contract.LOGOFF, {"UserId": enet_session.user_id}, enet_session.stats)
        except (requests.RequestException, _HttpStatus) as exc:
            log.warning("SYSPRO logoff failed (%s); the session will time out on its own",
                        redact(_describe(exc)))
            return
        if body.strip() != "0":
            log.warning("SYSPRO logoff answered %s", redact(body.strip()[:200]))
        else:
            log.info("Logged off from SYSPRO")


class _HttpStatus(Exception):
    def __init__(self, status: int, reason: str | None, *, request_bytes: int = 0):
        super().__init__(f"{status} {reason or ''}".strip())
        self.status = status
        self.request_bytes = request_bytes  # > 0: HTTP.sys refused a request line this long as too long


# HTTP.sys's pages for a request over its limits (414 "Request URL Too Long", 400 "Bad Request -
# Request Too Long"): it answers them itself, so e.net processed nothing.
_TOO_LONG_TEXTS = ("request url too long", "request too long", "url is too long", "headers is too long")


def _refused_as_too_long(response: requests.Response) -> bool:
    if response.status_code == 414:
        return True
    if response.status_code != 400:
        return False
    text = response.content[:2000].decode("latin-1", "replace").lower()
    return any(marker in text for marker in _TOO_LONG_TEXTS)


def _describe(exc: BaseException) -> str:
    """A short, secret-free description of a transport failure (requests' texts carry the URL)."""
    if isinstance(exc, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(exc, requests.ReadTimeout):
        return "no answer within the read timeout"
    if isinstance(exc, requests.ConnectionError):
        return "the connection failed or was dropped"
    if isinstance(exc, _HttpStatus):
        return f"HTTP {exc}"
    return type(exc).__name__


class EnetSession:
    """A logged-on e.net session. Calls are serialised by the caller (one job worker)."""

    def __init__(self, client: EnetClient, user_id: str, stats: SessionStats):
        self._client = client
        self.user_id = user_id
        self.stats = stats
        self.last_exchange: Exchange | None = None
        self._lost = False  # a write found the session gone: log on before the next call
        # request-line bytes the e.net server accepted less than (it refused a longer one as too
        # long): posts of this session are packed within it (syspro.batching)
        self.request_budget: int | None = None

    def __repr__(self) -> str:
        return f"EnetSession(operator={self._client.operator!r}, company_id={self._client.company_id!r})"

    def query(self, business_object: str, xml_in: str) -> str:
        return self._call(contract.QUERY, business_object, "", xml_in)

    def setup(self, action: str, business_object: str, xml_parameters: str, xml_in: str) -> str:
        if action not in ("Add", "Update"):
            raise ValueError(f"setup action must be Add or Update, not {action!r}")
        return self._call(contract.SETUP.format(action=action), business_object, xml_parameters, xml_in)

    def post(self, business_object: str, xml_parameters: str, xml_in: str) -> str:
        return self._call(contract.POST, business_object, xml_parameters, xml_in)

    def post_request_bytes(self, business_object: str, xml_parameters: str, xml_in: str) -> int:
        """Bytes of the request line `post` would send for these documents now."""
        from desktop_app.syspro.batching import request_line_bytes

        params = {"UserId": self.user_id, "BusinessObject": business_object, "XmlParameters": xml_parameters,
                  "XmlIn": xml_in}
        return request_line_bytes(self._client.base_url, contract.POST, params)

    def _call(self, operation: str, business_object: str, xml_parameters: str, xml_in: str) -> str:
        writes = operation != contract.QUERY
        if self._lost:
            # the last write found the session gone: log on before the next call (often its look-up)
            self._lost = False
            self.user_id = self._client._logon(self.stats)
            self.stats.relogons += 1
        for attempt in (1, 2):
            params = {"UserId": self.user_id, "BusinessObject": business_object}
            if operation != contract.QUERY:
                params["XmlParameters"] = xml_parameters
            params["XmlIn"] = xml_in
            body = self._send(operation, business_object, xml_parameters, xml_in, params, writes)
            error = error_text(body)
            if error is None:
                return body
            if not contract.SESSION_ERROR.search(error):
                raise BusinessObjectError(business_object, error.removeprefix("ERROR:").strip())
            if attempt == 1 and not writes:
                # only a query is repeated on a fresh session: it changes nothing
                log.warning("SYSPRO session is no longer valid (%s); logging on again", redact(error))
                self.user_id = self._client._logon(self.stats)
                self.stats.relogons += 1
                continue
            if writes and attempt == 1:
                # A post or setup is never repeated here, "Invalid UserId" included: what e.net
                # answers for a session evicted or expired while the business object ran is not
                # published, so the document is looked up, like any in-doubt post, before it is sent
                # again. The next call logs on anew.
                log.warning("SYSPRO session ended during %s of %s (%s); it will be looked up before any "
                            "re-send", operation, business_object, redact(error))
                self._lost = True
                raise SessionLostDuringWrite(
                    f"The SYSPRO session ended during {operation} of {business_object} ({error}). It is not "
                    "known whether the document was processed: look it up in SYSPRO before sending it again.",
                    self.last_exchange)
            raise SessionExpired(redact(
                f"SYSPRO rejected the session again after logging on anew ({error}). Another user or "
                f"service may be using operator {self._client.operator!r}; use a dedicated integration operator."))
        raise AssertionError("unreachable")

    def _send(self, operation: str, business_object: str, xml_parameters: str, xml_in: str,
              params: dict[str, str], writes: bool) -> str:
        client = self._client
        url = f"{client.base_url}/{operation}"

        def record(response_text: str | None) -> Exchange:
            exchange = Exchange(operation, business_object, xml_parameters, xml_in, response_text, url, params)
            self.last_exchange = exchange
            if client.on_exchange is not None:
                client.on_exchange(exchange)
            return exchange

        try:
            body = client._get(operation, params, self.stats)
        except (requests.RequestException, _HttpStatus) as exc:
            what = _describe(exc)
            exchange = record(None)
            if isinstance(exc, _HttpStatus) and exc.request_bytes:
                raise RequestTooLong(
                    f"The e.net server refused {operation} of {business_object} as too long (HTTP {exc}, "
                    f"{exc.request_bytes} bytes of request line) before SYSPRO saw it: nothing was processed.",
                    status=exc.status, request_bytes=exc.request_bytes) from None
            if writes and not (isinstance(exc, requests.RequestException) and never_sent(exc)):
                raise PostOutcomeUnknown(
                    f"SYSPRO did not answer {operation} of {business_object} ({what}). It is not known "
                    "whether the document was processed: look it up in SYSPRO before sending it again.",
                    exchange) from None
            raise TransportError(redact(f"SYSPRO e.net at {client.base_url} could not complete {operation} of "
                                        f"{business_object}: {what}. Try again later.")) from None
        record(body)
        return body
