"""What can go wrong when talking to SYSPRO, as exceptions an accountant can act on.

The engine decides what to do from the type: `ValidationError` -> fix the data or mapping,
`LogonFailed` -> fix credentials, `SessionExpired`/`TransportError` -> try the cycle again later,
`BusinessObjectError` -> SYSPRO rejected the request, anything that is an `OutcomeUnknown` -> the
write may have been applied: look the record up before sending it again.
"""
from __future__ import annotations

from desktop_app.core.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    ConnectorError,
    OutcomeUnknown,
)
from desktop_app.core.redact import redact


class ValidationError(ConfigError):
    """A value cannot be sent to SYSPRO as it is (too long, wrong format, too precise)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(redact(f"{field}: {message}"))


class LogonFailed(AuthenticationError):
    """SYSPRO refused the operator / company credentials."""


class SessionExpired(ConnectError):
    """SYSPRO no longer knows our session (timed out, or the operator logged on elsewhere)."""


class TransportError(ConnectError):
    """SYSPRO could not be reached or did not answer a call that is safe to repeat later."""


class BusinessObjectError(ConnectorError):
    """SYSPRO answered a call with an error text instead of a result document."""

    def __init__(self, business_object: str, message: str):
        self.business_object = business_object
        self.syspro_message = redact(message)
        super().__init__(f"SYSPRO {business_object} reported an error: {self.syspro_message}")


class RequestTooLong(ConnectorError):
    """The HTTP server in front of e.net (HTTP.sys) refused the request as too long (HTTP 414, or 400
    "Request Too Long") before SYSPRO saw it: nothing was processed. `request_bytes` is the length
    of the request line that was refused."""

    def __init__(self, message: str, *, status: int, request_bytes: int):
        self.status = status
        self.request_bytes = request_bytes
        super().__init__(redact(message))


class MalformedXmlOut(ConnectorError):
    """SYSPRO's answer is not the XML document we expected."""


class LookupUnavailable(ConnectError):
    """Whether a document exists in SYSPRO could not be determined (neither OData nor e.net answered)."""


class PostOutcomeUnknown(OutcomeUnknown):
    """A post or setup call was sent but its answer never came or was cut off.

    `exchange` holds what was sent (redacted) for the audit trail.
    """

    def __init__(self, message: str, exchange=None):
        self.exchange = exchange
        super().__init__(redact(message))


class SessionLostDuringWrite(PostOutcomeUnknown):
    """e.net answered a post or setup call with a session error ("Invalid UserId", expired): the
    call is over, but whether the business object ran first is not known, so the document is looked
    up, never sent again blindly. As the answer did come, the look-up can follow at once."""


class MalformedPostXmlOut(MalformedXmlOut, OutcomeUnknown):
    """The answer to a post could not be read, so whether SYSPRO applied it is unknown."""

    exit_code = OutcomeUnknown.exit_code
