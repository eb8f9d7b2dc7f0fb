"""Entry script of the frozen app (PyInstaller runs this as __main__).

What only the installed (frozen) Windows app needs, done before the app does anything else:
- Hold the named mutex Local\\ml-connector-running for the life of the process: installer.nsi
  (RUNNING_MUTEX) refuses to install or uninstall while any ml-connector process runs from the
  install folder, GUI or CLI alike.
- The windowed exe starts with sys.stdout/sys.stderr set to None, so a CLI command such as
  `ml-connector.exe --version` or `status` would crash on its first print. Attach to the console
  of the shell that started us when there is one, else write into the void.
- A frozen app can end up with keyring's "fail" backend when entry-point metadata is missing,
  so the Windows Credential Manager backend is selected explicitly. An explicit
  PYTHON_KEYRING_BACKEND from the user still wins.
"""
from __future__ import annotations

import os
import sys


def _attach_parent_console() -> None:
    if sys.stdout is not None and sys.stderr is not None:
        return
    streams = None
    if sys.platform == "win32":
        import ctypes

        attach_parent_process = -1
        if ctypes.windll.kernel32.AttachConsole(attach_parent_process):
            try:
                streams = (open("CONOUT$", "w", encoding="utf-8"), open("CONOUT$", "w", encoding="utf-8"))
            except OSError:
                streams = None
    if streams is None:
        devnull = open(os.devnull, "w", encoding="utf-8")
        streams = (devnull, devnull)
    if sys.stdout is None:
        sys.stdout = streams[0]
    if sys.stderr is None:
        sys.stderr = streams[1]


def running_mutex_name() -> str:
    from desktop_app import APP_NAME

    return f"Local\\{APP_NAME}-running"


def _hold_running_mutex() -> int | None:
    if sys.platform != "win32":
        return None
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateMutexW.restype = ctypes.c_void_p
    kernel32.CreateMutexW.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_wchar_p)
    # Not owned, never released: Windows closes the handle when the process ends, crash or not.
    return kernel32.CreateMutexW(None, 0, running_mutex_name())


def _select_keyring_backend() -> None:
    if sys.platform == "win32":
        os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.Windows.WinVaultKeyring")


if __name__ == "__main__":
    # the sync engine's child process starts as this exe too: it must run the child, not the app
    import multiprocessing

    multiprocessing.freeze_support()
    _attach_parent_console()
    _running_mutex = _hold_running_mutex()
    _select_keyring_backend()
    from desktop_app.cli import main

    sys.exit(main())
