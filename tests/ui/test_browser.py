"""The web UI in a real headless Chromium (Debian's `chromium`, driven by Playwright) against a real
seeded `tracklet server`. Each test saves screenshots to tests/screenshots/ (and the documentation's
to docs/ui/) so a person can look at them.

Needs the `playwright` Python package (no browser download: it drives /usr/bin/chromium); the
`browser` and `page` fixtures are in conftest.py, the helpers in browsing.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ui.browsing import UNLABELLED, add_tag, edit_description, goto, shot
from tests.ui.conftest import SeededServer
from tests.ui.seed import T0, Client

pytestmark = pytest.mark.browser


def row_names(page: Any) -> list[str]:
    page.wait_for_selector("#runs-table .tr[data-run-id]")
    return page.eval_on_selector_all("#runs-table .tr[data-run-id] a.run-link", "els => els.map(e => e.textContent)")


def test_experiments_list_create_rename_delete_restore(page: Any, ui_server: SeededServer) -> None:
    goto(page, "/")
    row = page.locator("#experiments tr", has_text="ui-demo")
    assert row.locator("td.num").inner_text() == "7"
    assert row.locator("a.permissions").count() == 0  # a server without users has no permissions to show
    assert page.is_hidden("#user")
    shot(page, "experiments", doc=True)
    page.fill("#find-experiment", "DEMO")  # as you type, any case
    page.wait_for_function("document.querySelectorAll('#experiments tbody tr').length === 1")
    page.fill("#find-experiment", "no-such-experiment")
    page.wait_for_selector("#no-experiment-matches")
    page.fill("#find-experiment", "")
    page.wait_for_selector("#experiments tr:has-text('ui-empty')")

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

    edit_description(page, "Edited in the browser.")
    add_tag(page, "stage", "candidate")
    page.locator("#tags tr[data-tag='stage'] button.delete-tag").click()
    page.wait_for_selector("#tags tr[data-tag='stage']", state="detached")
    run = ui_server.http.get("/api/2.0/mlflow/runs/get", params={"run_id": alpha}).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.note.content"] == "Edited in the browser." and "stage" not in tags


def test_the_run_link_mlflows_client_prints_opens_the_run(page: Any, ui_server: SeededServer) -> None:
    alpha = ui_server.data.runs["alpha"]
    experiment_id = ui_server.http.get("/api/2.0/mlflow/runs/get", params={"run_id": alpha}).json()["run"]["info"][
        "experiment_id"
    ]
    goto(page, f"/experiments/{experiment_id}/runs/{alpha}")
    page.wait_for_selector("#params")
    assert "0.1" in page.locator("#params tr", has_text="lr").inner_text()


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


def table_requests(page: Any) -> list[dict[str, Any]]:
    """Record the JSON bodies of the page's runs-table requests (and the URLs of the others)."""
    seen: list[dict[str, Any]] = []

    def on_request(request: Any) -> None:
        if "/api/" in request.url:
            body = request.post_data_json if request.method == "POST" else None
            seen.append({"url": request.url, "body": body})

    page.on("request", on_request)
    return seen


def test_runs_page_first_screen_is_one_table_request_with_default_columns(page: Any, ui_server: SeededServer) -> None:
    seen = table_requests(page)
    goto(page, f"/experiments/{ui_server.data.experiment_id}?flat=1")
    page.wait_for_selector(".th[data-col='p:fold']")  # default columns: the first page's own keys
    assert len(row_names(page)) == 7
    tables = [r for r in seen if r["url"].endswith("/api/tracklet/runs/table")]
    assert len(tables) == 1 and tables[0]["body"]["default_columns"] == 20
    assert not any("/runs/keys" in r["url"] for r in seen)  # the full key list waits for the chooser
    assert page.locator(f"#runs-table .tr[data-run-id='{ui_server.data.runs['alpha']}'] .td").count() > 6
    page.click("#columns")
    page.wait_for_selector(".chooser input[data-key='tags.team']")
    assert any("/runs/keys" in r["url"] for r in seen)
    page.uncheck(".chooser input[data-key='params.fold']")
    page.wait_for_selector(".th[data-col='p:fold']", state="detached")
    page.reload()  # the choice is remembered: no default columns asked any more
    page.wait_for_selector(".th[data-col='p:layers']")
    assert page.locator(".th[data-col='p:fold']").count() == 0
    assert [r["body"].get("default_columns") for r in seen if r["url"].endswith("/runs/table")][-1] == 0


def test_nested_runs_under_a_filter_show_matching_children_under_their_parent(
    page: Any, ui_server: SeededServer
) -> None:
    goto(page, f"/experiments/{ui_server.data.experiment_id}?filter=params.fold%20%3D%20%270%27")
    assert row_names(page) == ["parent"]  # only child-1 matches; its parent is shown for context
    parent = page.locator(".tr", has_text="parent")
    assert "context" in (parent.get_attribute("class") or "")
    assert "1 run matching" in page.inner_text(".count")
    parent.locator("button.expand").click()
    page.wait_for_function("document.querySelectorAll('#runs-table .tr[data-run-id]').length === 2")
    assert row_names(page) == ["parent", "child-1"]
    shot(page, "runs-nested-filter", doc=True)
    page.uncheck("#nested")  # flat: the matching runs only
    page.wait_for_function("document.querySelector('#runs-table a.run-link')?.textContent === 'child-1'")
    assert row_names(page) == ["child-1"]


def test_select_all_acts_on_every_matching_run_in_one_request(page: Any, ui_server: SeededServer) -> None:
    c = Client(ui_server.url)
    exp = c.create_experiment("many-runs")
    for i in range(1100):
        c.post("/runs/create", {"experiment_id": exp, "run_name": f"r{i:04d}", "start_time": T0 + i})
    keep = c.post("/runs/create", {"experiment_id": exp, "run_name": "keep-me", "start_time": T0})
    seen = table_requests(page)
    goto(page, f"/experiments/{exp}?filter=attributes.run_name%20LIKE%20%27r%25%27")
    row_names(page)
    page.click("#select-all")
    page.wait_for_selector(".selection:has-text('All 1,100 run(s) matching the filter selected')")
    page.locator(".tr", has_text="r1099").locator("input.select").uncheck()  # one exception
    page.wait_for_selector(".selection:has-text('All 1,099')")
    shot(page, "runs-select-all")
    page.click("#delete-runs")
    page.wait_for_function("document.querySelectorAll('#runs-table .tr[data-run-id]').length === 1")
    assert row_names(page) == ["r1099"]
    deletes = [r for r in seen if r["url"].endswith("/runs/delete")]
    assert len(deletes) == 1 and deletes[0]["body"]["filter"] == "attributes.run_name LIKE 'r%'"
    active = ui_server.http.post("/api/tracklet/runs/table", json={"experiment_ids": [exp], "limit": 10}).json()
    assert active["total"] == 2 and {r["run_name"] for r in active["rows"]} == {"r1099", "keep-me"}
    assert keep["run"]["info"]["run_id"] in {r["run_id"] for r in active["rows"]}

    page.check("#show-deleted")
    page.wait_for_selector("#restore-runs")
    row_names(page)
    page.click("#select-all")
    page.wait_for_selector(".selection:has-text('All 1,099')")
    page.click("#restore-runs")
    page.wait_for_selector("#runs-table .empty")
    assert ui_server.http.post("/api/tracklet/runs/table", json={"experiment_ids": [exp]}).json()["total"] == 1101


def test_a_runs_logged_model_opens_with_its_artifacts_and_mlmodel(page: Any, ui_server: SeededServer) -> None:
    goto(page, f"/runs/{ui_server.data.runs['alpha']}")
    page.click("#models a.model-link:has-text('alpha-model')")
    page.wait_for_selector("#model-name:has-text('alpha-model')")
    assert page.get_attribute("#source-run", "href") == f"#/runs/{ui_server.data.runs['alpha']}"
    mlmodel = page.wait_for_selector("#artifact-preview pre.mlmodel:has-text('flavors')")
    assert "model_id: alpha-model-id" in mlmodel.inner_text()
    assert "null" not in page.inner_text("#artifact-preview")
    shot(page, "model-artifacts", doc=True)
    page.click("#artifact-tree a.file[data-path='requirements.txt']")
    page.wait_for_selector("#artifact-preview pre:has-text('scikit-learn==1.5')")
    page.click("#artifact-tree a.dir[data-path='metadata']")
    page.click("#artifact-tree a.file[data-path='metadata/input_example.json']")
    assert '"columns": [' in page.wait_for_selector("#artifact-preview pre.json").inner_text()
    page.click("#artifact-tree a.file[data-path='model.pkl']")
    page.wait_for_selector("#artifact-preview :text('Binary file: no preview.')")
    href = page.get_attribute("#artifact-preview a.download", "href")
    assert ui_server.http.get(href).content == bytes(range(256))


def test_keyboard_sorting_selection_labels_and_visible_focus(page: Any, ui_server: SeededServer) -> None:
    exp = ui_server.data.experiment_id
    goto(page, f"/experiments/{exp}?flat=1")
    row_names(page)
    assert page.evaluate(UNLABELLED) == []
    header = page.locator(".th[data-col='m:accuracy']")
    header.focus()
    page.keyboard.press("Enter")  # metrics sort descending first
    page.wait_for_function("document.querySelector('#runs-table a.run-link').textContent === 'gamma'")
    assert page.evaluate("document.activeElement.dataset.col") == "m:accuracy"  # focus survives the redraw
    assert header.get_attribute("aria-sort") == "descending"
    page.keyboard.press(" ")
    page.wait_for_function("document.querySelector('#runs-table a.run-link').textContent === 'alpha'")
    assert page.locator(".th[data-col='m:accuracy']").get_attribute("aria-sort") == "ascending"
    box = page.locator(".tr", has_text="beta").locator("input.select")
    assert box.get_attribute("aria-label") == "Select run beta"
    box.focus()
    page.keyboard.press(" ")
    page.wait_for_selector(".selection:has-text('1 selected')")
    page.focus("#filter")
    page.keyboard.press("Tab")  # to the Search button, by keyboard: its focus ring shows
    assert page.evaluate("document.activeElement.id") == "search"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    shot(page, "runs-keyboard-focus")
    for where in ("/", f"/runs/{ui_server.data.runs['alpha']}", f"/models/{ui_server.data.model_id}"):
        goto(page, where)
        page.wait_for_selector("main h1")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNLABELLED) == [], where


def test_an_experiments_about_tab_edits_its_description_and_tags(page: Any, ui_server: SeededServer) -> None:
    exp = ui_server.data.other_experiment_id
    goto(page, f"/experiments/{exp}")
    page.click("#tab-about")
    page.wait_for_selector("#experiment-details")
    assert page.inner_text("#experiment-name") == "ui-empty"
    edit_description(page, "Runs that found nothing.")
    add_tag(page, "owner", "ada")
    shot(page, "experiment-about", doc=True)
    tags = {t["key"]: t["value"] for t in experiment(ui_server, exp)["tags"]}
    assert tags == {"mlflow.note.content": "Runs that found nothing.", "owner": "ada"}
    page.click("#tags-table button[aria-label='Delete tag owner']")
    page.wait_for_selector("#tags p.muted:has-text('None.')")
    assert [t["key"] for t in experiment(ui_server, exp)["tags"]] == ["mlflow.note.content"]


def experiment(ui_server: SeededServer, experiment_id: str) -> dict[str, Any]:
    answer = ui_server.http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id})
    return answer.json()["experiment"]  # type: ignore[no-any-return]


def test_an_experiments_models_tab_lists_and_filters_its_logged_models(page: Any, ui_server: SeededServer) -> None:
    exp = ui_server.data.experiment_id
    goto(page, f"/experiments/{exp}/models")
    page.wait_for_selector("#logged-models")
    row = page.locator(f"#logged-models tr[data-model-id='{ui_server.data.model_id}']")
    assert row.locator("a.run-link").inner_text() == "alpha"
    assert "sklearn" in row.inner_text()
    shot(page, "experiment-models", doc=True)
    page.fill("#model-filter", "name = 'no-such-model'")
    page.click("#search-models")
    page.wait_for_selector("text=No logged model matches.")
    assert "filter=" in page.url
    page.fill("#model-filter", "name =")
    page.click("#search-models")
    page.wait_for_selector(".filter-error:not([hidden])")
    page.fill("#model-filter", "name = 'alpha-model'")
    page.click("#search-models")
    page.click("#logged-models a.model-link")
    page.wait_for_selector("#model-name:has-text('alpha-model')")


def test_a_run_is_renamed_deleted_and_restored_from_its_page(page: Any, ui_server: SeededServer) -> None:
    c = Client(ui_server.url)
    run_id = c.create_run(ui_server.data.other_experiment_id, "misnamed", T0)

    def stored() -> dict[str, Any]:
        return c.http.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]["info"]  # type: ignore[no-any-return]

    goto(page, f"/runs/{run_id}")
    page.click("#rename-run")
    page.fill("#run-name-input", "well-named")
    page.click("#save-run-name")
    page.wait_for_selector("#run-name:has-text('well-named')")
    assert stored()["run_name"] == "well-named"
    page.click("#delete-run")  # confirmed by the fixture
    page.wait_for_selector(".toolbar .status.deleted")
    assert stored()["lifecycle_stage"] == "deleted"
    page.click("#restore-run")
    page.wait_for_selector("#delete-run")
    assert stored()["lifecycle_stage"] == "active"
    assert page.locator(".toolbar .status.deleted").count() == 0


def test_a_runs_page_shows_the_datasets_it_used(page: Any, ui_server: SeededServer) -> None:
    goto(page, f"/runs/{ui_server.data.runs['alpha']}")
    row = page.wait_for_selector("#datasets tr[data-name='wine-quality']")
    assert [c.strip() for c in row.inner_text().split("\t")][:4] == ["wine-quality", "3f9a1c2e", "training", "local"]
    page.click("#datasets summary")
    assert '"num_rows": 4898' in page.inner_text("#datasets")
    assert page.locator("#datasets tr[data-name]").count() == 1
    goto(page, f"/runs/{ui_server.data.runs['beta']}")  # no datasets
    page.wait_for_selector("#overview")
    assert page.locator("#datasets").count() == 0


def test_system_metrics_are_charted_apart_from_the_models_own(page: Any, ui_server: SeededServer) -> None:
    c = Client(ui_server.url)
    run_id = c.create_run(ui_server.data.other_experiment_id, "with-system-metrics", T0)
    points = [{"key": "loss", "value": 1 / (i + 1), "timestamp": T0 + i, "step": i} for i in range(5)]
    points += [{"key": "system/cpu_utilization_percentage", "value": 20.0 + i, "timestamp": T0 + i, "step": i}
               for i in range(5)]  # fmt: skip
    c.log_batch(run_id, metrics=points)
    goto(page, f"/runs/{run_id}?tab=metrics")
    page.wait_for_selector("#system-metrics")
    panels = page.locator(".chart-panel")
    assert panels.count() == 2
    assert panels.nth(0).locator(".chart-card").evaluate_all("els => els.map(e => e.dataset.metric)") == ["loss"]
    assert panels.nth(1).locator(".chart-card").evaluate_all("els => els.map(e => e.dataset.metric)") == [
        "system/cpu_utilization_percentage"
    ]
    page.wait_for_function(
        "Number(document.querySelector(\".chart-card[data-metric='system/cpu_utilization_percentage'] .chart\")"
        "?.dataset.points) === 5"
    )
