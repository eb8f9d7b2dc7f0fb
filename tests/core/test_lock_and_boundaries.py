import subprocess
import sys

import pytest

from desktop_app.core.instance_lock import AlreadyRunning, InstanceLock


def test_second_lock_in_same_data_dir_is_refused():
    with InstanceLock():
        with pytest.raises(AlreadyRunning, match="already running"):
            InstanceLock().acquire()
    with InstanceLock():  # released: can be taken again
        pass


def test_lock_held_by_another_process(tmp_path):
    code = (
        "import sys, time\n"
        "from desktop_app.core.instance_lock import InstanceLock\n"
        "lock = InstanceLock().acquire()\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(AlreadyRunning, match=str(proc.pid)):
            InstanceLock().acquire()
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
    with InstanceLock():  # the OS released it when the holder exited
        pass


def test_engine_packages_never_import_pyside6():
    code = (
        "import sys\n"
        "import desktop_app.core.config, desktop_app.core.db, desktop_app.core.secrets, desktop_app.core.logs\n"
        "import desktop_app.servicetitan, desktop_app.syspro, desktop_app.sync, desktop_app.sandbox\n"
        "import pkgutil, importlib\n"
        "for pkg in ('desktop_app.core', 'desktop_app.servicetitan', 'desktop_app.syspro', 'desktop_app.sync',\n"
        "            'desktop_app.sandbox'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "import desktop_app.cli\n"
        "bad = [m for m in sys.modules if m.startswith('PySide6') or m.startswith('shiboken')]\n"
        "print(','.join(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_lock_held_on_windows_is_already_running_not_a_permission_error(monkeypatch):
    from tests.core.windows_lock import simulate_held_windows_lock

    simulate_held_windows_lock(monkeypatch)
    with pytest.raises(AlreadyRunning, match="already running.*another process"):
        InstanceLock().acquire()
