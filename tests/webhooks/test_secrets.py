"""Webhook secrets at rest: plain without a key, Fernet with one, re-encrypted under a new first key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tracklet.errors import TrackletError
from tracklet.store.store import Store
from tracklet.webhooks.secrets import SecretBox, SecretUnavailable, seal_stored_secrets


def test_without_a_key_secrets_are_kept_as_they_are() -> None:
    box = SecretBox([])
    assert box.seal("s") == "plain:s" and box.open("plain:s") == "s"
    assert box.seal("") is None and box.open(None) is None
    with pytest.raises(SecretUnavailable, match="TRACKLET_WEBHOOK_SECRET_KEY is not set"):
        box.open("fernet:gAAAA")


def test_with_keys_the_first_encrypts_and_any_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_old = SecretBox([old]).seal("s3cret")
    assert sealed_old is not None and sealed_old.startswith("fernet:") and "s3cret" not in sealed_old
    both = SecretBox([new, old])
    assert both.open(sealed_old) == "s3cret"
    resealed = both.reseal(sealed_old)
    assert resealed is not None and SecretBox([new]).open(resealed) == "s3cret"
    assert both.reseal(resealed) is None  # under the first key already
    assert both.reseal("plain:p") is not None
    with pytest.raises(SecretUnavailable, match="does not hold"):
        SecretBox([Fernet.generate_key().decode()]).open(sealed_old)


def test_a_key_that_is_not_a_fernet_key_stops_the_server() -> None:
    with pytest.raises(TrackletError, match="must be Fernet keys"):
        SecretBox(["not-a-key"])


def test_stored_secrets_are_encrypted_when_a_key_comes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    try:
        plain = SecretBox([])
        events = [("model_version", "created")]
        first = store.create_webhook("a", "http://127.0.0.1/", events, None, plain.seal("one"), "ACTIVE")
        store.create_webhook("b", "http://127.0.0.1/", events, None, None, "ACTIVE")
        box = SecretBox([Fernet.generate_key().decode()])
        assert seal_stored_secrets(store, box) == 1
        assert seal_stored_secrets(store, box) == 0
        _, stored = store.webhook_secret(first.webhook_id)
        assert stored is not None and stored.startswith("fernet:") and box.open(stored) == "one"
    finally:
        store.close()
