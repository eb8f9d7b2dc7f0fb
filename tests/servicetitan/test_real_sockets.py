"""Against real sockets on 127.0.0.1: the 'surely not sent' test must recognise what urllib3 really
raises, and the benchmark must run and stop by itself."""
from __future__ import annotations

import importlib.util
import socket
import threading
from pathlib import Path

import pytest
import requests

from desktop_app.core.http import never_sent as _surely_not_sent


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_is_surely_not_sent():
    with requests.Session() as session, pytest.raises(requests.RequestException) as info:
        session.post(f"http://127.0.0.1:{_closed_port()}/x", data=b"{}", timeout=(2, 2))
    assert _surely_not_sent(info.value)


def test_read_timeout_after_sending_is_not_surely_not_sent():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []

    def accept():
        conn, _ = listener.accept()
        accepted.append(conn)  # read nothing, answer nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        with requests.Session() as session, pytest.raises(requests.ReadTimeout) as info:
            session.post(f"http://127.0.0.1:{listener.getsockname()[1]}/x", data=b"{}", timeout=(2, 0.3))
        assert not _surely_not_sent(info.value)
    finally:
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()


def test_benchmark_runs_and_reports(capsys):
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "st_ratelimit.py"
    spec = importlib.util.spec_from_file_location("st_ratelimit_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--seconds", "1", "--threads", "2", "--step", "30"]) == 0
    out = capsys.readouterr().out
    assert "achieved requests/s" in out and "429s caused" in out
    assert "token requests:            3" in out
