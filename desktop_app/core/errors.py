"""Exceptions shared by every part of the engine, and the CLI exit code each one means.

Messages are sentences for an accountant: what went wrong, where, and what to do. They never
carry a secret; `redact` is applied when they are built from server answers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_RECORDS_NEED_ATTENTION = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3


class ConnectorError(Exception):
    """Base class: a problem the user can understand and act on."""

    exit_code = EXIT_USAGE


class ConfigError(ConnectorError):
    """A setting, secret or mapping is missing or wrong."""

    exit_code = EXIT_USAGE


class DatabaseError(ConfigError):
    """The database file cannot be used; the message says why and what to do."""


class ConnectError(ConnectorError):
    """Could not reach or authenticate with ServiceTitan or SYSPRO."""

    exit_code = EXIT_CONNECT


class AuthenticationError(ConnectError):
    """Credentials were refused."""


class OutcomeUnknown(ConnectorError):
    """A write was sent but no answer came back: it may or may not have been applied.

    The caller must look the record up before sending it again.
    """

    exit_code = EXIT_RECORDS_NEED_ATTENTION


@dataclass
class ConnectionResult:
    """What `test-connection` found for one system."""

    system: str  # "ServiceTitan" | "SYSPRO"
    ok: bool
    message: str
    details: list[str] = field(default_factory=list)
    # not ok, yet everything answered: what failed is the set-up (a setting, a column the site
    # lacks), which `test-connection` reports with exit 2 rather than 3
    configuration_only: bool = False
