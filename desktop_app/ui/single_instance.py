"""One window per data directory: a second launch asks the first to show itself, then exits.

The authority is the engine's file lock (`core.instance_lock`); the local socket only carries
the "show" request. On Windows a named mutex also tells the installer that the app is open.
"""
from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from desktop_app.core import paths

log = logging.getLogger("desktop_app.ui")

SHOW = b"show\n"
RUNNING_MUTEX = "Local\\ml-connector-running"  # installer.nsi checks this name


def server_name() -> str:
    return f"ml-connector-{paths.profile_id()}"


def ask_running_instance_to_show(timeout_ms: int = 2000) -> bool:
    """From the second process (no event loop yet): send "show"; False if nobody listens."""
    socket = QLocalSocket()
    socket.connectToServer(server_name())
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(SHOW)
    ok = socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(timeout_ms)
    return ok


class InstanceServer(QObject):
    """Listens for "show" from later launches of the same profile."""

    showRequested = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)

    def listen(self) -> bool:
        # We hold the instance lock, so a leftover socket file can only be from a crashed run.
        QLocalServer.removeServer(server_name())
        if not self._server.listen(server_name()):
            log.warning("Could not listen for a second launch: %s", self._server.errorString())
            return False
        return True

    def close(self) -> None:
        self._server.close()

    @Slot()
    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(self._on_ready_read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    @Slot()
    def _on_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        data = bytes(socket.readAll().data())
        if data.strip() == SHOW.strip():
            self.showRequested.emit()


class RunningMutex:
    """Windows only: a named mutex the installer looks for (`Local\\ml-connector-running`)."""

    def __init__(self):
        self._handle = None

    def create(self) -> RunningMutex:
        if sys.platform == "win32":
            import ctypes

            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            kernel32.CreateMutexW.restype = ctypes.c_void_p
            kernel32.CreateMutexW.argtypes = (ctypes.c_void_p, ctypes.c_bool, ctypes.c_wchar_p)
            self._handle = kernel32.CreateMutexW(None, False, RUNNING_MUTEX)
        return self

    def release(self) -> None:
        if self._handle and sys.platform == "win32":
            import ctypes

            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            kernel32.CloseHandle.argtypes = (ctypes.c_void_p,)
            kernel32.CloseHandle(self._handle)
        self._handle = None
