"""`invoices` and `records` share their verbs: one implementation, both spellings."""
from __future__ import annotations

import json

import pytest

from desktop_app.cli import main
from desktop_app.core import db
from desktop_app.core.db import ApDocument, SyncLink
from desktop_app.sync import ledger, records


@pytest.fixture
def rows():
    db.open_database()
    doc = ledger.new_document(ledger.READY, "mapped", "ready", actor="test",
                              discovered="ServiceTitan invoice 100 found", doc_key="100:SUP", st_invoice_id=100,
                              st_invoice_number="100", supplier="SUP", syspro_invoice="ST100")
    link = records.new_link("vendors", state=records.HELD, kind="held", message="held", actor="test", st_id=7,
                            label="Acme", origin="servicetitan", reason="needs a look")
    db.close_database()
    yield doc.id, link.id


def output(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_invoices_list_and_records_list_flow_invoices_are_one_verb(rows, capsys):
    doc_id, _ = rows
    code, plain = output(capsys, "invoices", "list", "--json")
    code2, shared = output(capsys, "records", "list", "--flow", "invoices", "--json")
    assert code == code2 == 0
    assert json.loads(plain) == json.loads(shared) and json.loads(plain)[0]["id"] == doc_id


def test_show_prints_the_trail_for_a_document_and_for_a_link_alike(rows, capsys):
    doc_id, link_id = rows
    code, document = output(capsys, "records", "show", "--flow", "invoices", str(doc_id), "--json")
    assert code == 0 and [e["kind"] for e in json.loads(document)["audit"]] == ["discovered", "mapped"]
    code, text = output(capsys, "invoices", "show", str(doc_id))
    assert code == 0 and "Audit trail:" in text and "ServiceTitan invoice 100 found" in text
    code, text = output(capsys, "records", "show", "--flow", "vendors", str(link_id))
    assert code == 0 and "Audit trail:" in text and "needs a look" in text
    assert main(["records", "show", "--flow", "purchase-orders", str(link_id)]) == 2  # another flow's record


def test_replay_needs_ids_or_all_failed_in_every_spelling(rows, capsys):
    for argv in (["replay"], ["invoices", "replay"], ["records", "replay", "--flow", "invoices"],
                 ["records", "replay", "--flow", "vendors"]):
        assert main(argv) == 2, argv
        assert "--all-failed" in capsys.readouterr().err, argv
    db.open_database()
    try:
        assert ApDocument.select().count() == 1 and SyncLink.get().state == records.HELD  # nothing was touched
    finally:
        db.close_database()
