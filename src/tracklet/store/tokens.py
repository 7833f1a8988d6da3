"""Personal access tokens of users (`--auth`): secrets for jobs that should not hold a person's password.

A secret is `tlk_` and 32 random bytes (256 bits, URL-safe base64), shown once when it is made. Only its
SHA-256 is stored: a secret that random cannot be guessed from its hash, so the slow, salted hash that
passwords need (scrypt, `users.py`) would add ~0.1 s a request and nothing else; a plain hash lets the
server find the token by an index on every request. A token is revoked by deleting its row.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import now_ms
from tracklet.store.users import FULL_SCOPE, TOKEN_PREFIX, TOKEN_SCOPES, UserStore

MAX_TOKEN_NAME_LENGTH = 255
MAX_EXPIRES_IN_DAYS = 3650
_DAY_MS = 86_400_000
# A token's last use is noted when the one on record is older than this: "used today" is what an owner
# needs to find tokens nobody uses, and a write per request would cost every request a transaction.
USE_NOTED_EVERY_MS = 5 * 60_000


@dataclass(frozen=True)
class AccessToken:
    """A token's metadata: never its secret or hash. Times in milliseconds since the epoch."""

    token_id: int
    name: str
    username: str
    creation_time: int
    expiration_time: int | None
    last_used_time: int | None
    scope: str = FULL_SCOPE


def token_digest(secret: str) -> str:
    """The stored form of a secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def use_worth_noting(last_used_time: int | None) -> bool:
    """Whether a token's use now is worth a write: none on record, or one older than `USE_NOTED_EVERY_MS`."""
    return last_used_time is None or now_ms() - last_used_time >= USE_NOTED_EVERY_MS


def looks_like_token(secret: str) -> bool:
    return secret.startswith(TOKEN_PREFIX)


def _validate(name: object, expires_in_days: object, scope: object) -> tuple[str, int | None]:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue("A token needs a name (what it is for, e.g. 'nightly training').")
    if len(name) > MAX_TOKEN_NAME_LENGTH:
        raise InvalidParameterValue(f"Token name is longer than {MAX_TOKEN_NAME_LENGTH} characters.")
    if expires_in_days is not None and (
        isinstance(expires_in_days, bool)
        or not isinstance(expires_in_days, int)
        or not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS
    ):
        raise InvalidParameterValue(
            f"expires_in_days must be a whole number of days from 1 to {MAX_EXPIRES_IN_DAYS} (or left out: no expiry)."
        )
    if scope not in TOKEN_SCOPES:
        raise InvalidParameterValue(f"scope must be one of {', '.join(map(repr, TOKEN_SCOPES))}, not {scope!r}.")
    return name.strip(), expires_in_days


_COLUMNS = (
    s.access_tokens.c.token_id,
    s.access_tokens.c.name,
    s.users.c.username,
    s.access_tokens.c.creation_time,
    s.access_tokens.c.expiration_time,
    s.access_tokens.c.last_used_time,
    s.access_tokens.c.scope,
)


class TokenStore(UserStore):
    def create_token(
        self, username: str, name: object, expires_in_days: object = None, scope: object = FULL_SCOPE
    ) -> tuple[AccessToken, str]:
        """A new token of `username`: its metadata and its secret (which is not kept, only its hash)."""
        token_name, days = _validate(name, expires_in_days, scope)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = now_ms()
        expires = None if days is None else created + days * _DAY_MS
        with self.db.write() as conn:
            user = self._require_user(conn, username)
            token_id = conn.execute(
                s.access_tokens.insert()
                .values(
                    user_id=user.user_id,
                    name=token_name,
                    token_hash=token_digest(secret),
                    creation_time=created,
                    expiration_time=expires,
                    scope=scope,
                )
                .returning(s.access_tokens.c.token_id)
            ).scalar_one()
        return AccessToken(token_id, token_name, user.username, created, expires, None, str(scope)), secret

    def list_tokens(self, username: str) -> list[AccessToken]:
        """`username`'s tokens, oldest first (expired ones too, until revoked or purged by `tracklet gc`)."""
        with self.db.read() as conn:
            user = self._require_user(conn, username)
            rows = conn.execute(
                select(*_COLUMNS)
                .join(s.users, s.users.c.user_id == s.access_tokens.c.user_id)
                .where(s.access_tokens.c.user_id == user.user_id)
                .order_by(s.access_tokens.c.token_id)
            )
            return [AccessToken(*row) for row in rows]

    def note_token_use(self, token_id: int) -> None:
        """Note that the token was used now (when `use_worth_noting`)."""
        with self.db.write() as conn:
            conn.execute(
                s.access_tokens.update().where(s.access_tokens.c.token_id == token_id).values(last_used_time=now_ms())
            )

    def expired_tokens(self, expired_before: int) -> list[AccessToken]:
        """Tokens whose expiry passed before `expired_before` (ms since the epoch), oldest expiry first."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(*_COLUMNS)
                .join(s.users, s.users.c.user_id == s.access_tokens.c.user_id)
                .where(s.access_tokens.c.expiration_time < expired_before)
                .order_by(s.access_tokens.c.expiration_time, s.access_tokens.c.token_id)
            )
            return [AccessToken(*row) for row in rows]

    def purge_expired_tokens(self, expired_before: int) -> int:
        """Delete the tokens whose expiry passed before `expired_before`; how many went. They admit no one
        already: this only tidies the owners' lists (`tracklet gc`)."""
        with self.db.write() as conn:
            return conn.execute(
                delete(s.access_tokens).where(s.access_tokens.c.expiration_time < expired_before)
            ).rowcount

    def revoke_token(self, token_id: int, owner: str | None = None) -> None:
        """Delete the token (with `owner`: only if it is theirs; another's is as unknown as a missing one)."""
        where = [s.access_tokens.c.token_id == token_id]
        if owner is not None:
            owned_by = select(s.users.c.user_id).where(s.users.c.username == owner).scalar_subquery()
            where.append(s.access_tokens.c.user_id == owned_by)
        with self.db.write() as conn:
            if not conn.execute(delete(s.access_tokens).where(*where)).rowcount:
                raise ResourceDoesNotExist(f"No access token with id={token_id}")
