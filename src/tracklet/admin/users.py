"""`tracklet users`: users of `tracklet server --auth`, straight in the store, for operators: the first
users of a scripted deployment, and the way back in when the admin's password is lost. Passwords are
asked for at the prompt (or read from TRACKLET_USER_PASSWORD), never taken as options: a command line
is visible to every user of the machine. Access tokens for jobs are made, listed and revoked here too:
a new token's secret is printed once (on stdout, alone, for scripts)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from tracklet.cli import OPTION_HELP
from tracklet.settings import Settings
from tracklet.store.users import FULL_SCOPE, TOKEN_SCOPES

PASSWORD_ENV = "TRACKLET_USER_PASSWORD"


def _store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--data-dir", default=None, help=OPTION_HELP["data_dir"])(command)
    return click.option("--backend-store-uri", default=None, help=OPTION_HELP["backend_store_uri"])(command)


@contextmanager
def _store(options: dict[str, str | None]) -> Iterator[Any]:
    from tracklet.store.store import Store

    store = Store(Settings.from_env(**options).store_uri)
    try:
        yield store
    finally:
        store.close()


def _password() -> str:
    return os.environ.get(PASSWORD_ENV) or click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("users")
def users_group() -> None:
    """Users of `tracklet server --auth`, in the store itself (the server's user API does the same over HTTP)."""


@users_group.command("list")
@_store_options
def list_users(**options: str | None) -> None:
    """User names, admins marked."""
    with _store(options) as store:
        for user in store.list_users():
            click.echo(f"{user.username}{'  (admin)' if user.is_admin else ''}")


@users_group.command("create")
@click.argument("username")
@click.option("--admin", "is_admin", is_flag=True, help="Make the user an admin.")
@_store_options
def create_user(username: str, is_admin: bool, **options: str | None) -> None:
    """Create USERNAME; the password is asked for (or read from TRACKLET_USER_PASSWORD)."""
    with _store(options) as store:
        store.create_user(username, _password(), is_admin=is_admin)
    click.echo(f"Created {'admin ' if is_admin else ''}user '{username}'.")


@users_group.command("set-password")
@click.argument("username")
@click.option("--admin", "make_admin", is_flag=True, help="Also make the user an admin.")
@_store_options
def set_password(username: str, make_admin: bool, **options: str | None) -> None:
    """Give USERNAME a new password (asked for, or read from TRACKLET_USER_PASSWORD); every server worker takes
    it at the user's next request."""
    with _store(options) as store:
        store.update_user_password(username, _password())
        if make_admin:
            store.update_user_admin(username, True)
    click.echo(f"Set the password of '{username}'{' and made it an admin' if make_admin else ''}.")


def _when(ms: int | None) -> str:
    return "never" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


@users_group.command("create-token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (e.g. 'nightly training').")
@click.option("--expires-in-days", type=int, default=None, help="Days until it expires (default: never).")
@click.option(
    "--scope",
    type=click.Choice(TOKEN_SCOPES),
    default=FULL_SCOPE,
    show_default=True,
    help="all: what the user may do; read: only what reads (dashboards, reports).",
)
@_store_options
def create_token(username: str, name: str, expires_in_days: int | None, scope: str, **options: str | None) -> None:
    """Make an access token of USERNAME and print its secret, the only time it is shown (jobs send it as
    MLFLOW_TRACKING_TOKEN). Only its hash is kept."""
    with _store(options) as store:
        token, secret = store.create_token(username, name, expires_in_days, scope)
    click.echo(secret)
    click.echo(
        f"Token {token.token_id} ('{token.name}', scope {token.scope}) of '{username}', "
        f"expires: {_when(token.expiration_time)}. "
        "Copy the secret now: it is not shown again.",
        err=True,
    )


@users_group.command("list-tokens")
@click.argument("username")
@_store_options
def list_tokens(username: str, **options: str | None) -> None:
    """USERNAME's access tokens: id, name, scope, created, expires, last used (never their secrets)."""
    with _store(options) as store:
        for token in store.list_tokens(username):
            times = (token.creation_time, token.expiration_time, token.last_used_time)
            click.echo("\t".join([str(token.token_id), token.name, token.scope, *map(_when, times)]))


@users_group.command("revoke-token")
@click.argument("token_id", type=int)
@_store_options
def revoke_token(token_id: int, **options: str | None) -> None:
    """Revoke the access token TOKEN_ID (see `list-tokens`); every server worker refuses it at once."""
    with _store(options) as store:
        store.revoke_token(token_id)
    click.echo(f"Revoked token {token_id}.")
