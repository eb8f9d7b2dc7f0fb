"""Test connection for SYSPRO: log on to e.net, run one harmless query, read OData, log off."""
from __future__ import annotations

import logging

from desktop_app.core.errors import ConfigError, ConnectionResult, ConnectorError
from desktop_app.core.redact import redact
from desktop_app.syspro import contract
from desktop_app.syspro.enet import EnetClient
from desktop_app.syspro.odata import ODataReader
from desktop_app.syspro.queries import comfnd

log = logging.getLogger(__name__)


def check_connection(settings, *, http=None) -> ConnectionResult:
    """What works and what does not, in sentences; ok only when e.net and (if set) OData both work.

    A reachable OData service whose entity sets lack a column a flow needs is a configuration
    problem (`configuration_only`, exit 2 for the CLI), reported with the optional columns it lacks.
    """
    details: list[str] = []
    problems: list[str] = []
    notes: list[str] = []  # worth knowing, not a failure: optional columns a site lacks
    unreachable = False

    try:
        client = EnetClient.from_settings(settings, session=http)
        with client.session() as session:
            rows = comfnd(session, "ApSupplier", ["Supplier"], return_rows=1)
            details.append(f"e.net: logged on to company {client.company_id!r} as operator {client.operator!r}; "
                           f"supplier table readable ({len(rows)} row{'s' if len(rows) != 1 else ''} returned).")
        details.append("e.net: logged off.")
    except (ConnectorError, RuntimeError) as exc:  # RuntimeError: the keyring cannot be read
        problems.append(f"e.net: {redact(exc)}")
        unreachable = unreachable or not isinstance(exc, ConfigError)

    if settings.get("syspro.odata_url"):
        try:
            with ODataReader.from_settings(settings, session=http) as odata:
                present = set(odata.metadata())
                wanted = {default: odata.entity(default) for default in contract.ODATA_ENTITIES}
                found = [name for name in wanted.values() if name in present]
                missing = [f"{name}" + (f" (for {default})" if name != default else "")
                           for default, name in wanted.items() if name not in present]
                details.append(f"OData: {len(present)} entity sets listed; found {', '.join(found) or 'none'}.")
                if missing:
                    problems.append(f"OData: entity sets not found: {', '.join(missing)}. If this SYSPRO names them "
                                    "differently, set syspro.odata_entities (e.g. ApInvoice=ApInvoices).")
                lacking_required = False
                for default, name in wanted.items():
                    if name not in present:
                        continue
                    required, optional = odata.missing_columns(default)
                    shown = name if name == default else f"{name} (for {default})"
                    notes.extend(f"OData: {shown} lacks optional column {column} (read as empty)."
                                 for column in optional)
                    problems.extend(f"OData: {shown} lacks required column {column}: "
                                    f"{contract.ODATA_USED_BY[default]} cannot run." for column in required)
                    lacking_required = lacking_required or bool(required)
                if lacking_required:
                    problems.append("Ask the SYSPRO administrator to expose those columns to OData; if this SYSPRO "
                                    "names an entity set differently, set syspro.odata_entities.")
                invoice_columns = ["Supplier", "Invoice"]
                if wanted["ApInvoice"] in present and not odata.missing_columns("ApInvoice")[0]:
                    sample = list(odata.rows("ApInvoice", select=invoice_columns, limit=1))
                    details.append(f"OData: read {len(sample)} AP invoice row{'s' if len(sample) != 1 else ''}.")
        except (ConnectorError, RuntimeError) as exc:
            problems.append(f"OData: {redact(exc)}")
            unreachable = unreachable or not isinstance(exc, ConfigError)
    else:
        details.append("OData: not configured (syspro.odata_url); AP look-ups use e.net COMFND instead.")

    if problems:
        return ConnectionResult("SYSPRO", False, " ".join(problems + notes), details + problems + notes,
                                configuration_only=not unreachable)
    return ConnectionResult("SYSPRO", True, " ".join(["SYSPRO e.net" + (" and OData" if settings.get("syspro.odata_url")
                                                                       else "") + " connection works.", *notes]),
                            details + notes)
