"""The `tracklet` command: options named as `mlflow server`'s, every setting documented, `db upgrade`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tracklet.cli import LazyGroup, cli
from tracklet.settings import SETTINGS
from tracklet.store.migrations import current_revision
from tracklet.store.store import Store

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_server_options_carry_mlflow_server_names() -> None:
    help_text = CliRunner().invoke(cli, ["server", "--help"]).output
    for option in ("--host", "--port", "--backend-store-uri", "--artifacts-destination", "--workers"):
        assert option in help_text


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented_in_the_readme(setting) -> None:  # type: ignore[no-untyped-def]
    assert setting.env in README, f"{setting.env} is not documented in README.md"


def test_every_command_is_listed() -> None:
    output = CliRunner().invoke(cli, ["--help"]).output
    for command in ("server", "db", "gc", "models", "run", "users", "import-mlflow"):
        assert command in output


@pytest.mark.parametrize("name", sorted(LazyGroup.lazy))
def test_the_help_listed_for_a_lazy_command_is_its_own(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.get_short_help_str(limit=1000) == LazyGroup.lazy[name][1]


def test_the_list_of_commands_imports_none_of_them() -> None:
    listed = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom tracklet.cli import cli\ntry:\n    cli(['--help'])\n"
         "except SystemExit:\n    print(sorted(m for m in sys.modules if m.startswith(('pandas', 'tracklet.migrate', "
         "'tracklet.models', 'tracklet.admin', 'tracklet.client.browse_cli'))))"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "import-mlflow" in listed.stdout and listed.stdout.rstrip().endswith("[]")


def test_db_upgrade_brings_a_new_store_to_the_latest_revision(store_uri: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tracklet", "db", "upgrade", "--backend-store-uri", store_uri],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    store = Store(store_uri, migrate=False)
    revision = current_revision(store.db.engine)
    store.close()
    assert revision is not None and revision in result.stdout


def test_an_unsupported_store_uri_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tracklet", "db", "upgrade", "--backend-store-uri", "mysql://nowhere/db"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.startswith("Error: Unsupported backend store URI")
