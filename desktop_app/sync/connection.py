"""Test connection for the wizard, the Settings page and `ml-connector test-connection`."""
from __future__ import annotations

from desktop_app.core.config import Settings
from desktop_app.core.errors import ConfigError, ConnectionResult, ConnectorError
from desktop_app.core.redact import redact


def test_servicetitan(settings: Settings) -> ConnectionResult:
    from desktop_app.servicetitan.client import ServiceTitanClient
    from desktop_app.servicetitan.connection import check_connection

    try:
        client = ServiceTitanClient.from_settings(settings)
    except ConnectorError as exc:
        return ConnectionResult("ServiceTitan", False, redact(str(exc)),
                                configuration_only=isinstance(exc, ConfigError))
    try:
        return check_connection(client)
    finally:
        client.close()


def test_syspro(settings: Settings) -> ConnectionResult:
    """Log on as the sync's operator - only while no cycle runs, as that logon would end the
    cycle's session (it waits `syspro.test_connection_wait_s` for one to finish)."""
    from desktop_app.core import cycle_lock
    from desktop_app.syspro.connection import check_connection

    try:
        with cycle_lock.held(wait_s=settings["syspro.test_connection_wait_s"], purpose="a SYSPRO connection test"):
            return check_connection(settings)
    except ConnectorError as exc:
        return ConnectionResult("SYSPRO", False, redact(str(exc)), configuration_only=isinstance(exc, ConfigError))


def test_connections(settings: Settings, *, servicetitan: bool = True, syspro: bool = True) -> list[ConnectionResult]:
    results = []
    if servicetitan:
        results.append(test_servicetitan(settings))
    if syspro:
        results.append(test_syspro(settings))
    return results
