import hashlib
import sqlite3
from decimal import Decimal

import peewee as pw
import pytest

from desktop_app.core import db, migrations, models, paths


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fresh_database_is_migrated_and_marked(tmp_path):
    database = db.open_database()
    version = database.execute_sql("SELECT version FROM schema_version").fetchone()[0]
    assert version == migrations.latest_version()
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute_sql("PRAGMA application_id").fetchone()[0] == migrations.APP_ID


def test_migrates_from_each_older_version_with_backup(monkeypatch):
    path = paths.db_path()
    added = []

    def add_column(database):
        database.execute_sql("ALTER TABLE sync_cursor ADD COLUMN note TEXT DEFAULT ''")
        added.append(True)

    original = list(migrations.MIGRATIONS)
    # build a database at every older version, then open it with a newer code base
    for start in range(1, len(original) + 1):
        db.close_database()
        if path.exists():
            path.unlink()
        monkeypatch.setattr(migrations, "MIGRATIONS", original[:start])
        db.open_database()
        models.SyncCursor.create(name="invoices", value="tok")
        db.close_database()
        monkeypatch.setattr(migrations, "MIGRATIONS", original[:start] + [add_column])
        before = set(paths.backups_dir().iterdir())
        database = db.open_database()
        assert database.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()[0] == start + 1
        assert database.execute_sql("SELECT value, note FROM sync_cursor").fetchone() == ("tok", "")
        new_backups = set(paths.backups_dir().iterdir()) - before
        assert len(new_backups) == 1
        backup = sqlite3.connect(next(iter(new_backups)))
        assert backup.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == start
        backup.close()
    assert added


def test_failed_migration_rolls_back(monkeypatch):
    db.open_database()
    db.close_database()

    def broken(database):
        database.execute_sql("CREATE TABLE half_done (x INTEGER)")
        raise pw.OperationalError("disk I/O error")

    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + [broken])
    with pytest.raises(db.DatabaseError):
        db.open_database()
    conn = sqlite3.connect(paths.db_path())
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == len(migrations.MIGRATIONS) - 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='half_done'").fetchone() is None
    conn.close()


def test_newer_schema_is_refused_untouched(monkeypatch):
    db.open_database()
    models.database.execute_sql("INSERT INTO schema_version (version) VALUES (99)")
    db.close_database()
    before = _digest(paths.db_path())
    with pytest.raises(db.DatabaseError, match="newer ml-connector"):
        db.open_database()
    assert _digest(paths.db_path()) == before


def test_corrupt_file_is_refused_untouched():
    path = paths.db_path()
    path.write_bytes(b"SQLite format 3\x00" + b"\xde\xad\xbe\xef" * 2000)
    before = _digest(path)
    with pytest.raises(db.DatabaseError) as info:
        db.open_database()
    assert "left untouched" in str(info.value)
    assert _digest(path) == before


def test_foreign_sqlite_file_is_refused_untouched():
    path = paths.db_path()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(db.DatabaseError, match="another program"):
        db.open_database()
    assert _digest(path) == before


def test_audit_events_are_append_only():
    db.open_database()
    event = models.AuditEvent.create(record_key="1:SUP", kind="discovered", message="found")
    with pytest.raises(pw.IntegrityError):
        models.AuditEvent.update(message="changed").where(models.AuditEvent.id == event.id).execute()
    with pytest.raises(pw.IntegrityError):
        models.AuditEvent.delete().where(models.AuditEvent.id == event.id).execute()
    assert models.AuditEvent.get_by_id(event.id).message == "found"


def test_money_is_exact_decimal_and_refuses_float():
    db.open_database()
    doc = models.ApDocument.create(doc_key="1:A", st_invoice_id=1, state="READY",
                                   amount=Decimal("0.10") + Decimal("0.20"))
    assert models.ApDocument.get_by_id(doc.id).amount == Decimal("0.30")
    with pytest.raises(TypeError, match="Decimal"):
        models.ApDocument.create(doc_key="1:B", st_invoice_id=1, state="READY", amount=0.3)


def test_data_dir_is_private(data_home):
    db.open_database()
    assert paths.data_dir() == data_home.resolve()
    assert oct(data_home.stat().st_mode & 0o777) == "0o700"


def test_migration_3_indexes_ap_invoice_numbers_per_supplier():
    database = db.open_database()
    try:
        plan = " ".join(str(row) for row in database.execute_sql(
            f"EXPLAIN QUERY PLAN SELECT id FROM {models.ApDocument._meta.table_name} "
            "WHERE supplier = ? AND syspro_invoice = ?",
            ("SUP", "ST1")).fetchall())
        assert "apdocument_supplier_syspro_invoice" in plan
    finally:
        db.close_database()


def _index_names(database) -> set[str]:
    return {row[0] for row in database.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_indexes_no_query_uses_are_dropped_and_the_pages_filters_keep_theirs(monkeypatch):
    """A ledger from before version 4 loses them; a new one never has them."""
    assert not _index_names(db.open_database()) & set(migrations.UNUSED_INDEXES)
    db.close_database()
    paths.db_path().unlink()
    with monkeypatch.context() as version_3:
        version_3.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])
        database = db.open_database()
        for name in migrations.UNUSED_INDEXES:  # as the models of earlier releases made them
            table, column = name.rsplit("_", 2)[0], "_".join(name.rsplit("_", 2)[1:])
            database.execute_sql(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')
        db.close_database()
    database = db.open_database()
    assert database.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()[0] == migrations.latest_version()
    assert not _index_names(database) & set(migrations.UNUSED_INDEXES)
    assert {"ap_document_state", "apdocument_supplier_syspro_invoice", "audit_event_document_id"} <= \
        _index_names(database)

    def plan(sql: str) -> str:
        return str(database.execute_sql(f"EXPLAIN QUERY PLAN {sql}", ("x",)).fetchall())
    for column in ("state", "supplier", "st_invoice_number", "branch", "invoice_date"):  # the Invoices page's
        assert "USING" in plan(f"SELECT id FROM ap_document WHERE {column} = ? ORDER BY {column} LIMIT 200"), column


def release_5_ledger(monkeypatch, state: str) -> None:
    """A database as release 5 left it (schema version 5: no credit or left-out columns), holding one
    AP document '1:A' in `state`."""
    table = models.ApDocument._meta.table_name
    with monkeypatch.context() as version_5:
        version_5.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:5])
        database = db.open_database()
        database.execute_sql(f'DROP INDEX IF EXISTS "{table}_credit_of"')
        for column in ("credit_of", "credit_against", "left_out"):
            database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        database.execute_sql(f'INSERT INTO "{table}" (doc_key, st_invoice_id, st_invoice_number, state, supplier, '
                             "syspro_invoice, transaction_code, amount, branch, business_unit, technician, job_number, "
                             "lines, missing, reason, content_hash, source_modified_on, journal, attempts, write_back, "
                             f"created_at, updated_at) VALUES ('1:A', 1, '1', ?, 'A', 'ST1', 'I', '5.00', '', '', "
                             "'', '', '[]', '[]', '', '', '', '', 1, '', '2026-01-01', '2026-01-01')", (state,))
        db.close_database()


def test_a_ledger_from_before_left_out_gains_the_column_empty(monkeypatch):
    release_5_ledger(monkeypatch, "READY")
    db.open_database()
    assert models.ApDocument.get(models.ApDocument.doc_key == "1:A").left_out == []
    version = models.database.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert version == migrations.latest_version()


def test_migration_6_adds_the_credit_columns_to_a_ledger_that_has_none(monkeypatch):
    table = models.ApDocument._meta.table_name
    release_5_ledger(monkeypatch, "POSTED")
    database = db.open_database()
    try:
        version = database.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()[0]
        assert version == migrations.latest_version()
        doc = models.ApDocument.get(models.ApDocument.doc_key == "1:A")
        assert (doc.credit_of, doc.credit_against) == (None, "")
        assert f"{table}_credit_of" in _index_names(database)
    finally:
        db.close_database()


def test_a_first_start_whose_migration_fails_midway_is_finished_by_the_next_start(monkeypatch):
    original = list(migrations.MIGRATIONS)

    def broken(database):
        database.execute_sql("CREATE TABLE half_done (x INTEGER)")
        raise pw.OperationalError("disk I/O error")

    monkeypatch.setattr(migrations, "MIGRATIONS", original[:3] + [broken] + original[3:])
    with pytest.raises(db.DatabaseError, match="schema 4 failed.*at schema 3; the next start tries again"):
        db.open_database()
    assert models.database.is_closed()
    monkeypatch.setattr(migrations, "MIGRATIONS", original)
    database = db.open_database()  # not "a SQLite database of another program"
    assert database.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()[0] == len(original)
    assert database.execute_sql("PRAGMA application_id").fetchone()[0] == migrations.APP_ID
    models.SyncCursor.create(name="invoices", value="tok")


def test_a_first_start_stopped_before_the_mark_by_an_older_version_is_still_ours():
    path = paths.db_path()
    db.open_database()
    db.close_database()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 0")  # what a first start killed midway left before
    conn.execute("DELETE FROM schema_version")
    conn.execute("INSERT INTO schema_version (version) VALUES (2)")
    conn.commit()
    conn.close()
    database = db.open_database()
    assert database.execute_sql("PRAGMA application_id").fetchone()[0] == migrations.APP_ID
    assert database.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()[0] == migrations.latest_version()


def test_an_upgrade_stopped_midway_is_reported_with_its_backup_at_the_next_start(monkeypatch, caplog):
    path = paths.db_path()
    db.open_database()
    db.close_database()

    def killed(database):
        raise KeyboardInterrupt  # stands for the process being killed inside the step

    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + [killed])
    with pytest.raises(KeyboardInterrupt):
        db.open_database()
    db.close_database()
    copies = list(paths.backups_dir().iterdir())
    assert len(copies) == 1, "a copy is made before an existing database is upgraded"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:-1] + [lambda database: None])
    with caplog.at_level("WARNING", logger="desktop_app.db"):
        db.open_database()
    for text in (caplog.text, db.upgrade_notice):
        assert "stopped while it upgraded the database" in text
        assert f"it is at schema {len(migrations.MIGRATIONS) - 1}" in text
        assert str(copies[0]) in text and f"copy it over {path}" in text
    caplog.clear()
    db.close_database()
    with caplog.at_level("WARNING", logger="desktop_app.db"):
        db.open_database()
    assert "stopped while" not in caplog.text, "said once, after the upgrade completed"
    assert db.upgrade_notice is None


def test_the_cli_says_an_upgrade_was_interrupted(monkeypatch, capsys):
    from desktop_app.cli import main

    db.open_database()
    db.close_database()

    def killed(database):
        raise KeyboardInterrupt

    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + [killed])
    with pytest.raises(KeyboardInterrupt):
        db.open_database()
    db.close_database()
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:-1] + [lambda database: None])
    assert main(["status"]) == 0
    err = capsys.readouterr().err
    assert "stopped while it upgraded the database" in err and "copy it over" in err


def test_a_failed_upgrade_of_an_existing_database_names_its_backup(monkeypatch):
    db.open_database()
    db.close_database()

    def broken(database):
        raise pw.IntegrityError("UNIQUE constraint failed")

    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + [broken])
    with pytest.raises(db.DatabaseError) as info:
        db.open_database()
    (copy,) = paths.backups_dir().iterdir()
    assert str(copy) in str(info.value) and "copy it over" in str(info.value)


def test_a_data_folder_with_hash_and_percent_works(tmp_path, monkeypatch):
    home = tmp_path / "user a#b%c ?d"
    monkeypatch.setenv("ML_CONNECTOR_HOME", str(home))
    db.close_database()
    path = paths.db_path()
    assert "#" in str(path) and "%" in str(path)
    db.open_database()
    models.SyncCursor.create(name="invoices", value="tok")
    db.close_database()
    db._check_file(path)  # the read-only check opens the real file (not "a#b" or a new empty one)
    database = db.open_database()
    assert models.SyncCursor.get_by_id("invoices").value == "tok"
    assert database.execute_sql("PRAGMA application_id").fetchone()[0] == migrations.APP_ID
    assert sorted(p.name for p in home.iterdir() if p.name.startswith("ml-connector.sqlite3")
                  and not p.name.endswith(("-wal", "-shm"))) == ["ml-connector.sqlite3"]
    # a foreign file in such a folder is still recognised (the check read it, not an empty stand-in)
    db.close_database()
    other = home / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(db.DatabaseError, match="another program"):
        db._check_file(other)


def test_own_tables_are_the_tables_a_new_database_has(tmp_path):
    """A file is recognised as ours by its tables: the list must name every table the models make."""
    db.open_database(tmp_path / "new.db")
    try:
        made = set(models.database.get_tables())
    finally:
        db.close_database()
    assert made <= db.OWN_TABLES
    assert db.OWN_TABLES - made <= {"sqlite_sequence", "sqlite_stat1", "sqlite_stat4"}
