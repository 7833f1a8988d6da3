"""Webhook secrets at rest. A secret is the HMAC key its receiver verifies signatures with, so the server
must be able to read it back: it cannot be hashed like a password or a token, only encrypted.

With `TRACKLET_WEBHOOK_SECRET_KEY` set (one or more Fernet keys, comma-separated: the first encrypts, any
decrypts) secrets are stored as `fernet:<token>` (AES-128-CBC with HMAC-SHA256, from the `cryptography`
package: the extra `tracklet[webhook-secrets]`), and the server re-encrypts every stored secret under
the first key when it starts, so a key is rotated by putting the new one first, restarting, and then
dropping the old one. Without a key they are stored as `plain:<secret>`, and encrypted at the first
start that has one. A copy of the database (a backup, a dump) then holds no usable secret without the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracklet.errors import TrackletError

if TYPE_CHECKING:
    from tracklet.store.webhooks import WebhookStore

PLAIN = "plain:"
FERNET = "fernet:"
_MAKE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


class SecretUnavailable(Exception):
    """A stored secret that this server cannot decrypt (no key, or not the key it was stored with)."""


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        self._fernet: Any = None  # all keys (MultiFernet)
        self._first: Any = None  # the key that encrypts
        if not keys:
            return
        try:
            from cryptography.fernet import Fernet, MultiFernet
        except ImportError:
            raise TrackletError(
                "TRACKLET_WEBHOOK_SECRET_KEY needs the cryptography package: pip install 'tracklet[webhook-secrets]'"
            ) from None
        try:
            fernets = [Fernet(key.strip().encode()) for key in keys]
        except ValueError:
            raise TrackletError(
                "TRACKLET_WEBHOOK_SECRET_KEY must be Fernet keys (32 random bytes, URL-safe base64), separated "
                f"by commas. Make one with: {_MAKE_KEY}"
            ) from None
        self._first = fernets[0]
        self._fernet = MultiFernet(fernets)

    @property
    def encrypts(self) -> bool:
        return self._fernet is not None

    def seal(self, secret: str | None) -> str | None:
        """The stored form of a secret (None or "": no secret)."""
        if not secret:
            return None
        if self._fernet is None:
            return PLAIN + secret
        return FERNET + self._fernet.encrypt(secret.encode("utf-8", "surrogatepass")).decode()

    def open(self, stored: str | None) -> str | None:
        """The secret a stored form holds; raises SecretUnavailable when it cannot be decrypted."""
        if not stored:
            return None
        if stored.startswith(PLAIN):
            return stored[len(PLAIN) :]
        if not stored.startswith(FERNET):
            raise SecretUnavailable("the stored secret is in an unknown form")
        if self._fernet is None:
            raise SecretUnavailable("the secret is encrypted and TRACKLET_WEBHOOK_SECRET_KEY is not set")
        from cryptography.fernet import InvalidToken

        try:
            plain: bytes = self._fernet.decrypt(stored[len(FERNET) :].encode())
        except InvalidToken:
            raise SecretUnavailable(
                "the secret was encrypted with a key that TRACKLET_WEBHOOK_SECRET_KEY does not hold"
            ) from None
        return plain.decode("utf-8", "surrogatepass")

    def reseal(self, stored: str) -> str | None:
        """`stored` encrypted under the first key, or None when it needs no change (no key, already
        under the first key) or cannot be decrypted (left as it is: a later key may)."""
        if self._fernet is None:
            return None
        try:
            secret = self.open(stored)
        except SecretUnavailable:
            return None
        if stored.startswith(FERNET):
            from cryptography.fernet import InvalidToken

            try:
                self._first.decrypt(stored[len(FERNET) :].encode())
                return None  # under the first key already
            except InvalidToken:  # under another key of the list
                pass
        return self.seal(secret)


def seal_stored_secrets(store: WebhookStore, box: SecretBox) -> int:
    """Encrypt under the first key the stored secrets that are not (stored before a key was set, or under a
    key now listed after it); returns how many. `tracklet server` does it once, before its workers start."""
    sealed = 0
    for webhook_id, stored in store.stored_webhook_secrets():
        new = box.reseal(stored)
        if new is not None:
            store.replace_webhook_secret(webhook_id, stored, new)
            sealed += 1
    return sealed
