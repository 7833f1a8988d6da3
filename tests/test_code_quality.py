"""The code stays as it is reviewed: lint-clean, formatted, and type-checked (versions pinned in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = ["src", "tests", "bench"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_lint_is_clean() -> None:
    result = _run("ruff", "check", "--no-cache", *CODE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted() -> None:
    result = _run("ruff", "format", "--check", "--no-cache", *CODE)
    assert result.returncode == 0, "run `ruff format src tests bench`:\n" + result.stdout + result.stderr


@pytest.mark.slow
def test_package_type_checks() -> None:
    result = _run("mypy", "--cache-dir", "/dev/null", "src")
    assert result.returncode == 0, result.stdout + result.stderr
