"""Exceptions raised by the ServiceTitan client.

Each one subclasses a `desktop_app.core.errors` class so the CLI maps it to the right exit code,
and carries what ServiceTitan said (HTTP status, RFC 7807 title/errors, traceId) so support can
quote the traceId to ServiceTitan. Messages are built through `redact`.
"""
from __future__ import annotations

from desktop_app.core.errors import (
    AuthenticationError,
    ConnectError,
    ConnectorError,
    OutcomeUnknown,
)
from desktop_app.core.redact import redact


class _ProblemDetails:
    """Attributes shared by every error that may come from a ServiceTitan answer."""

    status: int | None = None
    title: str | None = None
    errors: dict[str, list[str]] | None = None
    trace_id: str | None = None

    def _set_problem(self, status=None, title=None, errors=None, trace_id=None):
        self.status = status
        self.title = redact(title) if title else None
        self.errors = {redact(k): [redact(m) for m in v] for k, v in (errors or {}).items()} or None
        self.trace_id = trace_id


class ServiceTitanApiError(_ProblemDetails, ConnectorError):
    """ServiceTitan refused a request (4xx other than 401/429), e.g. a validation error."""

    def __init__(self, message: str, *, status=None, title=None, errors=None, trace_id=None):
        super().__init__(redact(message))
        self._set_problem(status, title, errors, trace_id)


class BadRequest(ServiceTitanApiError):
    """HTTP 400: the request was not valid; `errors` names the fields."""


class Forbidden(ServiceTitanApiError):
    """HTTP 403: the app lacks a scope, or the tenant is not the one the credentials are for."""


class NotFound(ServiceTitanApiError):
    """HTTP 404."""


class Conflict(ServiceTitanApiError):
    """HTTP 409 other than the maintenance answer."""


class ServiceTitanAuthError(_ProblemDetails, AuthenticationError):
    """Client id/secret refused at the token endpoint, or the API refused a fresh token."""

    def __init__(self, message: str, *, status=None, title=None, errors=None, trace_id=None):
        super().__init__(redact(message))
        self._set_problem(status, title, errors, trace_id)


class ServiceTitanUnavailable(_ProblemDetails, ConnectError):
    """ServiceTitan could not be reached, or kept failing (5xx, 429, timeouts) past the retry budget."""

    def __init__(self, message: str, *, status=None, title=None, errors=None, trace_id=None):
        super().__init__(redact(message))
        self._set_problem(status, title, errors, trace_id)


class ServiceTitanOutcomeUnknown(_ProblemDetails, OutcomeUnknown):
    """A write reached (or may have reached) ServiceTitan but no usable answer came back."""

    def __init__(self, message: str, *, status=None, title=None, errors=None, trace_id=None):
        super().__init__(redact(message))
        self._set_problem(status, title, errors, trace_id)


class ReadOnlyViolation(ConnectorError):
    """The code tried to write something this app must only read (AP bills). Never sent."""


class FeedNotAdvancing(ConnectorError):
    """A list or export feed says it has more but does not move on (the same token or page again).
    Not a ConnectError: ServiceTitan answered, only this feed is unusable, so the other flows run."""

    def __init__(self, message: str):
        super().__init__(redact(message))
