"""Where ml-connector keeps its files: one data directory per profile.

`ML_CONNECTOR_HOME` selects the data directory (tests, demo, support); otherwise the per-user
data directory of the platform. Everything the app writes lives below it, created on first use
with user-only permissions because the database holds supplier and invoice data.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import platformdirs

from desktop_app import APP_NAME

ENV_HOME = "ML_CONNECTOR_HOME"


def _ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path, 0o700)
    return path


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, roaming=False))


def data_dir() -> Path:
    configured = os.environ.get(ENV_HOME)
    base = Path(configured).expanduser() if configured else default_data_dir()
    return _ensure_private_dir(base.resolve())


def profile_id() -> str:
    """Short stable name of this data directory, used to keep keyring entries of profiles apart."""
    home = data_dir()
    if home == default_data_dir().resolve():
        return "default"
    return "p" + hashlib.sha256(str(home).encode("utf-8")).hexdigest()[:12]


def db_path() -> Path:
    return data_dir() / "ml-connector.sqlite3"


def log_dir() -> Path:
    return _ensure_private_dir(data_dir() / "logs")


def backups_dir() -> Path:
    return _ensure_private_dir(data_dir() / "backups")


def lock_path() -> Path:
    return data_dir() / "ml-connector.lock"


def exports_dir() -> Path:
    return _ensure_private_dir(data_dir() / "exports")


def resource_root() -> Path:
    """`resources/` in the source tree, or inside a frozen PyInstaller bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def resource_path(*parts: str) -> Path:
    return resource_root().joinpath(*parts)
