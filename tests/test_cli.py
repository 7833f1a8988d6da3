"""The `tracklet` command: options named as `mlflow server`'s, every setting documented, `db upgrade`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracklet.cli import cli
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
