"""Link helpers without servers, and the schema step that adds the link tables."""
from __future__ import annotations

from decimal import Decimal

import peewee as pw

from desktop_app.core import db, migrations, models, paths
from desktop_app.sync import links
from desktop_app.sync.vendors import derive_code, st_view


def test_supplier_codes_are_short_upper_case_and_unique():
    assert derive_code("Lone Star Copper & Tube, LLC", set()) == "LONESTARCOPPERT"
    assert derive_code("Lone Star Copper & Tube", {"LONESTARCOPPERT"}) == "LONESTARCOPPER2"
    assert derive_code("Müller HVAC", set()) == "MULLERHVAC"
    assert derive_code("& — ()", set()) is None


def test_views_compare_what_both_systems_can_hold():
    raw = {"name": "Nguyễn Supply " + "x" * 60, "active": True, "address": {"street": " 1 Elm St "},
           "contactInfo": {"phone": None}}
    view = st_view(raw)
    assert view["name"].startswith("Nguy?n Supply") and len(view["name"]) <= 50
    assert view["street"] == "1 Elm St" and view["phone"] == ""
    assert links.number(Decimal("5.000")) == links.number("5") == "5"
    assert links.changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ["b"]


def test_the_conflict_winner_is_a_decision_then_the_policy():
    class L:
        data = None

    assert links.winner_for(L(), {"sync.conflict_policy": "ask"}) is None
    assert links.winner_for(L(), {"sync.conflict_policy": "syspro"}) == "syspro"
    assert links.winner_for(L(), {"sync.conflict_policy": "newer"}) is None  # SYSPRO has no change time
    assert links.winner_for(L(), {"sync.conflict_policy": "newer"}, st_time=2, syspro_time=1) == "servicetitan"
    decided = L()
    decided.data = {"winner": "servicetitan"}
    assert links.winner_for(decided, {"sync.conflict_policy": "syspro"}) == "servicetitan"
    assert links.application_guid({"servicetitan.application_guid": ""}) == links.DEFAULT_APPLICATION_GUID


def test_a_version_1_database_with_data_migrates_to_the_link_tables(monkeypatch):
    every = list(migrations.MIGRATIONS)
    step = every.index(migrations._migration_2)
    monkeypatch.setattr(migrations, "MIGRATIONS", every[:step])
    db.open_database()
    models.VendorMapping.create(st_vendor_id=5, syspro_supplier="ACME")
    models.SyncCursor.create(name="invoices.export", value="tok")
    db.close_database()
    monkeypatch.setattr(migrations, "MIGRATIONS", every)
    database = db.open_database()
    try:
        version = database.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()[0]
        assert version == migrations.latest_version() > step
        assert models.VendorMapping.get().syspro_supplier == "ACME" and models.SyncCursor.get().value == "tok"
        link = models.SyncLink.create(flow="vendors", st_id=5, syspro_key="ACME", state="SYNCED")
        models.WorklistRow.create(movement_key="1/1/DAL/X/2026-01-01", warehouse="DAL", stock_code="X",
                              quantity=Decimal("-2.5"))
        assert models.WorklistRow.get().quantity == Decimal("-2.5")
        try:
            models.SyncLink.create(flow="vendors", st_id=5, syspro_key="OTHER", state="HELD")
            raise AssertionError("a ServiceTitan record is linked once per flow")
        except pw.IntegrityError:
            pass
        # several ServiceTitan vendors may share one SYSPRO supplier (a primary and its aliases)
        assert models.SyncLink.create(flow="vendors", st_id=6, syspro_key="ACME", state="SYNCED").id
        assert link.id and any(paths.backups_dir().iterdir())
    finally:
        db.close_database()


def test_the_shared_supplier_migration_lifts_the_one_link_per_syspro_key_rule():
    database = db.open_database()
    try:
        table = models.SyncLink._meta.table_name
        # the index as the schema before the migration had it
        database.execute_sql("DROP INDEX IF EXISTS sync_link_flow_syspro_key")
        database.execute_sql(f"CREATE UNIQUE INDEX sync_link_flow_syspro_key ON {table} (flow, syspro_key)")
        models.SyncLink.create(flow="vendors", st_id=1, syspro_key="FERGUS", state="SYNCED")
        try:
            with database.atomic():
                models.SyncLink.create(flow="vendors", st_id=2, syspro_key="FERGUS", state="SYNCED")
            raise AssertionError("the old index refuses a shared supplier")
        except pw.IntegrityError:
            pass
        with database.atomic():
            migrations._migration_7(database)
        assert models.SyncLink.create(flow="vendors", st_id=2, syspro_key="FERGUS", state="SYNCED").id
        assert models.SyncLink.select().where(models.SyncLink.syspro_key == "FERGUS").count() == 2
    finally:
        db.close_database()
