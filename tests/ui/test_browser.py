"""The web UI in a real headless Chromium (Debian's `chromium`, driven by Playwright) against a real
seeded `tracklet server`. Each test saves screenshots to tests/screenshots/ (and the documentation's
to docs/ui/) so a person can look at them.

Needs the `playwright` Python package (no browser download: it drives /usr/bin/chromium).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import SeededServer
from tests.ui.seed import T0, Client

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
DOC_SHOTS = ROOT / "docs" / "ui"
CHROMIUM = os.environ.get("TRACKLET_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need the `playwright` package: pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, ui_server: SeededServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: d.accept())
    pg.set_default_timeout(15_000)
    pg.base = ui_server.url  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page: Any, name: str, doc: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if doc:
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOC_SHOTS / f"{name}.png")


def goto(page: Any, hash_: str) -> None:
    page.goto(page.base + "/#" + hash_)


def row_names(page: Any) -> list[str]:
    page.wait_for_selector("#runs-table .tr[data-run-id]")
    return page.eval_on_selector_all("#runs-table .tr[data-run-id] a.run-link", "els => els.map(e => e.textContent)")


def test_experiments_list_create_rename_delete_restore(page: Any, ui_server: SeededServer) -> None:
    goto(page, "/")
    row = page.locator("#experiments tr", has_text="ui-demo")
    assert row.locator("td.num").inner_text() == "7"
    shot(page, "experiments", doc=True)

    page.fill("#new-experiment-name", "made-in-browser")
    page.click("#create-experiment")
    page.wait_for_selector("#experiment-name:has-text('made-in-browser')")
    goto(page, "/")
    made = page.locator("#experiments tr", has_text="made-in-browser")
    made.locator("button.rename").click()
    page.fill("input.rename", "renamed-in-browser")
    page.locator("input.rename").press("Enter")
    page.wait_for_selector("#experiments tr:has-text('renamed-in-browser')")
    page.locator("#experiments tr", has_text="renamed-in-browser").locator("button.delete").click()
    page.wait_for_selector("#experiments tr:has-text('renamed-in-browser')", state="detached")
    goto(page, "/?deleted=1")
    page.locator("#experiments tr", has_text="renamed-in-browser").locator("button.restore").click()
    page.wait_for_selector("#experiments tr:has-text('renamed-in-browser')", state="detached")
    goto(page, "/")
    page.wait_for_selector("#experiments tr:has-text('renamed-in-browser')")


def test_runs_table_sort_filter_and_bad_filter(page: Any, ui_server: SeededServer) -> None:
    goto(page, f"/experiments/{ui_server.data.experiment_id}?flat=1")
    assert len(row_names(page)) == 7
    page.wait_for_selector(".th[data-col='m:accuracy']")
    page.click(".th[data-col='m:accuracy']")  # metrics sort descending first
    page.wait_for_selector(".th[data-col='m:accuracy'] .sort")
    page.wait_for_function("document.querySelector('#runs-table a.run-link').textContent === 'gamma'")
    assert row_names(page)[:4] == ["gamma", "beta", "parent", "alpha"]
    page.click(".th[data-col='m:accuracy']")
    page.wait_for_function("document.querySelector('#runs-table a.run-link').textContent === 'alpha'")
    shot(page, "runs-table", doc=True)

    page.fill("#filter", "params.optimizer = 'sgd'")
    page.press("#filter", "Enter")
    page.wait_for_function("document.querySelectorAll('#runs-table .tr[data-run-id]').length === 2")
    assert sorted(row_names(page)) == ["gamma", "parent"]
    assert "filter=" in page.url

    page.fill("#filter", "params.lr >")
    page.press("#filter", "Enter")
    error = page.wait_for_selector(".filter-error:not([hidden])")
    assert "Invalid filter" in error.inner_text() and "params.lr >" in error.inner_text()
    shot(page, "runs-filter-error", doc=True)


def test_nested_runs_expand_under_their_parent(page: Any, ui_server: SeededServer) -> None:
    goto(page, f"/experiments/{ui_server.data.experiment_id}")
    assert sorted(row_names(page)) == ["alpha", "beta", "gamma", "live", "parent"]
    page.locator(".tr", has_text="parent").locator("button.expand").click()
    page.wait_for_function("document.querySelectorAll('#runs-table .tr[data-run-id]').length === 7")
    names = row_names(page)
    i = names.index("parent")
    assert sorted(names[i + 1 : i + 3]) == ["child-1", "child-2"]
    shot(page, "runs-nested", doc=True)


def test_csv_download(page: Any, ui_server: SeededServer) -> None:
    goto(page, f"/experiments/{ui_server.data.experiment_id}?flat=1")
    row_names(page)
    with page.expect_download() as info:
        page.click("#csv")
    text = Path(info.value.path()).read_text()
    assert text.startswith("run_id,run_name") and len(text.strip().splitlines()) == 8


def test_run_page_params_metrics_description_tags(page: Any, ui_server: SeededServer) -> None:
    alpha = ui_server.data.runs["alpha"]
    goto(page, f"/runs/{alpha}")
    page.wait_for_selector("#params")
    assert "0.1" in page.locator("#params tr", has_text="lr").inner_text()
    assert "train.py" in page.inner_text("#overview") and "0123abcd" in page.inner_text("#overview")
    assert "alpha-model" in page.inner_text("#models")
    shot(page, "run-overview", doc=True)

    page.click("#edit-description")
    page.fill("#description-input", "Edited in the browser.")
    page.click("#save-description")
    page.wait_for_selector("#description:has-text('Edited in the browser.')")
    page.fill("#new-tag-key", "stage")
    page.fill("#new-tag-value", "candidate")
    page.locator("#add-tag button").click()
    page.wait_for_selector("#tags tr[data-tag='stage']")
    page.locator("#tags tr[data-tag='stage'] button.delete-tag").click()
    page.wait_for_selector("#tags tr[data-tag='stage']", state="detached")
    run = ui_server.http.get("/api/2.0/mlflow/runs/get", params={"run_id": alpha}).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.note.content"] == "Edited in the browser." and "stage" not in tags


def chart_points(page: Any, metric: str) -> int:
    return int(page.get_attribute(f".chart-card[data-metric='{metric}'] .chart", "data-points") or 0)


def test_metric_chart_draws_points_and_zooms(page: Any, ui_server: SeededServer) -> None:
    goto(page, f"/runs/{ui_server.data.runs['alpha']}?tab=metrics")
    page.wait_for_function(
        "Number(document.querySelector(\".chart-card[data-metric='loss'] .chart\")?.dataset.points) > 0"
    )
    assert chart_points(page, "loss") == 200
    inked = page.evaluate(
        """() => { const c = document.querySelector(".chart-card[data-metric='loss'] canvas");
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] > 150 && d[i + 1] < 80)) n++;
                   return n; }"""
    )
    assert inked > 100  # red series pixels on the canvas
    shot(page, "run-metrics", doc=True)

    box = page.locator(".chart-card[data-metric='loss'] canvas").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "Number(document.querySelector(\".chart-card[data-metric='loss'] .chart\").dataset.points) < 200"
    )
    assert 0 < chart_points(page, "loss") < 200
    page.locator(".chart-card[data-metric='loss'] canvas").dblclick()
    page.wait_for_function(
        "Number(document.querySelector(\".chart-card[data-metric='loss'] .chart\").dataset.points) === 200"
    )
    page.check(".log-scale")
    page.fill(".smoothing", "0.8")
    page.dispatch_event(".smoothing", "input")
    shot(page, "run-metrics-log-smoothed")


def test_running_run_chart_updates_live(page: Any, ui_server: SeededServer) -> None:
    live = ui_server.data.runs["live"]
    goto(page, f"/runs/{live}?tab=metrics")
    page.wait_for_function(
        "Number(document.querySelector(\".chart-card[data-metric='loss'] .chart\")?.dataset.points) === 20"
    )
    Client(ui_server.url).log_batch(
        live,
        metrics=[{"key": "loss", "value": 0.01 * i, "timestamp": T0 + 100_000 + i, "step": 20 + i} for i in range(10)],
    )
    page.wait_for_function(
        "Number(document.querySelector(\".chart-card[data-metric='loss'] .chart\").dataset.points) === 30",
        timeout=20_000,
    )


def test_artifact_previews(page: Any, ui_server: SeededServer) -> None:
    goto(page, f"/runs/{ui_server.data.runs['alpha']}?tab=artifacts")

    def open_file(folder: str | None, path: str) -> None:
        if folder:
            page.click(f"#artifact-tree a.dir[data-path='{folder}']")
        page.click(f"#artifact-tree a.file[data-path='{path}']")

    open_file("plots", "plots/curve.png")
    img = page.wait_for_selector("#artifact-preview img.artifact-image")
    page.wait_for_function("document.querySelector('#artifact-preview img').complete")
    assert img.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [64, 48]
    shot(page, "artifacts-image", doc=True)

    open_file("config", "config/params.json")
    assert '"layers": [' in page.wait_for_selector("#artifact-preview pre.json").inner_text()
    page.click("#artifact-tree a.file[data-path='config/conf.yaml']")
    page.wait_for_selector("#artifact-preview pre:has-text('optimizer: adam')")
    open_file("logs", "logs/train.log")
    page.wait_for_selector("#artifact-preview pre:has-text('epoch 3 loss 0.3')")
    open_file("data", "data/table.csv")
    cells = page.wait_for_selector("#artifact-preview table.csv-table")
    assert cells.eval_on_selector_all("tbody tr", "rs => rs.length") == 3
    shot(page, "artifacts-csv", doc=True)
    open_file(None, "report.html")
    frame = page.wait_for_selector("#artifact-preview iframe.artifact-html")
    assert frame.get_attribute("sandbox") == ""
    assert "Report" in frame.content_frame().inner_text("#r")
    page.click("#artifact-tree a.dir[data-path='model']")
    page.wait_for_selector("#artifact-preview pre.mlmodel:has-text('flavors')")
    shot(page, "artifacts-mlmodel", doc=True)


def test_compare_view_with_parallel_coordinates(page: Any, ui_server: SeededServer) -> None:
    goto(page, f"/experiments/{ui_server.data.experiment_id}?flat=1")
    row_names(page)
    for name in ("alpha", "beta", "gamma"):
        page.locator(".tr", has_text=name).locator("input.select").check()
    page.click("#compare")
    svg = page.wait_for_selector("#parallel-coordinates svg.pc")
    assert svg.get_attribute("data-lines") == "3"
    assert svg.eval_on_selector_all("path.pc-line", "ps => ps.filter(p => p.getAttribute('d').length > 10).length") == 3
    assert int(page.get_attribute("#scatter svg", "data-points") or 0) == 3
    page.wait_for_function(
        "Number(document.querySelector(\".chart-card[data-metric='loss'] .chart\")?.dataset.points) > 0"
    )
    diff_rows = page.eval_on_selector_all("#diff-table tr.diff", "rs => rs.map(r => r.dataset.key)")
    assert "params.lr" in diff_rows and "params.optimizer" in diff_rows
    shot(page, "compare", doc=True)


def test_delete_and_restore_runs(page: Any, ui_server: SeededServer) -> None:
    exp = ui_server.data.experiment_id
    goto(page, f"/experiments/{exp}?flat=1")
    row_names(page)
    page.locator(".tr", has_text="beta").locator("input.select").check()
    page.click("#delete-runs")
    page.wait_for_function(
        "![...document.querySelectorAll('#runs-table a.run-link')].some(a => a.textContent === 'beta')"
    )
    assert len(row_names(page)) == 6
    page.check("#show-deleted")
    page.wait_for_selector("#restore-runs")
    assert row_names(page) == ["beta"]
    shot(page, "runs-deleted")
    page.locator(".tr", has_text="beta").locator("input.select").check()
    page.click("#restore-runs")
    page.wait_for_selector("#runs-table .empty")
    goto(page, f"/experiments/{exp}?flat=1")
    page.wait_for_function("document.querySelectorAll('#runs-table .tr[data-run-id]').length === 7")
