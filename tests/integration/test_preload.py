"""sync.cycle.preload imports everything a cycle would import on first use (the GUI's worker calls it
before its first job, so a first sync does not import ~100 modules while the user watches)."""
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys, threading
    from desktop_app.sandbox.runner import Sandbox
    from desktop_app.core import db
    from desktop_app.sync import cycle
    from desktop_app.sync.context import SyncContext

    if sys.argv[1] == "preload":
        cycle.preload()
    db.open_database()
    box = Sandbox(seed=7, invoices=30, max_lifetime_s=120).start()
    box.configure_profile(mappings=True)

    late = []
    class Recorder:
        def find_spec(self, name, path=None, target=None):
            if threading.current_thread() is threading.main_thread():
                late.append(name)
            return None
    sys.meta_path.insert(0, Recorder())
    result = cycle.run_cycle(SyncContext.from_database(actor="test"))
    sys.meta_path.pop(0)
    box.stop()
    assert not result.errors, result.errors
    print(" ".join(late))
""")


def run(mode, tmp_path):
    env_home = tmp_path / mode
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "ML_CONNECTOR_HOME": str(env_home),
                                 "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                                 "XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.slow
def test_after_preload_a_cycle_imports_nothing_new(tmp_path):
    without = run("cold", tmp_path)
    assert "desktop_app.syspro.enet" in without and "requests" in without  # what preload is for
    assert run("preload", tmp_path) == []
