"""The database under stress: locked by another program, disk full, restored from a backup."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections import Counter

import pytest

from desktop_app.core import db, migrations, models, paths
from desktop_app.sync import ledger
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import run_cycle


def cycle():
    ctx = SyncContext.from_database(actor="test")
    try:
        return run_cycle(ctx)
    finally:
        ctx.close()


def test_database_locked_by_another_process_is_a_clear_error(monkeypatch):
    db.open_database()
    db.close_database()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('BEGIN EXCLUSIVE'); "
         "print('locked', flush=True); sys.stdin.readline()", str(paths.db_path())],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 300)
        monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + [lambda d: d.execute_sql("SELECT 1")])
        with pytest.raises(db.DatabaseError, match="locked by another program"):
            db.open_database()
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()


def test_disk_full_mid_cycle_loses_nothing_and_next_cycle_completes(sandbox):
    database = models.database
    pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
    database.execute_sql(f"PRAGMA max_page_count = {pages + 3}")  # room for a few pages only
    result = cycle()
    assert "disk holding the data folder" in result.errors["invoices"]
    assert "nothing was lost" in result.errors["invoices"]
    # every transaction that failed was rolled back: no half-written page, no document left POSTING
    assert ledger.counts()[ledger.POSTING] == 0
    database.execute_sql("PRAGMA max_page_count = 1073741823")  # space freed
    cycle()
    counts = ledger.counts()
    assert counts[ledger.CONFIRMED] > 20 and counts[ledger.POSTING] == 0
    keys = Counter((r["Supplier"], r["Invoice"]) for r in sandbox.company.syspro.ap_invoices)
    assert max(keys.values()) == 1
    ids = {row.st_invoice_id for row in models.SourceInvoice.select()}
    assert set(sandbox.company.st.invoices) == ids


def test_backup_taken_before_a_migration_restores_a_working_database(monkeypatch):
    db.open_database()
    models.SyncCursor.create(name="invoices.export", value="token-1")
    db.close_database()
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + [
        lambda d: d.execute_sql("ALTER TABLE sync_cursor ADD COLUMN extra TEXT")])
    db.open_database()
    db.close_database()
    backup = sorted(paths.backups_dir().iterdir())[-1]
    # the user restores the backup (e.g. the new version misbehaved) and goes back to the old version
    shutil.copyfile(backup, paths.db_path())
    for suffix in ("-wal", "-shm"):
        extra = paths.db_path().with_name(paths.db_path().name + suffix)
        if extra.exists():
            extra.unlink()
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:-1])
    db.open_database()
    assert models.SyncCursor.get().value == "token-1"
    db.close_database()
    conn = sqlite3.connect(paths.db_path())
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
