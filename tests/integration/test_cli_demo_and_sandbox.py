"""The newcomer's commands, run as a person would: `demo --headless` and `sandbox serve`."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys


def test_demo_headless_on_a_fresh_machine_without_a_keyring(tmp_path):
    # a fresh headless box has no usable OS keyring: the demo (and only the demo) uses its own file
    env = dict(os.environ, ML_CONNECTOR_HOME=str(tmp_path / "demo"),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = subprocess.run([sys.executable, "-m", "desktop_app", "demo", "--headless", "--invoices", "60"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    posted = int(re.search(r"posted to SYSPRO: (\d+)", result.stdout).group(1))
    needs = int(re.search(r"Need mapping: (\d+)", result.stdout).group(1))
    failed = int(re.search(r"Failed: (\d+)", result.stdout).group(1))
    assert posted > 10 and needs > 0 and failed == 0
    # the demo SYSPRO's old suppliers are more than one cycle creates by itself: they wait for a person
    assert "25 suppliers from SYSPRO wait for your approval before they are created in ServiceTitan" in result.stdout
    secret_file = tmp_path / "demo" / "demo-keyring.json"
    assert secret_file.exists()
    # the throwaway secrets are in that one file only, never in the database or the log
    secret_values = [v for v in __import__("json").loads(secret_file.read_text()).values() if len(v) > 8]
    for path in (tmp_path / "demo").rglob("*"):
        if path.is_file() and path != secret_file:
            data = path.read_bytes()
            assert not any(value.encode() in data for value in secret_values), path


def test_a_real_profile_never_falls_back_to_the_demo_keyring(tmp_path):
    env = dict(os.environ, ML_CONNECTOR_HOME=str(tmp_path / "real"),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = subprocess.run([sys.executable, "-m", "desktop_app", "secrets", "set", "syspro.operator_password"],
                            input="pw12345\n", env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "keyring" in result.stderr
    assert not (tmp_path / "real" / "demo-keyring.json").exists()


def two_free_ports() -> tuple[int, int]:
    with socket.socket() as first, socket.socket() as second:  # both held: never the same port twice
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        return first.getsockname()[1], second.getsockname()[1]


def test_sandbox_serve_on_chosen_ports_stops_by_itself():
    # A port free a moment ago can be taken by another program's connection before the child binds
    # it (the child then says so, as it must): choose again, a few times at most.
    for _attempt in range(3):
        st_port, syspro_port = two_free_ports()
        result = subprocess.run([sys.executable, "-m", "desktop_app", "sandbox", "serve", "--st-port", str(st_port),
                                 "--syspro-port", str(syspro_port), "--minutes", "0.05",
                                 "--faults", "st.http_500=1,syspro.slow=0.01"],
                                capture_output=True, text=True, timeout=60)
        if "is in use by another program" not in result.stderr:
            break
    assert result.returncode == 0, result.stderr
    assert f"http://127.0.0.1:{st_port}" in result.stdout
    assert f"http://127.0.0.1:{syspro_port}/SYSPROWCFService/Rest" in result.stdout


def test_sandbox_serve_rejects_a_bad_fault_spec():
    result = subprocess.run([sys.executable, "-m", "desktop_app", "sandbox", "serve", "--faults", "st.nonsense=1",
                             "--minutes", "0.05"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "nonsense" in result.stderr and "Traceback" not in result.stderr


def test_sandbox_serve_can_leave_columns_out_of_odata_and_rejects_unknown_ones():
    result = subprocess.run([sys.executable, "-m", "desktop_app", "sandbox", "serve", "--minutes", "0.02",
                             "--odata-drop", "ApSupplier.Email"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "(without ApSupplier.Email)" in result.stdout
    result = subprocess.run([sys.executable, "-m", "desktop_app", "sandbox", "serve", "--minutes", "0.02",
                             "--odata-drop", "ApSupplier.Nope"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "ApSupplier.Nope" in result.stderr and "Traceback" not in result.stderr
