import keyring
import keyring.backends.fail
import pytest

from desktop_app.core import paths, secrets


def test_round_trip_and_delete(memory_keyring):
    secrets.set_secret("syspro.operator_password", "pa55word!")
    assert secrets.get_secret("syspro.operator_password") == "pa55word!"
    assert secrets.secrets_status()["syspro.operator_password"] is True
    # stored under one service name, keyed per profile
    assert all(service == secrets.SERVICE for service, _ in memory_keyring.entries)
    assert secrets.delete_secret("syspro.operator_password") is True
    assert secrets.get_secret("syspro.operator_password") is None


def test_profiles_do_not_share_secrets(monkeypatch, tmp_path):
    secrets.set_secret("servicetitan.client_secret", "first-profile")
    monkeypatch.setenv(paths.ENV_HOME, str(tmp_path / "other"))
    assert secrets.get_secret("servicetitan.client_secret") is None


def test_unknown_name_is_rejected():
    with pytest.raises(KeyError, match="valid names"):
        secrets.set_secret("servicetitan.password", "x")


def test_no_usable_keyring_is_a_clear_error_not_plaintext():
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(secrets.SecretStoreError, match="keyring"):
        secrets.set_secret("servicetitan.client_secret", "abcd1234")
    assert not any(p.name.endswith(".json") for p in paths.data_dir().iterdir())


def test_demo_profile_falls_back_to_its_own_file():
    keyring.set_keyring(keyring.backends.fail.Keyring())
    (paths.data_dir() / secrets.DEMO_MARKER).write_text("demo")
    secrets.set_secret("servicetitan.client_secret", "demo-value")
    assert secrets.get_secret("servicetitan.client_secret") == "demo-value"
    assert (paths.data_dir() / "demo-keyring.json").exists()


def test_a_snapshot_holds_the_secrets_that_are_set_under_their_keyring_names(memory_keyring):
    secrets.set_secret("syspro.operator_password", "op-pass")
    secrets.set_secret("servicetitan.client_secret", "st-secret")
    copy = secrets.snapshot()
    assert sorted(copy.values()) == ["op-pass", "st-secret"]
    # the names the keyring knows them by, so a copied keyring answers the same look-ups
    assert {memory_keyring.get_password(secrets.SERVICE, user) for user in copy} == {"op-pass", "st-secret"}
    keyring.set_keyring(keyring.backends.fail.Keyring())
    assert secrets.snapshot() == {}


@pytest.mark.parametrize("backend_path", ["keyrings.alt.file.PlaintextKeyring", "keyring.backends.null.Keyring"])
def test_plaintext_and_null_keyrings_are_refused_for_a_real_profile(monkeypatch, tmp_path, backend_path):
    import importlib

    module, _, name = backend_path.rpartition(".")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    keyring.set_keyring(getattr(importlib.import_module(module), name)())
    monkeypatch.delenv(secrets.INSECURE_KEYRING_ENV)
    with pytest.raises(secrets.SecretStoreError) as refused:
        secrets.set_secret("syspro.operator_password", "pa55word!")
    message = str(refused.value)
    assert backend_path.rpartition(".")[0] in message and "PYTHON_KEYRING_BACKEND" in message
    assert "Credential Manager" in message and "Secret Service" in message
    with pytest.raises(secrets.SecretStoreError):
        secrets.get_secret("syspro.operator_password")
    assert not list((tmp_path / "xdg").rglob("*.cfg"))  # nothing was written in clear


def test_a_real_profile_cannot_opt_in_with_another_value_of_the_variable(monkeypatch, tmp_path):
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    keyring.set_keyring(PlaintextKeyring())
    monkeypatch.setenv(secrets.INSECURE_KEYRING_ENV, "1")
    with pytest.raises(secrets.SecretStoreError, match="cannot hold this profile's passwords"):
        secrets.set_secret("syspro.operator_password", "pa55word!")


def test_the_demo_profile_and_the_tests_may_use_the_plaintext_keyring(monkeypatch, tmp_path):
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    keyring.set_keyring(PlaintextKeyring())
    secrets.set_secret("syspro.operator_password", "test-value")  # the suite's allowance (conftest)
    monkeypatch.delenv(secrets.INSECURE_KEYRING_ENV)
    paths.data_dir().mkdir(parents=True, exist_ok=True)
    (paths.data_dir() / secrets.DEMO_MARKER).write_text("demo\n", encoding="utf-8")
    assert secrets.get_secret("syspro.operator_password") == "test-value"


def test_a_chain_whose_first_keyring_is_plaintext_is_refused(monkeypatch, tmp_path):
    from keyring.backends.chainer import ChainerBackend
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(ChainerBackend, "backends", [PlaintextKeyring()])
    keyring.set_keyring(ChainerBackend())
    monkeypatch.delenv(secrets.INSECURE_KEYRING_ENV)
    with pytest.raises(secrets.SecretStoreError, match="writes passwords readably"):
        secrets.get_secret("syspro.operator_password")
