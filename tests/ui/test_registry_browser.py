"""The model registry in the web UI (real Chromium, real seeded server): the list of registered models,
a model's page and a version's page, each change checked through MLflow's REST API afterwards.

The seed registers 'wine-quality' (versions 1-3 from the runs alpha, beta and gamma; 1 from alpha's
logged model; 2 in Production as @champion, 3 @challenger) and an empty 'churn'. Tests that change
the registry work on models of their own, so they can run in any order.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.browsing import UNLABELLED, add_tag, edit_description, goto, shot
from tests.ui.conftest import SeededServer
from tests.ui.seed import Client

pytestmark = pytest.mark.browser
API = "/api/2.0/mlflow"


def registered(ui_server: SeededServer, name: str, runs: list[str]) -> None:
    """A registered model of the test's own, one version per run."""
    c = Client(ui_server.url)
    c.post("/registered-models/create", {"name": name})
    for run_id in runs:
        c.post("/model-versions/create", {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id})


def version(ui_server: SeededServer, name: str, number: str) -> dict[str, Any]:
    r = ui_server.http.get(f"{API}/model-versions/get", params={"name": name, "version": number})
    r.raise_for_status()
    return r.json()["model_version"]  # type: ignore[no-any-return]


def model(ui_server: SeededServer, name: str) -> dict[str, Any]:
    r = ui_server.http.get(f"{API}/registered-models/get", params={"name": name})
    r.raise_for_status()
    return r.json()["registered_model"]  # type: ignore[no-any-return]


def texts(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent.trim())")  # type: ignore[no-any-return]


def test_registered_models_list_shows_latest_version_aliases_and_tags(page: Any, ui_server: SeededServer) -> None:
    goto(page, "/")
    page.click("header nav a:has-text('Models')")
    row = page.wait_for_selector("#registered-models tr[data-model='wine-quality']")
    assert "Version 3" in row.inner_text()
    assert texts(page, "#registered-models tr[data-model='wine-quality'] .chip.alias") == ["@challenger", "@champion"]
    assert "team: vision" in row.inner_text()
    assert "Predicts the **quality** of a wine." in row.inner_text()
    assert page.query_selector("#registered-models tr[data-model='churn']") is not None
    shot(page, "registry-models", doc=True)
    # The alias chip opens the version it points at.
    page.click("#registered-models tr[data-model='wine-quality'] .chip.alias:has-text('@champion')")
    page.wait_for_selector("#version-name:has-text('Version 2')")


def test_search_by_name_and_create_a_model(page: Any, ui_server: SeededServer) -> None:
    goto(page, "/models")
    page.fill("#registered-models-search", "WINE")
    page.click("#find-registered-models")
    page.wait_for_function("document.querySelectorAll('#registered-models tbody tr').length === 1")
    assert texts(page, "#registered-models a.model-link") == ["wine-quality"]
    assert "q=WINE" in page.url  # the search is part of the page's address
    page.fill("#registered-models-search", "no-such-model")
    page.click("#find-registered-models")
    page.wait_for_selector("text=No registered model matches.")

    page.fill("#new-model-name", "fraud-detector")
    page.click("#create-model")
    page.wait_for_selector("#registered-model-name:has-text('fraud-detector')")
    page.wait_for_selector("text=No versions yet")
    assert model(ui_server, "fraud-detector")["name"] == "fraud-detector"
    # A name that is taken is refused with the server's message; nothing else happens.
    goto(page, "/models")
    page.fill("#new-model-name", "wine-quality")
    page.click("#create-model")
    page.wait_for_selector("#toast.error:has-text('already exists')")
    assert "#/models" in page.url and "wine-quality" not in page.url


def test_a_model_page_lists_versions_with_their_runs_stages_and_logged_model(
    page: Any, ui_server: SeededServer
) -> None:
    goto(page, "/models/wine-quality")
    page.wait_for_selector("#model-versions")
    assert texts(page, "#model-versions a.version-link") == ["Version 3", "Version 2", "Version 1"]
    runs = ui_server.data.runs
    assert texts(page, "#model-versions a.run-link") == ["gamma", "beta", "alpha"]
    assert page.get_attribute("#model-versions tr[data-version='3'] a.run-link", "href") == f"#/runs/{runs['gamma']}"
    assert texts(page, "#model-versions tr[data-version='2'] .stage") == ["Production"]
    logged = page.get_attribute("#model-versions tr[data-version='1'] a.logged-model-link", "href")
    assert logged == f"#/models/{ui_server.data.model_id}"
    assert texts(page, "#aliases-table td:first-child") == ["@challenger", "@champion"]
    assert "Predicts the **quality** of a wine." in page.inner_text("#description")
    assert page.evaluate(UNLABELLED) == []
    shot(page, "registry-model", doc=True)
    page.click("#model-versions tr[data-version='1'] a.logged-model-link")
    page.wait_for_selector("#model-name:has-text('alpha-model')")


def test_aliases_description_and_tags_change_from_a_model_page(page: Any, ui_server: SeededServer) -> None:
    runs = ui_server.data.runs
    registered(ui_server, "aliased", [runs["alpha"], runs["beta"]])
    goto(page, "/models/aliased")
    page.wait_for_selector("#model-versions")
    page.fill("#new-alias", "prod")
    page.fill("#new-alias-version", "1")
    page.click("#set-alias button")
    page.wait_for_selector("#aliases-table tr[data-alias='prod']")
    page.wait_for_selector("#model-versions tr[data-version='1'] .chip.alias:has-text('@prod')")
    assert version(ui_server, "aliased", "1")["aliases"] == ["prod"]
    # Moving the alias to version 2: the table follows.
    page.fill("#new-alias", "prod")
    page.fill("#new-alias-version", "2")
    page.click("#set-alias button")
    page.wait_for_selector("#model-versions tr[data-version='2'] .chip.alias:has-text('@prod')")
    assert model(ui_server, "aliased")["aliases"] == [{"alias": "prod", "version": "2"}]
    # A reserved alias is refused, and the aliases stay as they were.
    page.fill("#new-alias", "latest")
    page.fill("#new-alias-version", "1")
    page.click("#set-alias button")
    page.wait_for_selector("#toast.error:has-text('reserved')")
    assert model(ui_server, "aliased")["aliases"] == [{"alias": "prod", "version": "2"}]
    page.click("#aliases-table button[aria-label='Delete alias prod']")
    page.wait_for_selector("#aliases p.muted:has-text('None.')")
    assert "aliases" not in model(ui_server, "aliased")

    edit_description(page, "Two versions.")
    assert model(ui_server, "aliased")["description"] == "Two versions."
    add_tag(page, "owner", "ada")
    page.click("#tags-table button[aria-label='Delete tag owner']")
    page.wait_for_selector("#tags p.muted:has-text('None.')")
    assert "tags" not in model(ui_server, "aliased")


def test_rename_and_delete_a_registered_model(page: Any, ui_server: SeededServer) -> None:
    registered(ui_server, "to-rename", [ui_server.data.runs["gamma"]])
    goto(page, "/models/to-rename")
    page.click("#rename-model")
    page.fill("#rename-model-input", "renamed model")
    page.click("#save-model-name")
    page.wait_for_selector("#registered-model-name:has-text('renamed model')")
    assert page.url.endswith("#/models/renamed%20model")
    assert version(ui_server, "renamed model", "1")["run_id"] == ui_server.data.runs["gamma"]
    page.click("#delete-model")  # the confirmation is accepted by the fixture
    page.wait_for_selector("#registered-models")
    assert ui_server.http.get(f"{API}/registered-models/get", params={"name": "renamed model"}).status_code == 404
    assert page.query_selector("#registered-models tr[data-model='renamed model']") is None


def test_a_version_page_changes_stage_aliases_description_tags_and_deletes(page: Any, ui_server: SeededServer) -> None:
    runs = ui_server.data.runs
    registered(ui_server, "staged", [runs["alpha"], runs["beta"]])
    Client(ui_server.url).post(
        "/model-versions/transition-stage", {"name": "staged", "version": "1", "stage": "Production"}
    )
    goto(page, "/models/staged/versions/2")
    page.wait_for_selector("#version-name:has-text('Version 2')")
    assert page.inner_text("#version-run") == "beta"
    assert page.evaluate(UNLABELLED) == []
    page.select_option("#stage-select", "Production")
    page.check("#archive-existing")
    page.click("#transition-stage")
    page.wait_for_selector("#stage .stage.production")
    assert version(ui_server, "staged", "2")["current_stage"] == "Production"
    assert version(ui_server, "staged", "1")["current_stage"] == "Archived"  # archived with the box ticked

    page.fill("#version-alias", "candidate")
    page.click("#add-version-alias button")
    page.wait_for_selector("#version-aliases .chip.alias:has-text('@candidate')")
    assert version(ui_server, "staged", "2")["aliases"] == ["candidate"]
    page.fill("#version-alias", "v7")  # MLflow reserves version-like aliases
    page.click("#add-version-alias button")
    page.wait_for_selector("#toast.error:has-text('reserved')")
    page.click("button[aria-label='Remove alias candidate']")
    page.wait_for_function("!document.querySelector('#version-aliases .chip.alias')")
    assert "aliases" not in version(ui_server, "staged", "2")

    edit_description(page, "Retrained on 2026 data.")
    add_tag(page, "validated", "yes")
    page.click("#tags-table button[aria-label='Edit tag validated']")
    page.fill("#tags-table input.tag-value", "no")
    page.click("#tags-table form button")
    page.wait_for_selector("#tags-table tr[data-tag='validated'] td:has-text('no')")
    stored = version(ui_server, "staged", "2")
    assert stored["description"] == "Retrained on 2026 data."
    assert stored["tags"] == [{"key": "validated", "value": "no"}]
    shot(page, "registry-version", doc=True)

    page.click("#delete-version")
    page.wait_for_selector("#registered-model-name:has-text('staged')")
    page.wait_for_selector("#model-versions")
    assert texts(page, "#model-versions a.version-link") == ["Version 1"]
    r = ui_server.http.get(f"{API}/model-versions/get", params={"name": "staged", "version": "2"})
    assert r.status_code == 404


def test_runs_and_logged_models_link_to_their_registered_versions(page: Any, ui_server: SeededServer) -> None:
    goto(page, f"/runs/{ui_server.data.runs['beta']}")
    page.wait_for_selector("#registered-versions")
    row = page.locator("#registered-versions tr[data-model='wine-quality']")
    assert "Version 2" in row.inner_text() and "@champion" in row.inner_text() and "Production" in row.inner_text()
    # The logged model page says which versions were registered from it, and MLflow's URL of it works.
    exp, model_id = ui_server.data.experiment_id, ui_server.data.model_id
    goto(page, f"/experiments/{exp}/models/{model_id}")
    page.wait_for_selector("#registered-as")
    assert "wine-quality version 1" in texts(page, "#registered-as a.version-link")
    page.click("#registered-as a.version-link:has-text('wine-quality version 1')")
    page.wait_for_selector("#version-logged-model")
    assert page.get_attribute("#version-logged-model", "href") == f"#/models/{model_id}"


def test_missing_models_and_versions_say_so(page: Any, ui_server: SeededServer) -> None:
    goto(page, "/models/no-such-model")
    page.wait_for_selector("p.error:has-text('no-such-model')")
    goto(page, "/models/wine-quality/versions/99")
    page.wait_for_selector("p.error")


def test_the_list_pages_by_100_and_loads_more_on_demand(page: Any, ui_server: SeededServer) -> None:
    c = Client(ui_server.url)
    for i in range(105):  # named to sort after the seeded models
        c.post("/registered-models/create", {"name": f"zz-bulk-{i:03d}"})
    goto(page, "/models?q=zz-bulk")
    page.wait_for_function("document.querySelectorAll('#registered-models tbody tr').length === 100")
    assert texts(page, "#registered-models a.model-link")[:2] == ["zz-bulk-000", "zz-bulk-001"]
    page.click("#more-registered-models")
    page.wait_for_function("document.querySelectorAll('#registered-models tbody tr').length === 105")
    assert texts(page, "#registered-models a.model-link")[-1] == "zz-bulk-104"
    assert page.is_hidden("#more-registered-models")


def test_versions_ticked_on_a_model_page_compare_their_source_runs(page: Any, ui_server: SeededServer) -> None:
    goto(page, "/models/wine-quality")
    page.wait_for_selector("#model-versions")
    assert page.is_disabled("#compare-versions")
    page.check("input[aria-label='Select version 3 to compare']")
    assert page.is_disabled("#compare-versions")  # one run is nothing to compare
    page.check("input[aria-label='Select version 2 to compare']")
    page.click("#compare-versions")
    page.wait_for_url("**/#/compare?runs=*")
    runs = ui_server.data.runs
    assert sorted(page.url.split("runs=")[1].split(",")) == sorted([runs["gamma"], runs["beta"]])
    page.wait_for_selector("text=gamma")
    page.wait_for_selector("text=beta")


def test_prompts_list_and_a_prompts_versions_with_their_templates(page: Any, ui_server: SeededServer) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(ui_server.url)  # the official client registers them, as mlflow.genai does
    client.register_prompt(
        "greeting", "Hello {{who}}, welcome to {{place}}.", commit_message="first", tags={"team": "nlp"}
    )
    chat = [{"role": "system", "content": "Be {{tone}}."}, {"role": "user", "content": "{{question}}"}]
    client.register_prompt("greeting", chat, commit_message="as a chat")
    client.set_prompt_alias("greeting", "production", 1)

    goto(page, "/")
    page.click("header nav a:has-text('Prompts')")
    row = page.wait_for_selector("#prompts tr[data-prompt='greeting']")
    assert "Version 2" in row.inner_text() and "@production" in row.inner_text() and "team: nlp" in row.inner_text()
    assert page.query_selector("#prompts tr[data-prompt='wine-quality']") is None  # models are not prompts
    goto(page, "/models")  # ... and prompts are not models
    page.wait_for_selector("#registered-models")
    assert page.query_selector("#registered-models tr[data-model='greeting']") is None

    goto(page, "/prompts/greeting")
    page.wait_for_selector("#prompt-template")
    assert texts(page, "#prompt-versions a.version-link") == ["Version 2", "Version 1"]
    assert page.inner_text("#prompt-template") == "system: Be {{tone}}.\n\nuser: {{question}}"  # the newest first
    assert page.inner_text("#prompt-variables") == "Variables: tone, question"
    shot(page, "prompt", doc=True)
    page.click("#prompt-versions a.version-link:has-text('Version 1')")
    page.wait_for_selector("#prompt-template:has-text('Hello {{who}}')")
    assert page.inner_text("#prompt-commit") == "first"
    assert "prompts:/greeting/1" in page.inner_text("#prompt-version")

    # Aliases move from the page, and MLflow's client loads by them.
    page.fill("#new-alias", "production")
    page.fill("#new-alias-version", "2")
    page.click("#set-alias button")
    page.wait_for_selector("#prompt-versions tr[data-version='2'] .chip.alias:has-text('@production')")
    assert client.get_prompt_version_by_alias("greeting", "production").version == 2


def test_a_logged_model_is_registered_from_its_page(page: Any, ui_server: SeededServer) -> None:
    model_id, alpha = ui_server.data.model_id, ui_server.data.runs["alpha"]
    for expected in ("1", "2"):  # a new registered model, then a version of the existing one
        goto(page, f"/models/{model_id}")
        page.fill("#register-name", "registered-from-ui")
        page.click("#register-model button")
        page.wait_for_selector(f"#version-name:has-text('Version {expected}')")
        assert page.get_attribute("#version-logged-model", "href") == f"#/models/{model_id}"
        stored = version(ui_server, "registered-from-ui", expected)
        assert (stored["source"], stored["run_id"]) == (f"models:/{model_id}", alpha)
    goto(page, f"/models/{model_id}")
    page.wait_for_selector("#registered-as a:has-text('registered-from-ui version 2')")


def test_a_prompt_and_its_next_version_are_written_from_the_ui_as_mlflow_reads_them(
    page: Any, ui_server: SeededServer
) -> None:
    from mlflow import MlflowClient

    goto(page, "/prompts")
    page.click("details.new-prompt summary")
    page.fill("#new-prompt-name", "written-in-ui")
    page.fill("#new-prompt-template", "Hi {{who}}!")
    page.fill("#new-prompt-message", "first draft")
    page.click("#new-prompt button")
    page.wait_for_selector("#prompt-template:has-text('Hi {{who}}!')")
    client = MlflowClient(ui_server.url)
    first = client.get_prompt_version("written-in-ui", 1)
    assert (first.template, first.commit_message) == ("Hi {{who}}!", "first draft")
    assert first.format(who="Ann") == "Hi Ann!"

    page.click("#new-version summary")
    assert page.input_value("#prompt-version-template") == "Hi {{who}}!"  # starts from the shown version
    chat = '[{"role": "system", "content": "Be {{tone}}."}, {"role": "user", "content": "{{q}}"}]'
    page.fill("#prompt-version-template", chat)
    page.click("#prompt-version button")
    page.wait_for_selector("#prompt-template:has-text('system: Be {{tone}}.')")
    second = client.get_prompt_version("written-in-ui", 2)
    assert second.template == [{"role": "system", "content": "Be {{tone}}."}, {"role": "user", "content": "{{q}}"}]
    assert second.format(tone="kind", q="why?") == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "why?"},
    ]
    goto(page, "/prompts")  # a prompt made here is a prompt, not a model
    page.wait_for_selector("#prompts tr[data-prompt='written-in-ui']")
