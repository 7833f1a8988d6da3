"""An experiment's Datasets and Scorers tabs in a real headless Chromium, on evaluation datasets and
registered scorers the official MLflow client made on a real `tracklet server` (tests/ui/seed_genai.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import TrackletServer
from tests.ui.browsing import ROOT, UNLABELLED, goto, shot
from tests.ui.conftest import SeededServer
from tests.ui.seed_genai import JUDGE_INSTRUCTIONS, LONG_CONTEXT

pytestmark = pytest.mark.browser


@dataclass
class GenAI:
    experiment_id: str
    other_experiment_id: str
    datasets: dict[str, str]  # name -> dataset id


@pytest.fixture(scope="module")
def genai(ui_server: SeededServer) -> GenAI:
    done = subprocess.run(
        [sys.executable, "-m", "tests.ui.seed_genai", ui_server.url],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return GenAI(out["experiment_id"], out["other_experiment_id"], out["datasets"])


def texts(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent.trim())")  # type: ignore[no-any-return]


def test_the_datasets_tab_lists_an_experiments_datasets_and_searches_them_by_name(page: Any, genai: GenAI) -> None:
    goto(page, f"/experiments/{genai.experiment_id}")
    page.click("#tab-datasets")
    page.wait_for_selector("#datasets tbody tr")
    assert texts(page, "#datasets a.dataset-link") == ["empty-set", "smoke-set", "qa-golden"]  # newest first
    golden = f"#datasets tr[data-dataset-id='{genai.datasets['qa-golden']}']"
    assert page.inner_text(f"{golden} td.records") == "120"
    assert page.inner_text(f"#datasets tr[data-dataset-id='{genai.datasets['empty-set']}'] td.records") == "0"
    assert page.inner_text(f"#datasets tr[data-dataset-id='{genai.datasets['smoke-set']}'] td.records") == "3"
    assert texts(page, f"{golden} .tag-chip") == ["stage: gold", "team: ml"]  # not the client's mlflow.user
    assert "by " in page.inner_text(f"{golden}")  # who made it (the client's mlflow.user tag)
    assert genai.datasets["qa-golden"] in page.inner_text(golden)
    assert page.evaluate(UNLABELLED) == []
    shot(page, "experiment-datasets", doc=True)

    page.fill("#dataset-search", "GOLD")  # part of the name, any case
    page.click("#find-datasets button")
    page.wait_for_function("document.querySelectorAll('#datasets tbody tr').length === 1")
    assert texts(page, "#datasets a.dataset-link") == ["qa-golden"]
    assert "q=GOLD" in page.url
    page.fill("#dataset-search", "no-such-set")
    page.click("#find-datasets button")
    page.wait_for_selector("#no-datasets:has-text('No dataset of this experiment matches.')")

    # Only the datasets linked to the experiment: the other one has just 'smoke-set'.
    goto(page, f"/experiments/{genai.other_experiment_id}/datasets")
    page.wait_for_selector("#datasets tbody tr")
    assert texts(page, "#datasets a.dataset-link") == ["smoke-set"]
    goto(page, f"/experiments/{ui_server_experiment(page)}/datasets")
    page.wait_for_selector("#no-datasets:has-text('No evaluation datasets in this experiment yet')")


def ui_server_experiment(page: Any) -> str:
    """The seeded 'ui-demo' experiment: it has no datasets."""
    return page.evaluate(
        "fetch('/api/2.0/mlflow/experiments/get-by-name?experiment_name=ui-demo').then(r => r.json())"
        ".then(r => r.experiment.experiment_id)"
    )  # type: ignore[no-any-return]


def test_a_dataset_page_shows_its_records_readably_in_keyset_pages(page: Any, genai: GenAI) -> None:
    goto(page, f"/experiments/{genai.experiment_id}/datasets")
    page.click("#datasets a.dataset-link:has-text('qa-golden')")
    page.wait_for_selector("#dataset-records tbody tr")
    assert page.inner_text("#dataset-name") == "qa-golden"
    assert page.inner_text("#dataset-record-count") == "120"
    assert texts(page, "#tags-table tr[data-tag] td:first-child") == ["mlflow.user", "stage", "team"]
    assert texts(page, "#dataset-experiments a.experiment-link") == ["ui-genai"]
    assert page.inner_text("#records-range") == "Records 1–50 of 120"
    assert page.locator("#dataset-records tbody tr").count() == 50
    assert page.is_disabled("#records-prev") and page.is_enabled("#records-next")

    first = page.locator("#dataset-records tbody tr").nth(0)
    inputs = first.locator("td.inputs")
    shown = inputs.locator("pre").inner_text()
    assert '"question": "What does the fox do?"' in shown  # indented JSON
    assert LONG_CONTEXT not in shown and shown.endswith("…")  # the long context is clipped...
    page.set_viewport_size({"width": 1400, "height": 1300})
    shot(page, "dataset-records", doc=True, full_page=False)  # the first rows
    page.set_viewport_size({"width": 1400, "height": 900})
    inputs.locator("button.show-all").click()  # ...until asked for whole
    assert LONG_CONTEXT.strip() in inputs.locator("pre").inner_text()
    assert inputs.locator("button.show-all").get_attribute("aria-expanded") == "true"
    inputs.locator("button.show-all").click()
    assert LONG_CONTEXT not in inputs.locator("pre").inner_text()

    second = page.locator("#dataset-records tbody tr").nth(1)
    assert json.loads(second.locator("td.outputs pre").inner_text()) == {"answer": "4", "confidence": 0.99}
    assert json.loads(second.locator("td.tags pre").inner_text()) == {"difficulty": "easy"}  # not mlflow.user
    assert first.locator("td.tags").inner_text() == "—"
    assert "human" in second.locator("td.source").inner_text() and "ada" in second.locator("td.source").inner_text()
    third = page.locator("#dataset-records tbody tr").nth(2)
    facts = json.loads(third.locator("td.expectations pre").inner_text())["facts"]
    assert facts == ["Paris is in France", "It is the capital"]
    assert third.locator("td.source a.trace-link").get_attribute("href") == "#/traces/tr-0123456789abcdef"
    assert first.locator("td.outputs").inner_text() == "{}"  # a record merged without outputs has {}
    assert page.evaluate(UNLABELLED) == []

    page.click("#records-next")
    page.wait_for_selector("#records-range:has-text('Records 51–100 of 120')")
    assert "question number 51?" in page.locator("#dataset-records tbody tr").nth(0).inner_text()
    page.click("#records-next")
    page.wait_for_selector("#records-range:has-text('Records 101–120 of 120')")
    assert page.locator("#dataset-records tbody tr").count() == 20
    assert page.is_disabled("#records-next")
    assert "question number 120?" in page.locator("#dataset-records tbody tr").nth(19).inner_text()
    page.click("#records-prev")
    page.wait_for_selector("#records-range:has-text('Records 51–100 of 120')")
    page.click("#records-prev")
    page.wait_for_selector("#records-range:has-text('Records 1–50 of 120')")
    assert "What does the fox do?" in page.locator("#dataset-records tbody tr").nth(0).inner_text()

    page.click("#dataset-experiment-link")  # back to the experiment's datasets
    page.wait_for_selector("#tab-datasets[aria-current='page']")
    assert f"#/experiments/{genai.experiment_id}/datasets" in page.url


def test_a_dataset_links_the_experiments_it_belongs_to(page: Any, genai: GenAI) -> None:
    goto(page, f"/datasets/{genai.datasets['smoke-set']}")
    page.wait_for_selector("#dataset-records tbody tr")
    assert texts(page, "#dataset-experiments a.experiment-link") == ["ui-genai", "ui-genai-other"]
    assert page.inner_text("#records-range") == "Records 1–3 of 3"
    assert page.is_disabled("#records-next")
    # Python's JSON (MLflow's) writes NaN, which JSON.parse refuses: the page reads it as null.
    raw = page.evaluate(
        f"fetch('/api/3.0/mlflow/datasets/{genai.datasets['smoke-set']}/records').then(r => r.json())"
        ".then(r => r.records)"
    )
    assert '"score": NaN' in raw
    assert page.locator("#dataset-records tbody tr").nth(2).locator("td.inputs").inner_text() == (
        '{"q": "unknown", "score": null}'
    )
    page.click("#dataset-experiments a.experiment-link:has-text('ui-genai-other')")
    page.wait_for_selector("#datasets a.dataset-link:has-text('smoke-set')")

    goto(page, f"/datasets/{genai.datasets['empty-set']}")
    page.wait_for_selector("#no-records")
    assert page.inner_text("#dataset-record-count") == "0"
    goto(page, "/datasets/d-00000000000000000000000000000000")
    page.wait_for_selector("p.error:has-text('not found')")


def test_the_scorers_tab_lists_each_scorers_latest_version_and_shows_its_definition(page: Any, genai: GenAI) -> None:
    goto(page, f"/experiments/{genai.experiment_id}/about")
    page.click("#tab-scorers")
    page.wait_for_selector("#scorers tbody tr")
    assert texts(page, "#scorers a.scorer-link") == ["correctness", "polite"]
    polite = "#scorers tr[data-scorer='polite']"
    assert "Version 2" in page.inner_text(polite)
    assert page.inner_text(f"{polite} td.kind") == "Built-in judge: Guidelines"
    assert page.inner_text("#scorers tr[data-scorer='correctness'] td.kind") == "LLM judge (make_judge)"
    assert page.inner_text("#scorers tr[data-scorer='correctness'] td.model") == "openai:/gpt-4o-mini"
    shot(page, "experiment-scorers", doc=True)

    page.click("#scorers a.scorer-link:has-text('correctness')")
    page.wait_for_selector("#scorer-definition")
    assert page.inner_text("#scorer-instructions") == JUDGE_INSTRUCTIONS
    assert page.inner_text("#scorer-definition td.model") == "openai:/gpt-4o-mini"
    serialized = json.loads(page.inner_text("#scorer-serialized"))  # the whole definition, indented
    assert serialized["instructions_judge_pydantic_data"]["model"] == "openai:/gpt-4o-mini"
    assert "\n  " in page.inner_text("#scorer-serialized")
    assert page.evaluate(UNLABELLED) == []
    shot(page, "scorer", doc=True)

    goto(page, f"/experiments/{genai.experiment_id}/scorers/polite")
    page.wait_for_selector("#scorer-guidelines")
    assert texts(page, "#scorer-versions a.version-link") == ["Version 2", "Version 1"]  # newest first
    assert page.inner_text("#scorer-guidelines") == "Be polite and brief."
    page.click("#scorer-versions a.version-link:has-text('Version 1')")
    page.wait_for_selector("#scorer-version h2:has-text('Version 1')")
    assert page.inner_text("#scorer-guidelines") == "Be polite."
    assert "version=1" in page.url
    page.reload()  # the chosen version is in the address
    page.wait_for_selector("#scorer-guidelines:has-text('Be polite.')")
    assert page.inner_text("#scorer-version h2") == "Version 1"

    goto(page, f"/experiments/{genai.experiment_id}/scorers/no-such-scorer")
    page.wait_for_selector("p.error:has-text(\"Scorer with name 'no-such-scorer' not found\")")
    goto(page, f"/experiments/{genai.other_experiment_id}/scorers")
    page.wait_for_selector("#no-scorers")


# ---- with --auth ---------------------------------------------------------------------------------

ADMIN = ("admin", "admin-password-genai")


@pytest.fixture(scope="module")
def guarded_genai(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TrackletServer, GenAI]]:
    """A server with `--auth` whose admin seeded the datasets and scorers with the official client."""
    tmp: Path = tmp_path_factory.mktemp("ui-genai-auth")
    env = {"TRACKLET_AUTH": "1", "TRACKLET_ADMIN_PASSWORD": ADMIN[1]}
    server = TrackletServer(f"sqlite:///{tmp / 'tracklet.db'}", str(tmp / "artifacts"), env=env).start()
    try:
        signed_in = {**os.environ, "MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}
        done = subprocess.run(
            [sys.executable, "-m", "tests.ui.seed_genai", server.url],
            cwd=ROOT, capture_output=True, text=True, timeout=300, env=signed_in,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-4000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        yield server, GenAI(out["experiment_id"], out["other_experiment_id"], out["datasets"])
    finally:
        server.stop()


def test_with_auth_a_user_kept_out_of_an_experiment_is_told_why_on_its_datasets_and_scorers(
    browser: Any, guarded_genai: tuple[TrackletServer, GenAI]
) -> None:
    server, genai = guarded_genai
    reader, outsider = [(f"u{uuid.uuid4().hex[:6]}", uuid.uuid4().hex) for _ in range(2)]
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as http:
        for user in (reader, outsider):
            http.post(
                "/api/2.0/mlflow/users/create", json={"username": user[0], "password": user[1]}
            ).raise_for_status()
        grant = {"resource_type": "experiment", "resource_id": genai.experiment_id, "permission": "NO_PERMISSIONS"}
        http.post("/api/3.0/mlflow/users/permissions/grant", json={**grant, "username": outsider[0]}).raise_for_status()

    for user, kept_out in ((reader, False), (outsider, True)):
        context = browser.new_context(http_credentials={"username": user[0], "password": user[1]})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.set_default_timeout(15_000)
        page.base = server.url
        views = {
            f"/experiments/{genai.experiment_id}/datasets": "#datasets a.dataset-link:has-text('qa-golden')",
            f"/datasets/{genai.datasets['qa-golden']}": "#dataset-records tbody tr",
            f"/experiments/{genai.experiment_id}/scorers": "#scorers a.scorer-link:has-text('polite')",
            f"/experiments/{genai.experiment_id}/scorers/polite": "#scorer-guidelines",
        }
        for hash_, shown in views.items():
            goto(page, hash_)
            if kept_out:  # the server's reason, where the page would be
                page.wait_for_selector(f"p.error:has-text(\"Permission denied: user '{user[0]}' cannot read\")")
                assert page.locator(shown).count() == 0, hash_
            else:
                page.wait_for_selector(shown)
        assert not errors, errors
        context.close()
