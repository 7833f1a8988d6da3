"""What the browser tests share: Debian's Chromium (driven by Playwright, never downloaded),
screenshots (tests/screenshots/, and docs/ui/ for those the documentation shows) and navigation."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
DOC_SHOTS = ROOT / "docs" / "ui"
CHROMIUM = os.environ.get("TRACKLET_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# Controls a screen reader could not name (no aria-label, label, title or text).
UNLABELLED = """() => {
  const name = (el) => (el.getAttribute('aria-label') || el.labels?.[0]?.textContent || el.title
                        || el.textContent || '').trim();
  return [...document.querySelectorAll('button, input, select, textarea, [role=columnheader][tabindex]')]
    .filter((el) => el.offsetParent !== null && !name(el))
    .map((el) => el.outerHTML.slice(0, 120));
}"""


def shot(page: Any, name: str, doc: bool = False, full_page: bool = True) -> None:
    """The whole page, or (`full_page=False`) what the window shows: a long table's first rows."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if doc:
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOC_SHOTS / f"{name}.png")


def goto(page: Any, hash_: str) -> None:
    page.goto(page.base + "/#" + hash_)


def edit_description(page: Any, text: str) -> None:
    """Through the description editor of a run, experiment, registered model or version."""
    page.click("#edit-description")
    page.fill("#description-input", text)
    page.click("#save-description")
    page.wait_for_selector(f"#description:has-text('{text}')")


def add_tag(page: Any, key: str, value: str) -> None:
    """Through the tag editor's form; waits for the tag's row."""
    page.fill("#new-tag-key", key)
    page.fill("#new-tag-value", value)
    page.click("#add-tag button")
    page.wait_for_selector(f"#tags-table tr[data-tag='{key}']")
