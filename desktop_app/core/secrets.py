"""Credentials live only in the OS keyring, under one service name.

Entries are keyed per profile (see `paths.profile_id`) so that the demo profile or a test data
directory can never overwrite a real profile's passwords. When the machine has no usable keyring
we refuse with instructions instead of silently writing plaintext; only the demo profile may use
its own file backend inside its data directory (docs/architecture.md §5).

Keyrings that keep nothing (keyring's `null` backend) or keep passwords in a readable file
(keyrings.alt's plaintext backends), and any backend with priority <= 0 (keyring's own mark for
"do not choose this"), are refused for a real profile too, even when PYTHON_KEYRING_BACKEND or a
keyringrc names them. The demo profile and the test suite may use them: the demo is recognised by
the marker file it writes in its own data folder, the tests by the environment variable
`INSECURE_KEYRING_ENV` set to `INSECURE_KEYRING_OK`, which nothing a person sets up by using the app
(settings, wizard, keyringrc) can set.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

from desktop_app.core import paths
from desktop_app.core.errors import ConfigError
from desktop_app.core.redact import register_secret

SERVICE = "ml-connector"

SECRET_NAMES = (
    "servicetitan.client_secret",
    "servicetitan.app_key",
    "syspro.operator_password",
    "syspro.company_password",
)

DEMO_MARKER = "demo-profile"  # file in a data dir that marks it as the demo profile

INSECURE_KEYRING_ENV = "ML_CONNECTOR_INSECURE_KEYRING"
INSECURE_KEYRING_OK = "tests-and-benchmarks-only"


class SecretStoreError(ConfigError):
    """The keyring cannot be used; the message says how to fix it."""


class DemoFileKeyring(KeyringBackend):
    """Keyring for the demo profile on machines without an OS keyring. Throwaway values only."""

    priority = 0  # never chosen automatically

    def __init__(self, path: Path):
        super().__init__()
        self._path = path

    def _load(self) -> dict:
        if not self._path.exists():
            return {}
        return json.loads(self._path.read_text(encoding="utf-8"))

    def _save(self, data: dict) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        if os.name == "posix":
            os.chmod(tmp, 0o600)
        tmp.replace(self._path)

    def get_password(self, service, username):
        return self._load().get(f"{service}|{username}")

    def set_password(self, service, username, password):
        data = self._load()
        data[f"{service}|{username}"] = password
        self._save(data)

    def delete_password(self, service, username):
        data = self._load()
        if data.pop(f"{service}|{username}", None) is None:
            raise keyring.errors.PasswordDeleteError(username)
        self._save(data)


def is_demo_profile() -> bool:
    return (paths.data_dir() / DEMO_MARKER).exists()


def _usable(backend: KeyringBackend) -> bool:
    name = type(backend).__module__ + "." + type(backend).__name__
    if name.startswith("keyring.backends.fail"):
        return False
    if name.startswith("keyring.backends.chainer"):
        return bool(getattr(backend, "backends", []))
    return True


def _name(backend: KeyringBackend) -> str:
    return type(backend).__module__ + "." + type(backend).__name__


def insecure_reason(backend: KeyringBackend) -> str | None:
    """Why `backend` must not hold a real profile's passwords, or None when it may."""
    name = _name(backend)
    if name.startswith("keyring.backends.null."):
        return "it keeps nothing (the null keyring)"
    if name.startswith("keyrings.alt.file.PlaintextKeyring"):
        return "it writes passwords readably into a file"
    if name.startswith("keyring.backends.chainer"):
        # a chain stores in its first backend that accepts: the one of highest priority
        chained = list(getattr(backend, "backends", []) or [])
        return insecure_reason(chained[0]) if chained else None
    try:
        priority = float(backend.priority)
    except Exception:  # noqa: BLE001 - a backend whose priority cannot be read says it is not viable
        priority = -1.0
    if priority <= 0:
        return f"it marks itself as not to be used (priority {priority:g})"
    return None


def insecure_allowed() -> bool:
    """The demo profile and the test suite may keep their throwaway secrets in an insecure keyring."""
    return is_demo_profile() or os.environ.get(INSECURE_KEYRING_ENV) == INSECURE_KEYRING_OK


def backend_name() -> str:
    return _name(_backend())


def _backend() -> KeyringBackend:
    backend = keyring.get_keyring()
    if _usable(backend):
        reason = insecure_reason(backend)
        if reason is None or insecure_allowed():
            return backend
        raise SecretStoreError(
            f"The keyring in use, {_name(backend)}, cannot hold this profile's passwords: {reason}. "
            "Use the system keyring instead: on Windows the Credential Manager is chosen automatically; "
            "on Linux install and unlock a Secret Service provider (gnome-keyring or KWallet). Remove "
            "PYTHON_KEYRING_BACKEND from the environment (or the backend line of keyringrc.cfg) if it "
            "names this keyring.")
    if is_demo_profile():
        return DemoFileKeyring(paths.data_dir() / "demo-keyring.json")
    raise SecretStoreError(
        "No usable system keyring was found, so passwords cannot be stored safely. "
        "On Windows, the Credential Manager is used automatically; on Linux, install and unlock a "
        "Secret Service provider (e.g. gnome-keyring or KWallet), or set PYTHON_KEYRING_BACKEND to "
        "a keyring backend of your choice."
    )


def _username(name: str) -> str:
    if name not in SECRET_NAMES:
        raise KeyError(f"unknown secret {name!r}; valid names: {', '.join(SECRET_NAMES)}")
    return f"{paths.profile_id()}/{name}"


def get_secret(name: str) -> str | None:
    try:
        value = _backend().get_password(SERVICE, _username(name))
    except keyring.errors.KeyringError as exc:
        raise SecretStoreError(f"The keyring could not be read: {type(exc).__name__}") from None
    register_secret(value)
    return value


def set_secret(name: str, value: str) -> None:
    if not value:
        raise ValueError(f"{name}: an empty value cannot be stored")
    register_secret(value)
    try:
        _backend().set_password(SERVICE, _username(name), value)
    except keyring.errors.KeyringError as exc:
        raise SecretStoreError(f"The keyring refused to store {name}: {type(exc).__name__}") from None


def delete_secret(name: str) -> bool:
    try:
        _backend().delete_password(SERVICE, _username(name))
        return True
    except keyring.errors.PasswordDeleteError:
        return False


def snapshot() -> dict[str, str]:
    """Keyring user name → value of every secret that is set, for a process that reads this profile's
    keyring through a copy (the sync engine's child); {} when the keyring cannot be read."""
    copy = {}
    for name in SECRET_NAMES:
        try:
            value = get_secret(name)
        except SecretStoreError:
            return {}  # the reader's own look-up then says what is wrong with the keyring
        if value:
            copy[_username(name)] = value
    return copy


def secrets_status() -> dict[str, bool]:
    """Which secrets are set (never their values)."""
    return {name: bool(get_secret(name)) for name in SECRET_NAMES}


def load_all() -> None:
    """Read every secret once so the redaction filter knows their values."""
    for name in SECRET_NAMES:
        try:
            get_secret(name)
        except SecretStoreError:
            return
