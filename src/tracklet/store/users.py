"""Users, their passwords and their permissions on experiments and registered models (`--auth`).

Passwords are kept as salted scrypt hashes (Python's hashlib, no dependency). Checking one costs ~0.1 s
of CPU by design, too much for every request of a training loop, so each process remembers which
password matched which stored hash: a changed password has a new hash and is checked afresh, on every
worker at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Connection, Table, delete, select, update
from sqlalchemy.exc import IntegrityError

from tracklet.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracklet.permissions import EXPERIMENT, REGISTERED_MODEL, Permission
from tracklet.store import schema as s
from tracklet.store.database import Database
from tracklet.store.workspaces import DEFAULT_WORKSPACE, current_workspace

_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_VERIFIED_MAX = 10_000
MAX_USERNAME_LENGTH = 255
# What begins an access token's secret (`tokens.py`). A password may not: HTTP Basic may carry a token as
# its password, and the server tells the two apart by this prefix without checking a password hash.
TOKEN_PREFIX = "tlk_"
# What an access token may do: all its user may ("all"), or only what reads ("read": dashboards, reports).
FULL_SCOPE, READ_SCOPE = "all", "read"
TOKEN_SCOPES = (FULL_SCOPE, READ_SCOPE)


@dataclass(frozen=True)
class User:
    user_id: int
    username: str
    is_admin: bool


@dataclass(frozen=True)
class TokenHolder:
    """Who an access token admits, and what `Access.token_user_and_grants` found with them."""

    user: User
    token_id: int
    expiration_time: int | None  # ms since the epoch
    last_used_time: int | None
    grants: dict[int, Permission]
    read_only: bool = False  # a token of `READ_SCOPE`


@dataclass(frozen=True)
class UserPermissions:
    """One user's explicit permissions: experiment id → level, registered model name → level."""

    experiments: dict[int, Permission] = field(default_factory=dict)
    registered_models: dict[str, Permission] = field(default_factory=dict)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=_SCRYPT_MAXMEM, **_SCRYPT)
    return f"scrypt:{_SCRYPT['n']}:{_SCRYPT['r']}:{_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def _password_matches(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
        name, n, r, p = scheme.split(":")
        if name != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=_SCRYPT_MAXMEM
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed, bytes.fromhex(digest))


def _validate_credentials(username: object, password: object) -> tuple[str, str]:
    if not isinstance(username, str) or not username:
        raise InvalidParameterValue("Username cannot be empty.")
    if len(username) > MAX_USERNAME_LENGTH:
        raise InvalidParameterValue(f"Username is longer than {MAX_USERNAME_LENGTH} characters.")
    if not isinstance(password, str) or not password:
        raise InvalidParameterValue("Password cannot be empty.")
    if password.startswith(TOKEN_PREFIX):
        raise InvalidParameterValue(f"A password may not begin with '{TOKEN_PREFIX}', which marks access tokens.")
    return username, password


def _key(resource_type: str, resource_id: str) -> int | str:
    """The resource's id as its permission table keeps it (experiments by integer)."""
    if resource_type == EXPERIMENT:
        if not resource_id.isdigit():
            raise ResourceDoesNotExist(f"No Experiment with id={resource_id} exists")
        return int(resource_id)
    return resource_id


def _permission_table(resource_type: str) -> tuple[Table, str]:
    if resource_type == EXPERIMENT:
        return s.experiment_permissions, "experiment_id"
    if resource_type == REGISTERED_MODEL:
        return s.registered_model_permissions, "name"
    raise InvalidParameterValue(
        f"Invalid resource type '{resource_type}'. Valid resource types are: ('{EXPERIMENT}', '{REGISTERED_MODEL}')"
    )


def _in_workspace(table: Table) -> list[ColumnElement[bool]]:
    """A registered model grant is on the model of that name in the request's workspace."""
    if table is s.registered_model_permissions or table is s.registered_models:
        return [table.c.workspace == (current_workspace() or DEFAULT_WORKSPACE)]
    return []


def _workspace_value(table: Table) -> dict[str, str]:
    return {"workspace": current_workspace() or DEFAULT_WORKSPACE} if table is s.registered_model_permissions else {}


class UserStore:
    db: Database
    # user name → (the stored hash a password was checked against, that password's SHA-256)
    _verified_passwords: dict[str, tuple[str, bytes]]

    # -- users ---------------------------------------------------------------------------------------

    def create_user(self, username: object, password: object, is_admin: bool = False) -> User:
        name, secret = _validate_credentials(username, password)
        try:
            with self.db.write() as conn:
                if self._user_row(conn, name) is not None:
                    raise ResourceAlreadyExists(f"User '{name}' already exists")
                conn.execute(
                    s.users.insert().values(username=name, password_hash=hash_password(secret), is_admin=is_admin)
                )
                return self._require_user(conn, name)
        except IntegrityError:  # created by another worker in between
            raise ResourceAlreadyExists(f"User '{name}' already exists") from None

    def ensure_admin(self, username: str, password: str | None) -> bool:
        """Create the first user, an admin, if there is no user yet; whether it was created."""
        with self.db.read() as conn:
            if conn.execute(select(s.users.c.user_id).limit(1)).first() is not None:
                return False
        if not password:
            raise InvalidParameterValue(
                "The server has no user yet: set TRACKLET_ADMIN_PASSWORD (and TRACKLET_ADMIN_USERNAME, default "
                "'admin') for the first admin it creates."
            )
        try:
            self.create_user(username, password, is_admin=True)
        except ResourceAlreadyExists:  # another worker made it
            return False
        return True

    def get_user(self, username: str) -> User:
        with self.db.read() as conn:
            return self._require_user(conn, username)

    def list_users(self) -> list[User]:
        with self.db.read() as conn:
            rows = conn.execute(select(s.users.c.user_id, s.users.c.username, s.users.c.is_admin).order_by("username"))
            return [User(*row) for row in rows]

    def update_user_password(self, username: str, password: object) -> None:
        _, secret = _validate_credentials(username, password)
        with self.db.write() as conn:
            user = self._require_user(conn, username)
            conn.execute(
                update(s.users).where(s.users.c.user_id == user.user_id).values(password_hash=hash_password(secret))
            )

    def update_user_admin(self, username: str, is_admin: bool) -> None:
        with self.db.write() as conn:
            user = self._require_user(conn, username)
            if not is_admin:
                self._keep_an_admin(conn, user)
            conn.execute(update(s.users).where(s.users.c.user_id == user.user_id).values(is_admin=is_admin))

    def delete_user(self, username: str) -> None:
        with self.db.write() as conn:
            user = self._require_user(conn, username)
            self._keep_an_admin(conn, user)
            for table in (s.experiment_permissions, s.registered_model_permissions, s.access_tokens, s.users):
                conn.execute(delete(table).where(table.c.user_id == user.user_id))

    def authenticate(self, username: str, password: str) -> User | None:
        """The user these credentials name, or None if either is wrong."""
        with self.access() as access:
            return access.user(username, password)

    @contextmanager
    def access(self) -> Iterator[Access]:
        """The reads that admit a request, on one connection, taken when the first read needs it (what
        the process remembers needs none: `_OWNERS`, `server/workspaces.py`'s cache)."""
        with ExitStack() as stack:

            def connect() -> Connection:
                conn = stack.enter_context(self.db.read())
                if not self.db.is_sqlite:  # one statement needs no transaction: no BEGIN and ROLLBACK round trips
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                return conn

            yield Access(self.db, connect, self._verified_passwords)

    def password_was_verified(self, username: str, password: str) -> bool:
        """Whether this process has checked this password before (then `authenticate` is cheap, unless
        the password changed meanwhile)."""
        known = self._verified_passwords.get(username)
        return known is not None and hmac.compare_digest(known[1], hashlib.sha256(password.encode()).digest())

    def _user_row(self, conn: Connection, username: str) -> User | None:
        row = conn.execute(
            select(s.users.c.user_id, s.users.c.username, s.users.c.is_admin).where(s.users.c.username == username)
        ).first()
        return None if row is None else User(row[0], row[1], bool(row[2]))

    def _keep_an_admin(self, conn: Connection, leaving: User) -> None:
        """No change may leave the server without an admin: nobody could manage users any more."""
        if not leaving.is_admin:
            return
        others = conn.execute(
            select(s.users.c.user_id).where(s.users.c.is_admin.is_(True), s.users.c.user_id != leaving.user_id).limit(1)
        ).first()
        if others is None:
            raise InvalidParameterValue(f"'{leaving.username}' is the last admin; make another user admin first")

    def _require_user(self, conn: Connection, username: str) -> User:
        user = self._user_row(conn, username)
        if user is None:
            raise ResourceDoesNotExist(f"User with username={username} not found")
        return user

    # -- permissions ---------------------------------------------------------------------------------

    def set_permission(
        self, resource_type: str, resource_id: str, username: str, permission: Permission, replace: bool = True
    ) -> None:
        """Grant `username` `permission` on the resource; with `replace=False` an existing grant is an error."""
        table, key = _permission_table(resource_type)
        with self.db.write() as conn:
            user = self._require_user(conn, username)
            resource = self._resource_key(conn, resource_type, resource_id)
            match = (table.c.user_id == user.user_id, table.c[key] == resource, *_in_workspace(table))
            exists = conn.execute(select(table.c.permission).where(*match)).first() is not None
            if exists and not replace:
                raise ResourceAlreadyExists(
                    f"{resource_type} permission for {resource_id} and user {username} already exists"
                )
            if exists:
                conn.execute(update(table).where(*match).values(permission=permission.name))
            else:
                conn.execute(
                    table.insert().values(
                        {
                            key: resource,
                            "user_id": user.user_id,
                            "permission": permission.name,
                            **_workspace_value(table),
                        }
                    )
                )

    def get_permission(self, resource_type: str, resource_id: str, username: str) -> Permission:
        """The explicit grant of `username` on the resource (404 if there is none)."""
        table, key = _permission_table(resource_type)
        with self.db.read() as conn:
            user = self._require_user(conn, username)
            row = conn.execute(
                select(table.c.permission).where(
                    table.c.user_id == user.user_id,
                    table.c[key] == _key(resource_type, resource_id),
                    *_in_workspace(table),
                )
            ).first()
        if row is None:
            raise ResourceDoesNotExist(f"{resource_type} permission for {resource_id} and user {username} not found")
        return Permission[row[0]]

    def delete_permission(self, resource_type: str, resource_id: str, username: str, missing_ok: bool = False) -> None:
        table, key = _permission_table(resource_type)
        with self.db.write() as conn:
            user = self._require_user(conn, username)
            deleted = conn.execute(
                delete(table).where(
                    table.c.user_id == user.user_id,
                    table.c[key] == _key(resource_type, resource_id),
                    *_in_workspace(table),
                )
            ).rowcount
        if not deleted and not missing_ok:
            raise ResourceDoesNotExist(f"{resource_type} permission for {resource_id} and user {username} not found")

    def resource_permissions(self, resource_type: str, resource_id: str) -> list[tuple[str, Permission]]:
        """Every explicit grant on the resource, by user name: (user name, level)."""
        table, key = _permission_table(resource_type)
        with self.db.read() as conn:
            resource = self._resource_key(conn, resource_type, resource_id)
            rows = conn.execute(
                select(s.users.c.username, table.c.permission)
                .join(s.users, s.users.c.user_id == table.c.user_id)
                .where(table.c[key] == resource, *_in_workspace(table))
                .order_by(s.users.c.username)
            )
            return [(username, Permission[level]) for username, level in rows]

    def user_permissions(self, user_id: int) -> UserPermissions:
        e, m = s.experiment_permissions, s.registered_model_permissions
        with self.db.read() as conn:
            experiments = conn.execute(select(e.c.experiment_id, e.c.permission).where(e.c.user_id == user_id))
            models = conn.execute(select(m.c.name, m.c.permission).where(m.c.user_id == user_id, *_in_workspace(m)))
            return UserPermissions(
                {int(i): Permission[p] for i, p in experiments}, {name: Permission[p] for name, p in models}
            )

    def experiment_grants(self, user_id: int, experiment_ids: Iterable[int]) -> dict[int, Permission]:
        with self.access() as access:
            return access.experiment_grants(user_id, experiment_ids)

    def registered_model_grant(self, user_id: int, name: str) -> Permission | None:
        with self.access() as access:
            return access.registered_model_grant(user_id, name)

    def _resource_key(self, conn: Connection, resource_type: str, resource_id: str) -> int | str:
        """The resource's key in its permission table; it must exist."""
        key = _key(resource_type, resource_id)
        table, column = (
            (s.experiments, "experiment_id") if resource_type == EXPERIMENT else (s.registered_models, "name")
        )
        if conn.execute(select(table.c[column]).where(table.c[column] == key, *_in_workspace(table))).first() is None:
            what = (
                f"Experiment with id={resource_id}"
                if resource_type == EXPERIMENT
                else f"Registered Model with name={resource_id}"
            )
            raise ResourceDoesNotExist(f"No {what} exists")
        return key


# Which experiment a run, trace or logged model belongs to never changes, and ids are never reused: each
# process remembers the answers (a training loop names the same run on every request). Bounded, emptied
# when full. Never an experiment's name: a name moves with a rename and comes back after a purge.
_OWNERS: dict[tuple[str, str], int] = {}
_OWNERS_MAX = 100_000
_OWNED_FOREVER = frozenset({"runs", "traces", "logged_models"})


def _grants(rows: list[tuple], at: int) -> dict[int, Permission]:  # type: ignore[type-arg]
    """The experiment grants joined into `rows` at columns `at`, `at + 1` (rows of a user without one: none)."""
    return {int(row[at]): Permission[row[at + 1]] for row in rows if len(row) > at and row[at] is not None}


class Access:
    """The reads that admit one request (`server/auth/guard.py`): hand-written SQL on one connection,
    the user and their grants in one statement. Built with SQLAlchemy's expressions they cost ~1 ms a
    request, more than a logged metric; on PostgreSQL each statement is also a round trip."""

    def __init__(self, db: Database, connect: Callable[[], Connection], verified: dict[str, tuple[str, bytes]]) -> None:
        self.db, self._connect, self._verified = db, connect, verified
        self._conn: Connection | None = None

    def _rows(self, sql: str, args: tuple[object, ...]) -> list[tuple]:  # type: ignore[type-arg]
        if self._conn is None:
            self._conn = self._connect()
        return self.db.run(self._conn, self.db.sql(sql), args)

    def user(self, username: str, password: str) -> User | None:
        """The user these credentials name, or None if either is wrong."""
        return self.user_and_grants(username, password, ())[0]

    def user_and_grants(
        self, username: str, password: str, experiment_ids: Iterable[int]
    ) -> tuple[User | None, dict[int, Permission]]:
        """The user these credentials name (None if either is wrong), and their grants on these experiments
        (those without one left out)."""
        ids = sorted(set(experiment_ids))
        sql = "SELECT u.user_id, u.is_admin, u.password_hash{} FROM users u{} WHERE u.username = ?"
        rows = self._with_grants(sql, ids, (username,))
        if not rows or not self._password_matches(username, password, rows[0][2]):
            return None, {}
        return User(rows[0][0], username, bool(rows[0][1])), _grants(rows, 3)

    def token_user_and_grants(self, digest: str, experiment_ids: Iterable[int]) -> TokenHolder | None:
        """The user whose access token has this SHA-256 (`tokens.token_digest`), with their grants on these
        experiments, in one statement like `user_and_grants`; None for a token that is not (or no more)
        stored. Expiry is the caller's to judge."""
        ids = sorted(set(experiment_ids))
        sql = (
            "SELECT u.user_id, u.is_admin, u.username, t.token_id, t.expiration_time, t.last_used_time, t.scope, "
            "t.token_hash{} "
            "FROM access_tokens t JOIN users u ON u.user_id = t.user_id{} WHERE t.token_hash = ?"
        )
        rows = self._with_grants(sql, ids, (digest,))
        # Found through the index by the hash; compared again in constant time all the same.
        if not rows or not hmac.compare_digest(rows[0][7], digest):
            return None
        user_id, is_admin, username, token_id, expires, last_used, scope = rows[0][:7]
        user = User(user_id, username, bool(is_admin))
        return TokenHolder(user, token_id, expires, last_used, _grants(rows, 8), read_only=scope == READ_SCOPE)

    def _with_grants(self, sql: str, ids: list[int], args: tuple[object, ...]) -> list[tuple]:  # type: ignore[type-arg]
        """`sql`'s rows, its two `{}` filled in to join the user's (`u`) grants on `ids` when there are some."""
        if not ids:
            return self._rows(sql.format("", ""), args)
        join = (
            " LEFT JOIN experiment_permissions p ON p.user_id = u.user_id "
            f"AND p.experiment_id IN ({', '.join('?' * len(ids))})"
        )
        return self._rows(sql.format(", p.experiment_id, p.permission", join), (*ids, *args))

    def _password_matches(self, username: str, password: str, stored: str) -> bool:
        fingerprint = hashlib.sha256(password.encode()).digest()
        known = self._verified.get(username)
        if known is not None and known[0] == stored:
            return hmac.compare_digest(known[1], fingerprint)
        if not _password_matches(password, stored):
            return False
        if len(self._verified) >= _VERIFIED_MAX:
            self._verified.clear()
        self._verified[username] = (stored, fingerprint)
        return True

    def experiments_of(self, table: Table, key: str, ids: Iterable[str]) -> dict[str, int]:
        """The experiment of each run, trace or logged model named (by `table`'s `key` column) that exists."""
        cached = table.name in _OWNED_FOREVER
        found = {i: _OWNERS[(table.name, i)] for i in set(ids) if cached and (table.name, i) in _OWNERS}
        wanted = [i for i in set(ids) if i not in found]
        if wanted:
            sql = f"SELECT {key}, experiment_id FROM {table.name} WHERE {key} IN ({', '.join('?' * len(wanted))})"
            args: tuple[object, ...] = tuple(wanted)
            if table is s.experiments:  # a name is unique in its workspace only
                sql += " AND workspace = ?"
                args += (current_workspace() or DEFAULT_WORKSPACE,)
            read = {row[0]: int(row[1]) for row in self._rows(sql, args)}
            if cached:
                if len(_OWNERS) + len(read) > _OWNERS_MAX:
                    _OWNERS.clear()
                _OWNERS.update({(table.name, i): e for i, e in read.items()})
            found.update(read)
        return found

    def experiment_grants(self, user_id: int, experiment_ids: Iterable[int]) -> dict[int, Permission]:
        """The explicit grants of one user on these experiments (those without a grant are left out)."""
        ids = list(set(experiment_ids))
        if not ids:
            return {}
        sql = (
            "SELECT experiment_id, permission FROM experiment_permissions "
            f"WHERE user_id = ? AND experiment_id IN ({', '.join('?' * len(ids))})"
        )
        return {int(e): Permission[p] for e, p in self._rows(sql, (user_id, *ids))}

    # -- workspaces (`--enable-workspaces`: `server/workspaces.py`) -------------------------------------

    def workspace_exists(self, name: str) -> bool:
        return bool(self._rows("SELECT 1 FROM workspaces WHERE name = ?", (name,)))

    def outside_workspace(self, workspace: str, table: str, key: str, ids: Iterable[int | str]) -> list[int | str]:
        """Those of these experiments (or datasets) that exist in another workspace."""
        wanted = sorted(set(ids))  # type: ignore[type-var]
        if not wanted:
            return []
        sql = f"SELECT {key} FROM {table} WHERE {key} IN ({', '.join('?' * len(wanted))}) AND workspace <> ?"
        return [row[0] for row in self._rows(sql, (*wanted, workspace))]

    def workspaces_of_experiments(self, experiment_ids: list[int]) -> dict[int, str]:
        """The workspace of each of these experiments that exists."""
        sql = f"SELECT experiment_id, workspace FROM experiments WHERE experiment_id IN ({', '.join('?' * len(experiment_ids))})"
        return {int(row[0]): row[1] for row in self._rows(sql, tuple(experiment_ids))}

    def dataset_experiments(self, dataset_id: str) -> list[int]:
        """The experiments an evaluation dataset is linked to (none when it does not exist)."""
        sql = "SELECT experiment_id FROM evaluation_dataset_experiments WHERE dataset_id = ?"
        return [int(row[0]) for row in self._rows(sql, (dataset_id,))]

    def registered_model_grant(self, user_id: int, name: str) -> Permission | None:
        sql = "SELECT permission FROM registered_model_permissions WHERE user_id = ? AND name = ? AND workspace = ?"
        rows = self._rows(sql, (user_id, name, current_workspace() or DEFAULT_WORKSPACE))
        return Permission[rows[0][0]] if rows else None
