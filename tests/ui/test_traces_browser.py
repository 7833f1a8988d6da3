"""The Traces views in a real headless Chromium, on traces the official MLflow client logged to a real
`tracklet server`: an experiment's traces table (filter, sort, delete), a trace's span tree and span
details, tags, a run's traces, and a trace whose spans cannot be read."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from tests.ui.browsing import ROOT, UNLABELLED, goto, shot
from tests.ui.conftest import SeededServer

pytestmark = pytest.mark.browser

SEARCH = "/api/3.0/mlflow/traces/search"


@dataclass
class Traces:
    experiment_id: str
    run_id: str
    ids: dict[str, str]  # label in seed_traces.py -> trace id


@pytest.fixture(scope="module")
def traces(ui_server: SeededServer) -> Traces:
    done = subprocess.run(
        [sys.executable, "-m", "tests.ui.seed_traces", ui_server.url],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return Traces(out["experiment_id"], out["run_id"], out["traces"])


def search(server: SeededServer, experiment_id: str, **body: Any) -> list[dict[str, Any]]:
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
    r = server.http.post(SEARCH, json={"locations": [location], **body})
    r.raise_for_status()
    return r.json().get("traces", [])  # type: ignore[no-any-return]


def row_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all("#traces-table tbody tr", "rs => rs.map(r => r.dataset.traceId)")


def wait_rows(page: Any, n: int) -> list[str]:
    page.wait_for_function(f"document.querySelectorAll('#traces-table tbody tr').length === {n}")
    return row_ids(page)


def test_traces_table_lists_the_experiments_traces(page: Any, ui_server: SeededServer, traces: Traces) -> None:
    goto(page, f"/experiments/{traces.experiment_id}")
    page.click("#tab-traces")  # the experiment page switches between its runs and its traces
    assert page.url.endswith(f"#/experiments/{traces.experiment_id}/traces")
    t = traces.ids
    # Newest first by default.
    assert wait_rows(page, 5) == [t["to_delete"], t["in_run"], t["failing"], t["summarize"], t["chat"]]
    assert page.get_attribute("#tab-traces", "aria-current") == "page"

    chat = page.locator(f"#traces-table tr[data-trace-id='{t['chat']}']")
    assert chat.locator("a.trace-link").inner_text() == "chat"
    assert chat.locator("a.trace-link").get_attribute("href") == f"#/traces/{t['chat']}"
    assert chat.locator(".trace-state").inner_text() == "OK"
    assert "What is tracklet?" in chat.locator("td.preview").first.inner_text()
    assert "team: nlp" in chat.locator(".tag-chip").inner_text()
    assert t["chat"][:11] in chat.locator("code").inner_text()
    assert chat.locator("td[data-col='duration']").inner_text().endswith("ms")
    assert chat.locator("td[data-col='tokens']").inner_text() == "42"  # from the LLM span's usage
    failing = page.locator(f"#traces-table tr[data-trace-id='{t['failing']}']")
    assert failing.locator(".trace-state").inner_text() == "ERROR"
    assert "failed" in (failing.locator(".trace-state").get_attribute("class") or "")  # red
    in_run = page.locator(f"#traces-table tr[data-trace-id='{t['in_run']}'] a.run-link")
    assert in_run.get_attribute("href") == f"#/runs/{traces.run_id}"
    page.wait_for_function(
        f"document.querySelector(\"tr[data-trace-id='{t['in_run']}'] a.run-link\").textContent === 'traced-run'"
    )
    assert page.locator(f"#traces-table tr[data-trace-id='{t['chat']}'] a.run-link").count() == 0
    assert page.evaluate(UNLABELLED) == []
    shot(page, "traces-table", doc=True)

    page.click("#tab-runs")
    page.wait_for_selector("#runs-table .tr[data-run-id]")
    assert page.inner_text("#runs-table a.run-link") == "traced-run"


def test_traces_filter_bad_filter_and_sort(page: Any, ui_server: SeededServer, traces: Traces) -> None:
    t = traces.ids
    requests: list[dict[str, Any]] = []
    page.on("request", lambda r: requests.append(r.post_data_json) if r.url.endswith(SEARCH) else None)
    goto(page, f"/experiments/{traces.experiment_id}/traces")
    wait_rows(page, 5)

    page.fill("#trace-filter", "trace.status = 'ERROR'")
    page.press("#trace-filter", "Enter")
    assert wait_rows(page, 1) == [t["failing"]]
    assert "filter=" in page.url
    page.fill("#trace-filter", "tags.team = 'nlp'")
    page.click("#trace-search")
    assert wait_rows(page, 2) == [t["in_run"], t["chat"]]
    page.fill("#trace-filter", f"metadata.`mlflow.sourceRun` = '{traces.run_id}'")
    page.press("#trace-filter", "Enter")
    assert wait_rows(page, 1) == [t["in_run"]]
    # Span filters: a trace matches when one of its spans does.
    page.fill("#trace-filter", "span.type = 'RETRIEVER' AND trace.text ILIKE '%inside a run%'")
    page.press("#trace-filter", "Enter")
    assert wait_rows(page, 1) == [t["in_run"]]
    page.fill("#trace-filter", "span.attributes.model = 'tiny-llm'")
    page.press("#trace-filter", "Enter")
    assert wait_rows(page, 2) == [t["in_run"], t["chat"]]

    page.fill("#trace-filter", "trace.status =")
    page.press("#trace-filter", "Enter")
    error = page.wait_for_selector("#trace-filter-error:not([hidden])")
    assert error.inner_text().startswith("Invalid filter:") and len(error.inner_text()) > len("Invalid filter: ")
    assert "invalid" in (page.get_attribute("#trace-filter", "class") or "")
    assert row_ids(page) == []
    shot(page, "traces-filter-error")
    page.click("#trace-clear-filter")
    wait_rows(page, 5)
    assert page.is_hidden("#trace-filter-error")

    # Sorting is the server's: a header click sends order_by.
    page.click("th[data-col='duration'] button")  # durations sort slowest first
    page.wait_for_selector("th[data-col='duration'][aria-sort='descending']")
    assert requests[-1]["order_by"] == ["execution_time_ms DESC"]
    page.wait_for_function("document.querySelector('#traces-table tbody tr a.trace-link').textContent === 'summarize'")
    page.click("th[data-col='name'] button")
    page.wait_for_selector("th[data-col='name'][aria-sort='ascending']")
    assert requests[-1]["order_by"] == ["name ASC"]
    page.wait_for_function("document.querySelector('#traces-table tbody tr a.trace-link').textContent === 'chat'")
    names = page.eval_on_selector_all("#traces-table a.trace-link", "as => as.map(a => a.textContent)")
    assert names == ["chat", "chat", "failing", "summarize", "summarize"]
    page.keyboard.press("Enter")  # the header keeps the focus: Enter sorts the other way
    page.wait_for_selector("th[data-col='name'][aria-sort='descending']")
    page.wait_for_function("document.querySelector('#traces-table tbody tr a.trace-link').textContent === 'summarize'")
    assert "order=name" in page.url


def test_traces_load_more_pages_with_the_page_token(page: Any, ui_server: SeededServer, traces: Traces) -> None:
    page.route(  # pages of 2 instead of 100, to page through 5 traces
        "**" + SEARCH,
        lambda route, request: route.continue_(post_data=json.dumps({**request.post_data_json, "max_results": 2})),
    )
    goto(page, f"/experiments/{traces.experiment_id}/traces")
    first = wait_rows(page, 2)
    assert "more to load" in page.inner_text(".trace-list .count")
    page.click("#load-more-traces")
    second = wait_rows(page, 4)
    page.click("#load-more-traces")
    every = wait_rows(page, 5)
    assert every[:2] == first and every[:4] == second and len(set(every)) == 5
    page.wait_for_selector("#load-more-traces", state="hidden")


def span_names(page: Any) -> list[str]:
    return page.eval_on_selector_all("#span-tree .span-row .span-name", "els => els.map(e => e.textContent)")


def test_trace_page_shows_the_span_tree_and_a_spans_details(page: Any, ui_server: SeededServer, traces: Traces) -> None:
    trace_id = traces.ids["chat"]
    goto(page, f"/traces/{trace_id}")
    page.wait_for_selector("#span-tree .span-row")
    assert page.inner_text("#trace-name") == "chat"
    assert trace_id in page.inner_text("#trace-overview")
    assert span_names(page) == ["chat", "add_one", "generate", "retrieve", "validate"]
    depths = page.eval_on_selector_all("#span-tree .span-row", "rs => rs.map(r => r.getAttribute('aria-level'))")
    assert depths == ["1", "2", "2", "3", "2"]
    assert page.locator("#span-tree .span-row.error .span-name").all_inner_texts() == ["validate"]
    assert "1 with an error" in page.inner_text(".span-summary")
    widths = page.eval_on_selector_all("#span-tree .span-bar", "bs => bs.map(b => parseFloat(b.style.width))")
    assert widths[0] > 99 and all(0 < w <= widths[0] for w in widths)  # the root spans the whole trace
    # The root span is selected first: the trace's inputs and outputs.
    assert '"question": "What is tracklet?"' in page.inner_text("#span-inputs")
    assert '"user": "ada"' in page.inner_text("#span-outputs")
    assert "team" in page.inner_text("#trace-tags") and "nlp" in page.inner_text("#trace-tags")
    assert "42 (12 in, 30 out)" in page.inner_text("#trace-overview")
    assessments = page.locator("#trace-assessments tbody tr")
    assert assessments.count() == 3
    overridden = page.locator("#trace-assessments tr.invalid")
    assert overridden.count() == 1 and "overridden by yes" in overridden.inner_text()
    assert "read it again" in page.inner_text("#trace-assessments")
    assert '{"answer": "a tracking server"}' in page.inner_text("#trace-assessments")

    page.locator("#span-tree .span-row", has_text="generate").click()
    page.wait_for_selector("#span-title:has-text('generate')")
    assert "LLM" in page.inner_text(".span-head")
    assert "An answer to: What is tracklet?" in page.inner_text("#span-outputs")
    assert "tiny-llm" in page.inner_text("#span-attributes")
    assert "span=" in page.url
    shot(page, "trace-spans", doc=True)

    page.keyboard.press("ArrowDown")  # the tree is keyboard-usable: down to the retriever
    page.wait_for_selector("#span-title:has-text('retrieve')")
    assert page.evaluate("document.activeElement.dataset.spanId") == page.get_attribute(
        "#span-tree .span-row[aria-selected='true']", "data-span-id"
    )
    assert '"score": 0.93' in page.inner_text("#span-outputs")
    assert "cache_miss" in page.inner_text("#span-events")
    page.keyboard.press("ArrowLeft")  # to the parent
    page.wait_for_selector("#span-title:has-text('generate')")
    page.keyboard.press("ArrowLeft")  # folds it
    page.wait_for_function("document.querySelectorAll('#span-tree .span-row').length === 4")
    assert page.get_attribute("#span-tree .span-row[aria-selected='true']", "aria-expanded") == "false"
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelectorAll('#span-tree .span-row').length === 5")
    page.keyboard.press("ArrowDown")
    page.wait_for_selector("#span-title:has-text('retrieve')")
    page.locator("#span-tree .span-row", has_text="generate").locator(".caret").click()  # fold its parent
    page.wait_for_selector("#span-title:has-text('generate')")  # the selection stays in sight
    assert len(span_names(page)) == 4
    page.locator("#span-tree .span-row", has_text="generate").locator(".caret").click()

    page.fill("#span-find", "retr")  # find: the matches with their ancestors, dimmed
    page.press("#span-find", "Enter")
    page.wait_for_function("document.querySelectorAll('#span-tree .span-row').length === 3")
    assert span_names(page) == ["chat", "generate", "retrieve"]
    assert page.locator("#span-tree .span-row.context").count() == 2
    page.wait_for_selector("#span-title:has-text('retrieve')")  # Enter selected the first match
    page.fill("#span-find", "")
    page.dispatch_event("#span-find", "input")
    page.wait_for_function("document.querySelectorAll('#span-tree .span-row').length === 5")

    page.locator("#span-tree .span-row", has_text="validate").click()
    exception = page.wait_for_selector("#span-detail .exception")
    assert "ValueError: answer too short: 'no'" in exception.inner_text()
    assert "Traceback" in page.inner_text("#span-detail pre.stacktrace")
    assert "ERROR" in page.inner_text(".span-head")
    shot(page, "trace-error-span", doc=True)
    assert page.evaluate(UNLABELLED) == []

    page.reload()  # the selected span is in the URL
    page.wait_for_selector("#span-title:has-text('validate')")


def test_trace_tags_are_added_and_removed(page: Any, ui_server: SeededServer, traces: Traces) -> None:
    trace_id = traces.ids["summarize"]
    goto(page, f"/traces/{trace_id}")
    page.wait_for_selector("#span-tree .span-row")
    page.fill("#new-trace-tag-key", "reviewed")
    page.fill("#new-trace-tag-value", "yes")
    page.press("#new-trace-tag-value", "Enter")
    page.wait_for_selector("#trace-tags tr[data-tag='reviewed']")
    info = ui_server.http.get(f"/api/3.0/mlflow/traces/{trace_id}").json()["trace"]["trace_info"]
    assert info["tags"]["reviewed"] == "yes"
    page.click("#trace-tags tr[data-tag='team'] button.delete-tag")
    page.wait_for_selector("#trace-tags tr[data-tag='team']", state="detached")
    info = ui_server.http.get(f"/api/3.0/mlflow/traces/{trace_id}").json()["trace"]["trace_info"]
    assert "team" not in info["tags"] and info["tags"]["reviewed"] == "yes"
    page.click("#trace-metadata summary")  # MLflow's own tags are read-only, with the metadata
    assert "mlflow.traceName" in page.inner_text("#trace-metadata")
    assert "mlflow.trace_schema.version" in page.inner_text("#trace-metadata")


def test_run_page_lists_its_traces_and_nothing_for_a_run_without(
    page: Any, ui_server: SeededServer, traces: Traces
) -> None:
    goto(page, f"/runs/{traces.run_id}")
    page.wait_for_selector("#overview")
    assert page.inner_text("#tab-traces") == "Traces (1)"
    page.click("#run-traces-link")
    assert wait_rows(page, 1) == [traces.ids["in_run"]]
    assert page.locator("#traces-table th[data-col='run']").count() == 0  # they are all this run's
    assert "tab=traces" in page.url
    shot(page, "run-traces", doc=True)
    page.click("#traces-table a.trace-link")
    page.wait_for_selector("#span-tree .span-row")
    assert page.get_attribute("#trace-runs a.trace-run", "href") == f"#/runs/{traces.run_id}"
    assert page.inner_text("#trace-runs") == "traced-run"

    goto(page, f"/runs/{ui_server.data.runs['alpha']}")  # no traces: no tab, no row, no message
    page.wait_for_selector("#overview")
    page.wait_for_load_state("networkidle")
    assert page.locator("#tab-traces").count() == 0
    assert "Traces" not in page.inner_text("#overview")


def test_a_trace_whose_spans_cannot_be_read_shows_why(page: Any, ui_server: SeededServer, traces: Traces) -> None:
    trace_id = traces.ids["failing"]
    info = ui_server.http.get(f"/api/3.0/mlflow/traces/{trace_id}").json()["trace"]["trace_info"]
    root = info["tags"]["mlflow.artifactLocation"].removeprefix("mlflow-artifacts:").strip("/")
    r = ui_server.http.put(f"/api/2.0/mlflow-artifacts/artifacts/{root}/traces.json", content=b'{"spans": [{"na')
    r.raise_for_status()
    goto(page, f"/traces/{trace_id}")
    message = page.wait_for_selector(".spans-error")
    assert "could not be read" in message.inner_text() and "not valid JSON" in message.inner_text()
    assert page.inner_text("#trace-name") == "failing"  # the rest of the page is there
    assert "ERROR" in page.inner_text("#trace-overview")

    missing = traces.ids["summarize"]
    info = ui_server.http.get(f"/api/3.0/mlflow/traces/{missing}").json()["trace"]["trace_info"]
    root = info["tags"]["mlflow.artifactLocation"].removeprefix("mlflow-artifacts:").strip("/")
    ui_server.http.delete(f"/api/2.0/mlflow-artifacts/artifacts/{root}/traces.json").raise_for_status()
    goto(page, f"/traces/{missing}")
    assert "not found" in page.wait_for_selector(".spans-error").inner_text()
    assert page.inner_text("#trace-name") == "summarize"

    goto(page, "/traces/tr-00000000000000000000000000000000")
    page.wait_for_selector("main p.error")


def test_an_mlflow_2_traces_json_is_read_too(page: Any, ui_server: SeededServer, traces: Traces) -> None:
    """MLflow 2 wrote spans with `context.span_id`, `parent_id`, `start_time` and `status_code`."""
    trace_id = "tr-" + "ab" * 16
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": traces.experiment_id}}
    info = {"trace_id": trace_id, "trace_location": location, "request_time": "2026-11-27T13:37:27.147Z",
            "execution_duration": "2s", "state": "ERROR", "tags": {"mlflow.traceName": "old-style"}}  # fmt: skip
    r = ui_server.http.post("/api/3.0/mlflow/traces", json={"trace": {"trace_info": info}})
    r.raise_for_status()
    root = r.json()["trace"]["trace_info"]["tags"]["mlflow.artifactLocation"].removeprefix("mlflow-artifacts:")

    def span(name: str, span_id: str, parent: str | None, start: int, end: int, status: str) -> dict[str, Any]:
        return {"name": name, "context": {"span_id": span_id, "trace_id": "0xab"}, "parent_id": parent,
                "start_time": start, "end_time": end, "status_code": status, "status_message": "",
                "attributes": {"mlflow.spanType": '"CHAIN"', "mlflow.spanInputs": json.dumps({"step": name})},
                "events": []}  # fmt: skip

    spans = [span("step", "0x02", "0x01", 1_500_000_000, 2_000_000_000, "ERROR"),
             span("pipeline", "0x01", None, 1_000_000_000, 3_000_000_000, "OK")]  # fmt: skip
    ui_server.http.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{root.strip('/')}/traces.json", content=json.dumps({"spans": spans})
    ).raise_for_status()
    goto(page, f"/traces/{trace_id}")
    page.wait_for_selector("#span-tree .span-row")
    assert span_names(page) == ["pipeline", "step"]
    assert page.locator("#span-tree .span-row.error .span-name").all_inner_texts() == ["step"]
    assert '"step": "pipeline"' in page.inner_text("#span-inputs")
    assert page.locator("#span-tree .span-row .span-dur").all_inner_texts() == ["2.00 s", "500 ms"]


def test_delete_selected_traces(page: Any, ui_server: SeededServer, traces: Traces) -> None:
    doomed = traces.ids["to_delete"]
    goto(page, f"/experiments/{traces.experiment_id}/traces")
    wait_rows(page, 6)  # with the MLflow 2 style one
    assert page.is_disabled("#delete-traces")
    page.locator(f"#traces-table tr[data-trace-id='{doomed}'] input.select-trace").check()
    page.wait_for_selector(".trace-list .selection:has-text('1 selected')")
    page.click("#delete-traces")
    assert doomed not in wait_rows(page, 5)
    page.click("#refresh-traces")  # the server agrees
    page.wait_for_selector(".trace-list .count:has-text('5 traces')")
    assert doomed not in row_ids(page)
    assert doomed not in {t["trace_id"] for t in search(ui_server, traces.experiment_id)}
    assert ui_server.http.get(f"/api/3.0/mlflow/traces/{doomed}").status_code == 404


def test_spans_received_over_otlp_are_shown_like_uploaded_ones(page: Any, ui_server: SeededServer) -> None:
    """An OpenTelemetry SDK's export (`/v1/traces`): the spans are in the database, not in a traces.json."""
    r = ui_server.http.post("/api/2.0/mlflow/experiments/create", json={"name": "ui-otlp"})
    r.raise_for_status()
    experiment_id, trace_hex = r.json()["experiment_id"], "cd" * 16
    start = 1_764_000_000_000_000_000

    def span(span_id: str, name: str, parent: str, begin_ms: int, end_ms: int, **extra: Any) -> dict[str, Any]:
        return {"traceId": trace_hex, "spanId": span_id, "parentSpanId": parent, "name": name,
                "startTimeUnixNano": str(start + begin_ms * 10**6), "endTimeUnixNano": str(start + end_ms * 10**6),
                **extra}  # fmt: skip

    def export(*spans: dict[str, Any]) -> None:
        body = {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}
        ui_server.http.post(
            "/v1/traces", json=body, headers={"x-mlflow-experiment-id": experiment_id}
        ).raise_for_status()

    inputs = {"key": "mlflow.spanInputs", "value": {"stringValue": '{"order": 66}'}}
    export(
        span("00000000000000a2", "charge-card", "00000000000000a1", 20, 80, status={"code": 2, "message": "declined"})
    )
    goto(page, f"/traces/tr-{trace_hex}")  # the root has not arrived: the trace is in progress
    page.wait_for_selector("#span-tree .span-row")
    assert span_names(page) == ["charge-card"]
    assert "IN_PROGRESS" in page.inner_text("#trace-overview")

    export(span("00000000000000a1", "checkout", "", 0, 100, attributes=[inputs]))
    page.reload()
    page.wait_for_function("document.querySelectorAll('#span-tree .span-row').length === 2")
    assert span_names(page) == ["checkout", "charge-card"]
    assert page.inner_text("#trace-name") == "checkout"
    assert '"order": 66' in page.inner_text("#span-inputs")
    assert page.locator("#span-tree .span-row.error .span-name").all_inner_texts() == ["charge-card"]
    assert page.locator("#span-tree .span-row .span-dur").all_inner_texts() == ["100 ms", "60 ms"]


def test_the_evaluation_link_mlflow_prints_opens_the_runs_traces(
    page: Any, ui_server: SeededServer, traces: Traces
) -> None:
    """`mlflow.genai.evaluate` prints `…/#/experiments/<e>/evaluation-runs?selectedRunUuid=<run>`."""
    # Evaluation runs get their traces by link (`traces/link-to-run`), not by being recorded inside them.
    r = ui_server.http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": traces.experiment_id})
    r.raise_for_status()
    evaluation = r.json()["run"]["info"]["run_id"]
    linked = [traces.ids["summarize"], traces.ids["failing"]]
    body = {"trace_ids": linked, "run_id": evaluation}
    ui_server.http.post("/api/2.0/mlflow/traces/link-to-run", json=body).raise_for_status()
    goto(page, f"/experiments/{traces.experiment_id}/evaluation-runs?selectedRunUuid={evaluation}")
    page.wait_for_selector("#traces-table tbody tr")
    assert page.url.endswith(f"#/runs/{evaluation}?tab=traces")
    assert sorted(row_ids(page)) == sorted(linked)
    goto(page, f"/traces/{traces.ids['summarize']}")  # the trace page names the run it was linked to
    page.wait_for_selector("#trace-runs a.trace-run")
    links = page.locator("#trace-runs a.trace-run")
    assert links.evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")[-1] == f"#/runs/{evaluation}"
    assert page.inner_text("#trace-runs").endswith(r.json()["run"]["info"]["run_name"])
    goto(page, f"/experiments/{traces.experiment_id}/evaluation-runs")
    page.wait_for_function(f"location.hash === '#/experiments/{traces.experiment_id}'")
