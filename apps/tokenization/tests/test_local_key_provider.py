import json
import stat

import pytest
from django.core.management import call_command

from apps.tokenization.keys.base import (
    DataKeyUnwrapError,
    KekVersionUnavailableError,
    KeyProvider,
    VaultKeyError,
)
from apps.tokenization.keys.local import (
    KeyringError,
    LocalKeyProvider,
    generate_keyring,
    init_keyring_file,
)

ENV_VAR = "PAYMENTHUB_TEST_KEYRING_FOR_PROVIDER_TESTS"


@pytest.fixture
def keyring_file(tmp_path):
    path = tmp_path / "vault" / "keyring.json"
    init_keyring_file(path=path)
    return path


@pytest.fixture
def provider(keyring_file):
    return LocalKeyProvider(keyring_file=keyring_file, env_var=ENV_VAR, autocreate=False)


class TestInitKeyring:
    def test_creates_a_file_only_its_owner_can_read(self, tmp_path):
        path = tmp_path / "vault" / "keyring.json"
        assert init_keyring_file(path=path) is True
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        keyring = json.loads(path.read_text())
        assert set(keyring["keks"]) == {"1"}
        assert keyring["fingerprint_key"]

    def test_is_idempotent(self, keyring_file):
        before = keyring_file.read_text()
        assert init_keyring_file(path=keyring_file) is False
        assert keyring_file.read_text() == before

    def test_the_command_creates_the_keyring_once(self, tmp_path, capsys):
        path = tmp_path / "k.json"
        call_command("init_vault_keyring", path=str(path))
        call_command("init_vault_keyring", path=str(path))
        output = capsys.readouterr().out
        assert "created" in output
        assert "already present" in output
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_every_keyring_has_its_own_random_keys(self):
        assert generate_keyring()["keks"]["1"] != generate_keyring()["keks"]["1"]


class TestLocalKeyProvider:
    def test_is_a_key_provider(self, provider):
        assert isinstance(provider, KeyProvider)

    def test_wraps_and_unwraps_a_data_key(self, provider):
        wrapped = provider.wrap_data_key(kek_version=1, data_key=b"k" * 32, context=b"row-1")
        assert b"k" * 32 not in wrapped
        assert (
            provider.unwrap_data_key(kek_version=1, wrapped_key=wrapped, context=b"row-1")
            == b"k" * 32
        )

    def test_a_wrapped_key_does_not_unwrap_for_another_context(self, provider):
        wrapped = provider.wrap_data_key(kek_version=1, data_key=b"k" * 32, context=b"row-1")
        with pytest.raises(DataKeyUnwrapError):
            provider.unwrap_data_key(kek_version=1, wrapped_key=wrapped, context=b"row-2")

    def test_new_versions_are_numbered_upwards_and_old_ones_keep_working(self, provider):
        wrapped = provider.wrap_data_key(kek_version=1, data_key=b"k" * 32, context=b"c")
        assert provider.create_kek_version() == 2
        assert provider.list_kek_versions() == [1, 2]
        assert (
            provider.unwrap_data_key(kek_version=1, wrapped_key=wrapped, context=b"c") == b"k" * 32
        )

    def test_a_retired_version_is_destroyed(self, provider, keyring_file):
        wrapped = provider.wrap_data_key(kek_version=1, data_key=b"k" * 32, context=b"c")
        provider.create_kek_version()
        provider.retire_kek_version(kek_version=1)
        assert provider.list_kek_versions() == [2]
        assert "1" not in json.loads(keyring_file.read_text())["keks"]
        with pytest.raises(KekVersionUnavailableError):
            provider.unwrap_data_key(kek_version=1, wrapped_key=wrapped, context=b"c")
        assert provider.create_kek_version() == 3  # a retired number is never reused

    def test_sees_versions_another_process_created(self, provider, keyring_file):
        other = LocalKeyProvider(keyring_file=keyring_file, env_var=ENV_VAR, autocreate=False)
        provider.list_kek_versions()
        version = other.create_kek_version()
        wrapped = other.wrap_data_key(kek_version=version, data_key=b"k" * 32, context=b"c")
        assert (
            provider.unwrap_data_key(kek_version=version, wrapped_key=wrapped, context=b"c")
            == b"k" * 32
        )

    def test_fingerprints_are_keyed(self, provider, tmp_path):
        other_path = tmp_path / "other.json"
        init_keyring_file(path=other_path)
        other = LocalKeyProvider(keyring_file=other_path, env_var=ENV_VAR, autocreate=False)
        assert provider.compute_fingerprint(message=b"4242") == provider.compute_fingerprint(
            message=b"4242"
        )
        assert provider.compute_fingerprint(message=b"4242") != other.compute_fingerprint(
            message=b"4242"
        )

    def test_a_missing_keyring_file_is_a_clear_error(self, tmp_path):
        provider = LocalKeyProvider(
            keyring_file=tmp_path / "none.json", env_var=ENV_VAR, autocreate=False
        )
        with pytest.raises(KeyringError, match="init_vault_keyring"):
            provider.list_kek_versions()


class TestKeyringFromTheEnvironment:
    def test_reads_the_keyring_from_the_environment_variable(self, monkeypatch, tmp_path):
        keyring = generate_keyring()
        monkeypatch.setenv(ENV_VAR, json.dumps(keyring))
        provider = LocalKeyProvider(
            keyring_file=tmp_path / "unused.json", env_var=ENV_VAR, autocreate=False
        )
        wrapped = provider.wrap_data_key(kek_version=1, data_key=b"k" * 32, context=b"c")
        assert (
            provider.unwrap_data_key(kek_version=1, wrapped_key=wrapped, context=b"c") == b"k" * 32
        )
        assert not (tmp_path / "unused.json").exists()

    def test_an_environment_keyring_is_read_only(self, monkeypatch, tmp_path):
        monkeypatch.setenv(ENV_VAR, json.dumps(generate_keyring()))
        provider = LocalKeyProvider(
            keyring_file=tmp_path / "unused.json", env_var=ENV_VAR, autocreate=False
        )
        with pytest.raises(VaultKeyError, match="read-only"):
            provider.create_kek_version()

    def test_a_malformed_keyring_names_its_source_but_no_key(self, monkeypatch, tmp_path):
        keyring = generate_keyring()
        keyring["keks"]["1"] = "bm90IDMyIGJ5dGVz"
        monkeypatch.setenv(ENV_VAR, json.dumps(keyring))
        provider = LocalKeyProvider(
            keyring_file=tmp_path / "unused.json", env_var=ENV_VAR, autocreate=False
        )
        with pytest.raises(KeyringError) as caught:
            provider.list_kek_versions()
        assert ENV_VAR in caught.value.message
        assert "bm90" not in caught.value.message
