"""SIGKILL the sync process at random moments; after restarts nothing is lost or posted twice."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from desktop_app.core import db
from desktop_app.sandbox.runner import Sandbox
from desktop_app.sync import ledger

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")


def run_sync(env, kill_after: float | None):
    proc = subprocess.Popen([sys.executable, "-m", "desktop_app", "sync", "--once", "--flow", "invoices"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if kill_after is None:
        _, err = proc.communicate(timeout=300)
        return proc.returncode, err
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    proc.stderr.close()
    return proc.returncode, ""


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 23, 42])
def test_random_kills_lose_nothing_and_post_nothing_twice(seed, tmp_path, data_home, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    keyring.set_keyring(PlaintextKeyring())
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring")
    rng = random.Random(seed)
    db.open_database()
    box = Sandbox(seed=seed, invoices=150, max_lifetime_s=600).start()
    try:
        box.configure_profile()
        db.close_database()
        box.syspro.set_faults({"slow": 0.01})  # widen the posting window so kills land mid-post
        kills = 0
        for _ in range(6):
            box.company.st.advance(25)  # new work arrives before every run
            code, _ = run_sync(env, kill_after=rng.uniform(0.5, 2.5))
            kills += code == -signal.SIGKILL
        box.syspro.set_faults({})
        code, err = run_sync(env, kill_after=None)  # one run to completion
        assert code in (0, 1), err
        db.open_database()
        counts = ledger.counts()
        posted = Counter((r["Supplier"], r["Invoice"]) for r in box.company.syspro.ap_invoices)
        duplicates = [key for key, n in posted.items() if n > 1]
        known = {row.st_invoice_id for row in db.SourceInvoice.select()}
        lost = set(box.company.st.invoices) - known
        stuck = [d.id for d in db.ApDocument.select().where(
            db.ApDocument.state.in_([ledger.POSTING, ledger.DISCOVERED, ledger.READY]))]
        in_ledger = {(d.supplier, d.syspro_invoice) for d in db.ApDocument.select()
                     .where(db.ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED]))}
        assert kills >= 2, "too few runs were killed: the test proved nothing"
        assert duplicates == [] and lost == set() and stuck == []
        assert set(posted) == in_ledger, "SYSPRO and the ledger disagree about what was posted"
        assert counts[ledger.CONFIRMED] + counts[ledger.POSTED] > 50
    finally:
        box.stop()
        db.close_database()
