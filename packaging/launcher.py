"""Entry script of the frozen app (PyInstaller runs this as __main__).

Two things only a frozen Windows build needs, done before the app imports anything:
- The windowed exe starts with sys.stdout/sys.stderr set to None, so a CLI command such as
  `ml-connector.exe --version` or `status` would crash on its first print. Attach to the console
  of the shell that started us when there is one, else write into the void.
- A frozen app can end up with keyring's "fail" backend when entry-point metadata is missing.
  STYLE.md: select the Windows Credential Manager backend explicitly. An explicit
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


def _select_keyring_backend() -> None:
    if sys.platform == "win32":
        os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.Windows.WinVaultKeyring")


if __name__ == "__main__":
    _attach_parent_console()
    _select_keyring_backend()
    from desktop_app.cli import main

    sys.exit(main())
