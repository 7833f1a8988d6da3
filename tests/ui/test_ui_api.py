"""Tracklet's UI endpoints (`/api/tracklet/…`) against a real server seeded through MLflow's REST API."""

from __future__ import annotations

import csv
import functools
import io
import operator
import random
from typing import Any

import pytest

from tests.ui.conftest import SeededServer
from tests.ui.seed import T0, Client


def table(s: SeededServer, **body: Any) -> dict[str, Any]:
    r = s.http.post("/api/tracklet/runs/table", json={"experiment_ids": [s.data.experiment_id], **body})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def names(page: dict[str, Any]) -> list[str]:
    return [row["run_name"] for row in page["rows"]]


# ---- runs table ----------------------------------------------------------------------------------


def test_table_returns_only_the_requested_columns_and_the_total(any_ui_server: SeededServer) -> None:
    page = table(any_ui_server, params=["lr"], metrics=["loss"], tags=["team"])
    assert page["total"] == 7
    alpha = next(r for r in page["rows"] if r["run_name"] == "alpha")
    assert alpha["params"] == {"lr": "0.1"}
    assert set(alpha["metrics"]) == {"loss"}
    assert alpha["tags"] == {"team": "vision"}
    assert alpha["status"] == "FINISHED" and alpha["user_id"] == "ada"


def test_table_lists_available_keys(any_ui_server: SeededServer) -> None:
    keys = table(any_ui_server, include_keys=True, limit=1)["keys"]
    assert keys["params"] == ["fold", "layers", "lr", "optimizer"]
    assert keys["metrics"] == ["accuracy", "loss"]
    assert "team" in keys["tags"] and "mlflow.parentRunId" in keys["tags"]
    r = any_ui_server.http.get("/api/tracklet/runs/keys", params={"experiment_ids": any_ui_server.data.experiment_id})
    assert r.json()["keys"] == keys


def test_table_sorts_on_the_server_by_any_column(any_ui_server: SeededServer) -> None:
    by_accuracy = table(any_ui_server, order_by=["metrics.accuracy DESC"], metrics=["accuracy"])
    assert names(by_accuracy)[:4] == ["gamma", "beta", "parent", "alpha"]  # runs without it sort last
    by_layers = table(any_ui_server, order_by=["params.layers ASC"])
    assert names(by_layers)[:2] == ["alpha", "parent"] or names(by_layers)[:2] == ["parent", "alpha"]
    by_name = table(any_ui_server, order_by=["attributes.run_name ASC"])
    assert names(by_name) == sorted(names(by_name))


def test_table_filters_with_the_search_grammar(any_ui_server: SeededServer) -> None:
    page = table(any_ui_server, filter="params.optimizer = 'sgd' AND metrics.accuracy > 0.75")
    assert sorted(names(page)) == ["gamma", "parent"]
    assert page["total"] == 2


def test_a_bad_filter_is_a_400_with_a_helpful_message(any_ui_server: SeededServer) -> None:
    r = any_ui_server.http.post(
        "/api/tracklet/runs/table",
        json={"experiment_ids": [any_ui_server.data.experiment_id], "filter": "params.lr >"},
    )
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "params.lr >" in r.json()["message"]


def test_table_pages_with_offset_and_limit(any_ui_server: SeededServer) -> None:
    everything = names(table(any_ui_server, order_by=["attributes.run_name ASC"], limit=100))
    pages = [names(table(any_ui_server, order_by=["attributes.run_name ASC"], offset=o, limit=3)) for o in (0, 3, 6)]
    assert functools.reduce(operator.iadd, pages, []) == everything
    assert table(any_ui_server, offset=3, limit=3)["total"] == 7


def test_nested_table_shows_top_level_runs_with_child_counts(any_ui_server: SeededServer) -> None:
    page = table(any_ui_server, nested=True)
    assert sorted(names(page)) == ["alpha", "beta", "gamma", "live", "parent"]
    assert page["total"] == 5
    parent = next(r for r in page["rows"] if r["run_name"] == "parent")
    assert parent["child_count"] == 2
    children = table(any_ui_server, parent_id=parent["run_id"])
    assert sorted(names(children)) == ["child-1", "child-2"]
    assert all(r["parent_run_id"] == parent["run_id"] for r in children["rows"])
    # Flat, a filter lists every matching run.
    assert sorted(names(table(any_ui_server, filter="params.lr = '0.05'"))) == ["child-1", "child-2", "parent"]


def test_nested_table_under_a_filter_shows_matching_children_under_their_parent(
    any_ui_server: SeededServer,
) -> None:
    # Parent and both children match: one top-level row, its two matching children under it.
    page = table(any_ui_server, nested=True, filter="params.lr = '0.05'")
    assert names(page) == ["parent"] and page["total"] == 1 and page["matched"] == 3
    assert page["rows"][0]["child_count"] == 2 and page["rows"][0]["matches"] is True
    # Only child-1 matches: its parent is shown as context (matches false), counting one child.
    page = table(any_ui_server, nested=True, filter="params.fold = '0'")
    assert names(page) == ["parent"] and page["matched"] == 1
    parent = page["rows"][0]
    assert parent["matches"] is False and parent["child_count"] == 1
    children = table(any_ui_server, nested=True, parent_id=parent["run_id"], filter="params.fold = '0'")
    assert names(children) == ["child-1"]
    # Matching runs without a parent stay top-level, in the asked order; child-2 (loss 0.4) matches,
    # child-1 (loss 0.5) does not.
    page = table(any_ui_server, nested=True, filter="metrics.loss < 0.45", order_by=["attributes.run_name ASC"])
    assert names(page) == ["alpha", "beta", "gamma", "live", "parent"] and page["matched"] == 6
    assert next(r for r in page["rows"] if r["run_name"] == "parent")["child_count"] == 1


def test_children_of_a_deleted_parent_are_top_level_in_the_active_view(any_ui_server: SeededServer) -> None:
    parent = any_ui_server.data.runs["parent"]
    post = any_ui_server.http.post
    assert post("/api/tracklet/runs/delete", json={"run_ids": [parent]}).status_code == 200
    try:
        assert {"child-1", "child-2"} <= set(names(table(any_ui_server, nested=True)))
    finally:
        assert post("/api/tracklet/runs/restore", json={"run_ids": [parent]}).status_code == 200


def test_default_columns_come_from_the_first_page_in_the_same_request(any_ui_server: SeededServer) -> None:
    page = table(any_ui_server, default_columns=2, order_by=["attributes.run_name ASC"], limit=3)
    assert names(page) == ["alpha", "beta", "child-1"]
    assert page["columns"] == {"params": ["fold", "layers"], "metrics": ["accuracy", "loss"], "tags": []}
    alpha = page["rows"][0]
    assert alpha["params"] == {"layers": "2"} and set(alpha["metrics"]) == {"accuracy", "loss"}
    assert "columns" not in table(any_ui_server, limit=1)
    r = any_ui_server.http.post(
        "/api/tracklet/runs/table",
        json={"experiment_ids": [any_ui_server.data.experiment_id], "default_columns": -1},
    )
    assert r.status_code == 400 and "default_columns" in r.json()["message"]


def test_bad_table_requests_are_rejected(any_ui_server: SeededServer) -> None:
    post = any_ui_server.http.post
    assert post("/api/tracklet/runs/table", json={"experiment_ids": []}).status_code == 400
    assert post("/api/tracklet/runs/table", json={"experiment_ids": ["x"]}).status_code == 400
    r = post("/api/tracklet/runs/table", json={"experiment_ids": ["1"], "limit": 0})
    assert r.status_code == 400 and "limit" in r.json()["message"]


def test_csv_download_has_the_filtered_rows_and_chosen_columns(any_ui_server: SeededServer) -> None:
    r = any_ui_server.http.post(
        "/api/tracklet/runs/table.csv",
        json={
            "experiment_ids": [any_ui_server.data.experiment_id],
            "filter": "params.optimizer = 'adam'",
            "order_by": ["attributes.run_name ASC"],
            "params": ["lr"],
            "metrics": ["accuracy"],
        },
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["run_name"] for row in rows] == ["alpha", "beta"]
    assert rows[0]["params.lr"] == "0.1" and float(rows[1]["metrics.accuracy"]) == pytest.approx(0.85)
    assert "tags.team" not in rows[0]


# ---- bulk reads and lifecycle ------------------------------------------------------------------------


def test_bulk_get_reads_many_runs_in_one_request(any_ui_server: SeededServer) -> None:
    ids = [any_ui_server.data.runs[n] for n in ("gamma", "alpha", "beta")]
    r = any_ui_server.http.post("/api/tracklet/runs/bulk-get", json={"run_ids": ids})
    runs = r.json()["runs"]
    assert [run["info"]["run_id"] for run in runs] == ids
    assert {p["key"] for p in runs[0]["data"]["params"]} == {"lr", "layers", "optimizer"}


def test_bulk_delete_and_restore(any_ui_server: SeededServer) -> None:
    ids = [any_ui_server.data.runs["child-1"], any_ui_server.data.runs["child-2"]]
    assert any_ui_server.http.post("/api/tracklet/runs/delete", json={"run_ids": ids}).status_code == 200
    deleted = table(any_ui_server, view_type="DELETED_ONLY")
    assert sorted(names(deleted)) == ["child-1", "child-2"]
    assert table(any_ui_server)["total"] == 5
    assert any_ui_server.http.post("/api/tracklet/runs/restore", json={"run_ids": ids}).status_code == 200
    assert table(any_ui_server)["total"] == 7


def test_delete_and_restore_every_run_matching_a_filter(any_ui_server: SeededServer) -> None:
    exp = any_ui_server.data.experiment_id
    post = any_ui_server.http.post
    beta = any_ui_server.data.runs["beta"]
    r = post("/api/tracklet/runs/delete", json={"experiment_ids": [exp], "filter": "params.optimizer = 'adam'",
                                                "exclude_run_ids": [beta]})  # fmt: skip
    assert r.status_code == 200 and r.json() == {"count": 1}
    assert names(table(any_ui_server, view_type="DELETED_ONLY")) == ["alpha"]
    r = post("/api/tracklet/runs/restore", json={"experiment_ids": [exp]})  # every deleted run
    assert r.json() == {"count": 1} and table(any_ui_server)["total"] == 7


def test_bulk_lifecycle_has_no_cap_and_takes_one_request(any_ui_server: SeededServer) -> None:
    c = Client(any_ui_server.url)
    exp = c.create_experiment(f"bulk-{random.randrange(10**9)}")
    for i in range(1100):
        c.post("/runs/create", {"experiment_id": exp, "run_name": f"r{i}", "start_time": T0 + i})
    post = any_ui_server.http.post
    assert post("/api/tracklet/runs/delete", json={"experiment_ids": [exp]}).json() == {"count": 1100}
    body = {"experiment_ids": [exp]}
    assert post("/api/tracklet/runs/table", json={**body, "limit": 1}).json()["total"] == 0
    restored = post("/api/tracklet/runs/restore", json={**body, "filter": "attributes.run_name LIKE 'r1%'"})
    assert restored.json() == {"count": 1 + 10 + 100 + 1000 - 900}  # r1, r10-r19, r100-r199, r1000-r1099
    # No nested runs here: a nested view under a filter is the flat one, every row matching.
    nested = post(
        "/api/tracklet/runs/table", json={**body, "nested": True, "filter": "attributes.run_name LIKE 'r10%'"}
    )
    assert nested.json()["total"] == nested.json()["matched"] == 1 + 10 + 100
    assert all(r["matches"] and r["child_count"] == 0 for r in nested.json()["rows"])


def test_bad_bulk_lifecycle_requests_are_rejected_and_change_nothing(any_ui_server: SeededServer) -> None:
    post = any_ui_server.http.post
    exp = any_ui_server.data.experiment_id
    alpha = any_ui_server.data.runs["alpha"]
    for body in (
        {},
        {"run_ids": [alpha], "experiment_ids": [exp]},
        {"experiment_ids": [exp], "filter": "params.lr >"},
        {"experiment_ids": ["x"]},
        {"experiment_ids": [exp], "exclude_run_ids": ["not a run id!"]},
    ):
        r = post("/api/tracklet/runs/delete", json=body)
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", body
    r = post("/api/tracklet/runs/delete", json={"run_ids": [alpha, "0" * 32]})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert table(any_ui_server)["total"] == 7  # alpha was not deleted either


def test_experiments_list_has_run_counts(any_ui_server: SeededServer) -> None:
    exps = {e["name"]: e for e in any_ui_server.http.get("/api/tracklet/experiments").json()["experiments"]}
    assert exps["ui-demo"]["run_count"] == 7
    assert exps["ui-empty"]["run_count"] == 0
    assert exps["ui-demo"]["last_update_time"] >= T0


# ---- downsampled histories ------------------------------------------------------------------------


def history(s: SeededServer, run_ids: list[str], key: str = "loss", **query: Any) -> dict[str, Any]:
    r = s.http.get("/api/tracklet/metrics/history", params={"run_ids": run_ids, "metric_key": key, **query})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_history_keeps_the_spike_in_few_buckets(any_ui_server: SeededServer) -> None:
    alpha = any_ui_server.data.runs["alpha"]
    series = history(any_ui_server, [alpha], buckets=10)["series"][0]
    assert len(series["x"]) <= 10
    assert max(series["max"]) == 25.0  # one point at step 100 among 200
    assert series["extent"] == [0, 199]
    assert series["x"][-1] == 199


def test_history_of_several_runs_in_one_request(any_ui_server: SeededServer) -> None:
    ids = [any_ui_server.data.runs[n] for n in ("alpha", "beta", "gamma")]
    body = history(any_ui_server, ids, buckets=50)
    assert [s["run_id"] for s in body["series"]] == ids
    assert all(0 < len(s["x"]) <= 50 for s in body["series"])


def test_history_zoom_reads_the_points_of_the_range(any_ui_server: SeededServer) -> None:
    alpha = any_ui_server.data.runs["alpha"]
    series = history(any_ui_server, [alpha], buckets=1000, min=90, max=110)["series"][0]
    assert series["x"] == list(range(90, 111))
    assert series["min"] == series["max"] == series["last"]
    assert series["last"][10] == 25.0


def test_history_against_wall_time(any_ui_server: SeededServer) -> None:
    alpha = any_ui_server.data.runs["alpha"]
    series = history(any_ui_server, [alpha], x="time", buckets=20)["series"][0]
    assert series["extent"] == [T0, T0 + 199_000]
    assert max(series["max"]) == 25.0


def test_history_rejects_bad_requests(any_ui_server: SeededServer) -> None:
    alpha = any_ui_server.data.runs["alpha"]
    get = any_ui_server.http.get
    assert (
        get("/api/tracklet/metrics/history", params={"run_ids": alpha, "metric_key": "loss", "x": "epoch"}).status_code
        == 400
    )
    assert (
        get("/api/tracklet/metrics/history", params={"run_ids": alpha, "metric_key": "loss", "buckets": 0}).status_code
        == 400
    )
    assert get("/api/tracklet/metrics/history", params={"metric_key": "loss"}).status_code == 400
    assert get("/api/tracklet/metrics/history", params={"run_ids": alpha}).status_code == 400


def test_a_window_past_the_history_holds_no_points(any_ui_server: SeededServer) -> None:
    # Only `min` past the last step (or only `max` before the first): was a 500.
    alpha = any_ui_server.data.runs["alpha"]
    for window in ({"min": 500}, {"max": -5}, {"min": 500, "max": 600}):
        (series,) = history(any_ui_server, [alpha], **window)["series"]
        assert series["x"] == [] and series["extent"] == [0, 199], window
    assert history(any_ui_server, [alpha], min=150)["series"][0]["x"][-1] == 199  # a window inside still has points


def test_long_history_is_folded_from_tiles_exactly(any_ui_server: SeededServer) -> None:
    """30,000 points: min, max and last survive the tiles; new points show up (live runs)."""
    c = Client(any_ui_server.url)
    run_id = c.create_run(any_ui_server.data.other_experiment_id, "long", T0)
    rng = random.Random(7)
    values = [rng.gauss(0, 1) for _ in range(30_000)]
    values[12_345] = 99.0
    values[23_456] = -99.0
    points = [{"key": "m", "value": v, "timestamp": T0 + i * 10, "step": i} for i, v in enumerate(values)]
    for start in range(0, len(points), 1000):
        c.log_batch(run_id, metrics=points[start : start + 1000])
    series = history(any_ui_server, [run_id], key="m", buckets=100)["series"][0]
    assert series["source"].startswith("tiles")
    assert len(series["x"]) <= 100
    assert max(series["max"]) == 99.0 and min(series["min"]) == -99.0
    assert series["last"][-1] == values[-1] and series["x"][-1] == 29_999

    c.log_batch(run_id, metrics=[{"key": "m", "value": 500.0, "timestamp": T0 + 400_000, "step": 30_000}])
    series = history(any_ui_server, [run_id], key="m", buckets=100)["series"][0]
    assert series["extent"] == [0, 30_000]
    assert series["last"][-1] == 500.0 and max(series["max"]) == 500.0
    by_time = history(any_ui_server, [run_id], key="m", buckets=100, x="time")["series"][0]
    assert max(by_time["max"]) == 500.0 and min(by_time["min"]) == -99.0


# ---- artifacts and pages ----------------------------------------------------------------------------


def test_artifact_preview_is_capped(any_ui_server: SeededServer) -> None:
    alpha = any_ui_server.data.runs["alpha"]
    r = any_ui_server.http.get(
        "/api/tracklet/artifacts/preview", params={"run_id": alpha, "path": "logs/train.log", "max_bytes": 10}
    )
    assert r.status_code == 200
    assert r.content == b"epoch 1 lo"
    assert r.headers["x-tracklet-truncated"] == "true"
    assert int(r.headers["x-tracklet-size"]) > 10
    whole = any_ui_server.http.get(
        "/api/tracklet/artifacts/preview", params={"run_id": alpha, "path": "data/table.csv"}
    )
    assert whole.headers["x-tracklet-truncated"] == "false" and whole.text.startswith("a,b,c")
    escape = any_ui_server.http.get("/api/tracklet/artifacts/preview", params={"run_id": alpha, "path": "../../x"})
    assert escape.status_code == 400


def test_a_logged_models_artifacts_are_listed_and_previewed(any_ui_server: SeededServer) -> None:
    get = any_ui_server.http.get
    model_id = any_ui_server.data.model_id
    files = get("/api/tracklet/artifacts/list", params={"model_id": model_id}).json()["files"]
    assert [(f["path"], f["is_dir"]) for f in files] == [
        ("MLmodel", False), ("metadata", True), ("model.pkl", False), ("requirements.txt", False)]  # fmt: skip
    inner = get("/api/tracklet/artifacts/list", params={"model_id": model_id, "path": "metadata"}).json()
    assert [f["path"] for f in inner["files"]] == ["metadata/input_example.json"]
    r = get("/api/tracklet/artifacts/preview", params={"model_id": model_id, "path": "MLmodel"})
    assert r.status_code == 200 and "flavors:" in r.text
    run_files = get("/api/tracklet/artifacts/list", params={"run_id": any_ui_server.data.runs["alpha"]}).json()
    assert "report.html" in [f["path"] for f in run_files["files"]]
    for params, status in (
        ({"path": "MLmodel"}, 400),  # neither owner
        ({"model_id": model_id, "run_id": any_ui_server.data.runs["alpha"], "path": "MLmodel"}, 400),
        ({"model_id": model_id, "path": "../../../x"}, 400),
        ({"model_id": "m-nope", "path": "MLmodel"}, 404),
    ):
        r = get("/api/tracklet/artifacts/preview", params=params)
        assert r.status_code == status and "error_code" in r.json(), params


def test_the_page_and_its_modules_are_served(any_ui_server: SeededServer) -> None:
    page = any_ui_server.http.get("/")
    assert page.status_code == 200 and '<main id="app">' in page.text
    for module in (
        "app",
        "api",
        "dom",
        "runs",
        "run",
        "chart",
        "metrics",
        "compare",
        "plots",
        "artifacts",
        "experiments",
        "datasets",
        "scorers",
        "webhooks",
        "jsonview",
    ):
        r = any_ui_server.http.get(f"/static/js/{module}.js")
        assert r.status_code == 200 and "javascript" in r.headers["content-type"], module
    assert any_ui_server.http.get("/api/tracklet/nope").json()["error_code"] == "ENDPOINT_NOT_FOUND"
    modules = set(page.text.split('rel="modulepreload" href="/static/js/')[1:])
    assert {m.split('"')[0] for m in modules} >= {"datasets.js", "scorers.js", "webhooks.js", "jsonview.js"}


def test_webhook_events_are_the_events_a_webhook_may_name(any_ui_server: SeededServer) -> None:
    listed = any_ui_server.http.get("/api/tracklet/webhooks/events")
    assert listed.status_code == 200, listed.text
    events = listed.json()["events"]
    names = {f"{e['entity']}.{e['action']}" for e in events}
    assert len(names) == len(events) == 15
    assert [f"{e['entity']}.{e['action']}" for e in events if not e["sent"]] == ["budget_policy.exceeded"]
    # Every event listed is one the webhooks API takes, and one it does not take is not listed.
    made = any_ui_server.http.post(
        "/api/2.0/mlflow/webhooks",
        json={
            "name": "all-listed-events",
            "url": "http://127.0.0.1:9/hook",
            "events": [{"entity": e["entity"].upper(), "action": e["action"].upper()} for e in events],
        },
    )
    assert made.status_code == 200, made.text
    hook = made.json()["webhook"]
    assert {f"{e['entity']}.{e['action']}".lower() for e in hook["events"]} == names
    any_ui_server.http.delete(f"/api/2.0/mlflow/webhooks/{hook['webhook_id']}").raise_for_status()
    assert "registered_model.deleted" not in names
    refused = any_ui_server.http.post(
        "/api/2.0/mlflow/webhooks",
        json={
            "name": "unlisted",
            "url": "http://127.0.0.1:9/hook",
            "events": [{"entity": "REGISTERED_MODEL", "action": "DELETED"}],
        },
    )
    assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
