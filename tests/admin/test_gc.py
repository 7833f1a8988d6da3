"""`tracklet gc`: deleted runs and experiments are purged for good, rows and artifacts, while the server
runs; what is live, restored, too recent or still registered is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.support.processes import TrackletServer
from tracklet.store import schema
from tracklet.store._util import now_ms
from tracklet.store.store import Store


def gc(server: TrackletServer, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command, beside the running server, on its store."""
    return subprocess.run(
        [sys.executable, "-m", "tracklet", "gc", "--backend-store-uri", server.backend_store_uri,
         "--artifacts-destination", server.artifacts_destination, *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )  # fmt: skip


def logged_run(client: MlflowClient, experiment_id: str, tmp_path: Path) -> str:
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", "0.1")
    client.set_tag(run_id, "team", "vision")
    for step in range(30):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    (tmp_path / "notes.txt").write_text("hello")
    client.log_artifact(run_id, str(tmp_path / "notes.txt"), "docs")
    return run_id


def run_folder(server: TrackletServer, experiment_id: str, run_id: str) -> Path:
    return Path(server.artifacts_destination) / experiment_id / run_id


def gone(client: MlflowClient, run_id: str) -> bool:
    try:
        client.get_run(run_id)
    except MlflowException as err:
        assert err.error_code == "RESOURCE_DOES_NOT_EXIST"
        return True
    return False


def new_experiment(client: MlflowClient, **kwargs: str) -> str:
    return client.create_experiment("gc-" + uuid.uuid4().hex[:8], **kwargs)


def test_deleted_runs_are_purged_with_their_artifacts_and_the_rest_is_untouched(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    experiment_id = new_experiment(mlflow_client)
    kept, deleted, restored = (logged_run(mlflow_client, experiment_id, tmp_path) for _ in range(3))
    mlflow_client.delete_run(deleted)
    mlflow_client.delete_run(restored)
    mlflow_client.restore_run(restored)

    result = gc(server)

    assert result.returncode == 0, result.stderr
    assert "Purged" in result.stdout
    assert gone(mlflow_client, deleted)
    assert not run_folder(server, experiment_id, deleted).exists()
    for run_id in (kept, restored):
        run = mlflow_client.get_run(run_id)
        assert run.data.params == {"lr": "0.1"} and run.data.tags["team"] == "vision"
        assert len(mlflow_client.get_metric_history(run_id, "loss")) == 30
        assert [f.path for f in mlflow_client.list_artifacts(run_id, "docs")] == ["docs/notes.txt"]
    found = mlflow_client.search_runs([experiment_id], run_view_type=3)  # ALL
    assert {r.info.run_id for r in found} == {kept, restored}


def test_a_purged_experiment_frees_its_name(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    experiment_id = new_experiment(mlflow_client)
    name = mlflow_client.get_experiment(experiment_id).name
    run_id = logged_run(mlflow_client, experiment_id, tmp_path)
    mlflow_client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException, match="already exists"):
        mlflow_client.create_experiment(name)

    result = gc(server, "--experiment-ids", experiment_id)

    assert result.returncode == 0, result.stderr
    assert "1 experiment" in result.stdout
    assert gone(mlflow_client, run_id)
    assert not (Path(server.artifacts_destination) / experiment_id).exists()
    assert mlflow_client.create_experiment(name) != experiment_id


def test_a_run_a_model_version_was_registered_from_is_kept(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    experiment_id = new_experiment(mlflow_client)
    run_id = logged_run(mlflow_client, experiment_id, tmp_path)
    model = "gc-model-" + uuid.uuid4().hex[:6]
    mlflow_client.create_registered_model(model)
    mlflow_client.create_model_version(model, f"runs:/{run_id}/docs", run_id=run_id)
    mlflow_client.delete_run(run_id)

    result = gc(server, "--run-ids", run_id)

    assert result.returncode == 0, result.stderr
    assert f"Kept run {run_id}: model version '{model}' 1 was registered from it." in result.stderr
    assert mlflow_client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert run_folder(server, experiment_id, run_id).exists()

    mlflow_client.delete_model_version(model, "1")
    assert gc(server, "--run-ids", run_id).returncode == 0
    assert gone(mlflow_client, run_id)


def test_deleted_logged_models_are_purged_unless_a_version_serves_them(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    experiment_id = new_experiment(mlflow_client)
    (tmp_path / "MLmodel").write_text("flavors: {}")
    doomed, registered = (mlflow_client.create_logged_model(experiment_id, name=n).model_id for n in ("a", "b"))
    for model_id in (doomed, registered):
        mlflow_client.log_model_artifact(model_id, str(tmp_path / "MLmodel"))
    name = "gc-model-" + uuid.uuid4().hex[:6]
    mlflow_client.create_registered_model(name)
    mlflow_client.create_model_version(name, f"models:/{registered}", model_id=registered)
    for model_id in (doomed, registered):
        mlflow_client.delete_logged_model(model_id)

    result = gc(server, "--logged-model-ids", f"{doomed},{registered}")

    assert result.returncode == 0, result.stderr
    assert "0 experiments, 0 runs, 1 logged model" in result.stdout
    assert f"Kept logged model {registered}: model version '{name}' 1 was registered from it." in result.stderr
    with pytest.raises(MlflowException, match="not found"):
        mlflow_client.get_logged_model(doomed)
    assert not (Path(server.artifacts_destination) / experiment_id / "models" / doomed).exists()
    store = Store(server.backend_store_uri, migrate=False)  # a deleted model is "not found" over the protocol
    try:
        assert [m.id for m in store.find_garbage(model_ids=[registered]).models] == []  # kept, still deleted
    finally:
        store.close()
    assert (
        Path(server.artifacts_destination) / experiment_id / "models" / registered / "artifacts" / "MLmodel"
    ).exists()


def test_older_than_keeps_what_was_deleted_recently(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    run_id = logged_run(mlflow_client, new_experiment(mlflow_client), tmp_path)
    mlflow_client.delete_run(run_id)

    assert gc(server, "--older-than", "1d").returncode == 0
    assert not gone(mlflow_client, run_id)
    named = gc(server, "--older-than", "1h30m", "--run-ids", run_id)
    assert named.returncode == 1 and f"Run {run_id} was deleted too recently" in named.stderr
    assert gc(server, "--older-than", "0s").returncode == 0
    assert gone(mlflow_client, run_id)


def test_a_dry_run_names_what_would_go_and_purges_nothing(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    run_id = logged_run(mlflow_client, new_experiment(mlflow_client), tmp_path)
    mlflow_client.delete_run(run_id)

    result = gc(server, "--dry-run", "--run-ids", run_id)

    assert result.returncode == 0, result.stderr
    assert "Would purge 0 experiments, 1 run, 0 logged models:" in result.stdout and run_id in result.stdout
    assert mlflow_client.get_run(run_id).info.lifecycle_stage == "deleted"


def test_uploads_a_killed_server_left_unfinished_are_removed_once_old(
    server: TrackletServer, mlflow_client: MlflowClient
) -> None:
    run = mlflow_client.create_run(new_experiment(mlflow_client)).info
    folder = run_folder(server, run.experiment_id, run.run_id) / "artifacts"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".upload-stale", folder / ".upload-fresh"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    two_days_ago = time.time() - 2 * 86_400
    os.utime(stale, (two_days_ago, two_days_ago))

    assert "Would remove 1 unfinished upload." in gc(server, "--dry-run").stdout
    assert stale.exists()
    result = gc(server)

    assert result.returncode == 0, result.stderr
    assert "and 1 unfinished upload." in result.stdout
    assert not stale.exists() and fresh.exists()  # an upload may still be going on after a day: kept
    assert mlflow_client.list_artifacts(run.run_id) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "30 days"], "Error: Invalid --older-than '30 days'"),
        (["--older-than", "1.5d", "--logged-model-ids", "m-0"], "Error: Logged model with id=m-0 not found"),
        (["--run-ids", "0" * 32], f"Error: Run with id={'0' * 32} not found"),
        (["--experiment-ids", "x"], "Error: Invalid experiment id 'x'"),
        (["--experiment-ids", "0"], "Error: Experiment 0 is not in the 'deleted' lifecycle stage"),
    ],
)
def test_bad_options_are_clear_errors(server: TrackletServer, args: list[str], message: str) -> None:
    result = gc(server, *args)
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr


def test_naming_an_active_run_purges_nothing(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    experiment_id = new_experiment(mlflow_client)
    active, deleted = (logged_run(mlflow_client, experiment_id, tmp_path) for _ in range(2))
    mlflow_client.delete_run(deleted)

    result = gc(server, "--run-ids", f"{deleted},{active}")

    assert result.returncode == 1
    assert f"Run {active} is not in the 'deleted' lifecycle stage" in result.stderr
    assert mlflow_client.get_run(deleted).info.lifecycle_stage == "deleted"
    assert run_folder(server, experiment_id, deleted).exists()


def test_an_experiment_sharing_an_artifact_location_keeps_its_artifacts(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    shared = f"mlflow-artifacts:/shared-{uuid.uuid4().hex[:6]}"
    doomed, neighbour = (new_experiment(mlflow_client, artifact_location=shared) for _ in range(2))
    doomed_run = logged_run(mlflow_client, doomed, tmp_path)
    neighbour_run = logged_run(mlflow_client, neighbour, tmp_path)
    mlflow_client.delete_experiment(doomed)

    assert gc(server, "--experiment-ids", doomed).returncode == 0

    assert gone(mlflow_client, doomed_run)
    folder = Path(server.artifacts_destination) / shared.removeprefix("mlflow-artifacts:/")
    assert not (folder / doomed_run).exists()
    assert [f.path for f in mlflow_client.list_artifacts(neighbour_run, "docs")] == ["docs/notes.txt"]


def test_a_gc_that_stopped_after_removing_artifacts_is_finished_by_the_next(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    import shutil

    experiment_id = new_experiment(mlflow_client)
    run_id = logged_run(mlflow_client, experiment_id, tmp_path)
    mlflow_client.delete_run(run_id)
    shutil.rmtree(run_folder(server, experiment_id, run_id))  # what an interrupted gc leaves

    result = gc(server, "--run-ids", run_id)

    assert result.returncode == 0, result.stderr
    assert gone(mlflow_client, run_id)


def test_a_second_gc_at_once_is_refused_and_purges_nothing(
    server: TrackletServer, mlflow_client: MlflowClient, tmp_path: Path
) -> None:
    deleted = logged_run(mlflow_client, new_experiment(mlflow_client), tmp_path)
    mlflow_client.delete_run(deleted)
    store = Store(server.backend_store_uri, migrate=False)
    try:
        with store.db.one_at_a_time("gc"):  # as a gc in another process holds it
            refused = gc(server)
            assert refused.returncode == 1 and "another 'gc' is running" in refused.stderr, refused.stderr
            assert not gone(mlflow_client, deleted)
            assert gc(server, "--dry-run").returncode == 0  # a dry run only reads
    finally:
        store.close()
    assert gc(server).returncode == 0
    assert gone(mlflow_client, deleted)


def test_purging_leaves_no_row_of_the_run_or_experiment_behind(store_uri: str, tmp_path: Path) -> None:
    """Every table that refers to a run, a logged model or a trace, checked directly in the database."""
    from sqlalchemy import func, select

    from tracklet.entities import KeyValue
    from tracklet.permissions import Permission
    from tracklet.store import schema as s
    from tracklet.store.label_schemas import LabelSchemaInput
    from tracklet.store.metrics import MetricPoint
    from tracklet.store.traces import NewTrace

    store = Store(store_uri)
    try:
        experiment_id = int(store.create_experiment("purged"))
        runs = [store.create_run(experiment_id, "me", 0, None, []).info.run_id for _ in range(2)]
        for run_id in runs:
            points = [MetricPoint(key="loss", value=float(i), timestamp=i, step=i) for i in range(2000)]  # with tiles
            store.log_batch(run_id, points, [KeyValue(key="lr", value="1")], [KeyValue(key="t", value="v")])
        one = [KeyValue(key="k", value="v")]
        model = store.create_logged_model(experiment_id, "model", "", runs[0], one, one)
        store.log_outputs(runs[0], [(model.info.model_id, 0)])
        trace_id = "tr-" + uuid.uuid4().hex
        trace = NewTrace(trace_id, experiment_id, 1, "OK", metadata={"mlflow.sourceRun": runs[0]}, tags={"t": "v"})
        store.start_trace(trace)
        store.link_traces_to_run([trace_id], runs[1])
        span = {"span_id": "AAAAAAAAAAE=", "name": "step", "attributes": {"mlflow.spanType": '"TOOL"'}}
        assert store.copy_spans([(trace_id, [span], None)]) == 1  # its spans as copied for span filters
        store.create_user("reader", "pw")
        store.set_permission("experiment", str(experiment_id), "reader", Permission.READ)  # `--auth`'s grants
        dataset = store.create_dataset("linked", {}, [str(experiment_id)])  # an evaluation dataset's link
        store.register_scorer(experiment_id, "judge", "{}")  # a registered scorer, with its version
        # A label schema, and a review queue with a user, that schema and the trace as an item
        schema = store.create_label_schema(experiment_id, "ok?", "feedback", LabelSchemaInput("text", {}), None, False)
        queue = store.create_review_queue(experiment_id, "triage", "custom", None, ["ann"], [schema.schema_id])
        store.add_items_to_review_queue(queue.queue_id, [trace_id], "trace")
        # Issues: of the experiment, and found by its run in another experiment (which keeps it, unlinked)
        store.create_issue(experiment_id, "slow", "d", "pending", None, [], runs[0], [], None)
        elsewhere = int(store.create_experiment("keeps its issue"))
        kept = store.create_issue(elsewhere, "slow", "d", "pending", "high", [], runs[1], [], None)
        store.delete_run(runs[1])
        store.delete_experiment(experiment_id)
        assert store.find_garbage().experiments[0].experiment_id == experiment_id

        assert store.purge_experiment(experiment_id)

        with store.db.read() as conn:
            for table in s.metadata.sorted_tables:
                if table.name in ("alembic_version", "metrics", "purged_experiments"):
                    continue
                for column in ("run_uuid", "run_id", "experiment_id", "source_run_id"):
                    if column in table.c:
                        owners = [experiment_id] if column == "experiment_id" else runs
                        count = conn.execute(select(func.count()).where(table.c[column].in_(owners))).scalar()
                        assert count == 0, f"{table.name}.{column} still refers to purged rows"
            assert conn.execute(select(func.count()).select_from(s.metrics)).scalar() == 0
            for table in (s.traces, s.trace_spans, s.trace_span_attributes):
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0, table.name
            assert conn.execute(select(s.purged_experiments.c.name)).scalars().all() == ["purged"]
        assert store.dataset_experiment_ids(dataset.dataset_id) == []  # the dataset stays, unlinked
        with store.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(s.scorer_versions)).scalar() == 0
            for table in (s.review_queue_users, s.review_queue_label_schemas, s.review_queue_items):
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0, table.name
        assert store.get_issue(kept.issue_id).source_run_id is None
        # Its id is never given again (SQLite gives the highest id again once its row is gone).
        assert int(store.create_experiment("purged")) > experiment_id
    finally:
        store.close()


@pytest.mark.parametrize(
    ("text", "ms"),
    [("30d", 30 * 86_400_000), ("1d2h3m4s", 93_784_000), ("1.5h", 5_400_000), ("90m", 5_400_000), ("0s", 0)],
)
def test_ages_are_spelled_as_mlflow_gc_spells_them(text: str, ms: int) -> None:
    from tracklet.admin.gc import parse_age

    assert parse_age(text) == ms


def test_traces_older_than_an_age_are_deleted_with_their_spans_and_newer_ones_kept(
    server: TrackletServer, mlflow_client: MlflowClient
) -> None:
    import httpx

    experiment_id = new_experiment(mlflow_client)
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}

    def trace(request_time: str) -> tuple[str, Path]:
        info = {"trace_id": f"tr-{uuid.uuid4().hex}", "trace_location": location, "request_time": request_time,
                "execution_duration": "0.1s", "state": "OK"}  # fmt: skip
        started = httpx.post(f"{server.url}/api/3.0/mlflow/traces", json={"trace": {"trace_info": info}})
        trace_id = started.json()["trace"]["trace_info"]["trace_id"]
        path = f"{experiment_id}/traces/{trace_id}/artifacts/traces.json"
        spans = {"spans": [{"span_id": "AAAAAAAAAAE=", "name": "step", "attributes": {"k": '"v"'}}]}
        uploaded = httpx.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{path}", json=spans)
        assert uploaded.status_code == 200
        return trace_id, Path(server.artifacts_destination) / path

    old = [trace("2020-01-01T00:00:00.000Z") for _ in range(3)]
    new = trace(time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()))
    assert all(spans.exists() for _, spans in [*old, new])

    def found_by_their_spans() -> set[str]:  # their spans copied into the database, which gc must remove
        body = {"locations": [location], "filter": "span.name = 'step' AND span.attributes.k = 'v'"}
        answer = httpx.post(f"{server.url}/api/3.0/mlflow/traces/search", json=body)
        assert answer.status_code == 200, answer.text
        return {t["trace_id"] for t in answer.json().get("traces", [])}

    assert found_by_their_spans() == {trace_id for trace_id, _ in [*old, new]}

    dry = gc(server, "--traces-older-than", "30d", "--dry-run")
    assert dry.returncode == 0 and "Would delete 3 traces" in dry.stdout, dry.stdout + dry.stderr
    assert all(spans.exists() for _, spans in old)

    done = gc(server, "--traces-older-than", "30d")
    assert done.returncode == 0 and "deleted 3 traces" in done.stdout, done.stdout + done.stderr
    for trace_id, spans in old:
        assert not spans.parent.parent.exists()  # the trace's own folder
        assert httpx.get(f"{server.url}/api/3.0/mlflow/traces/{trace_id}").status_code == 404
    assert new[1].exists() and httpx.get(f"{server.url}/api/3.0/mlflow/traces/{new[0]}").status_code == 200
    assert found_by_their_spans() == {new[0]}

    bad = gc(server, "--traces-older-than", "soon")
    assert bad.returncode != 0 and "soon" in bad.stderr and "Traceback" not in bad.stderr


def test_expired_access_tokens_are_purged_and_the_others_kept(server: TrackletServer) -> None:
    owner = "gc-" + uuid.uuid4().hex[:8]
    store = Store(server.backend_store_uri, migrate=False)
    try:
        store.create_user(owner, "a long enough password")
        expired, _ = store.create_token(owner, "expired", expires_in_days=1)
        store.create_token(owner, "expiring", expires_in_days=1)
        store.create_token(owner, "forever")
        with store.db.write() as conn:  # its day is over: it expired an hour ago
            conn.execute(
                schema.access_tokens.update()
                .where(schema.access_tokens.c.token_id == expired.token_id)
                .values(expiration_time=now_ms() - 3_600_000)
            )

        assert f"Would purge 1 expired access token: {owner}/expired" in gc(server, "--dry-run").stdout
        assert ", 0 expired access tokens" in gc(server, "--older-than", "2h").stdout
        assert gc(server, "--run-ids", "no-such-run").returncode == 1  # naming ids purges those alone
        result = gc(server)

        assert result.returncode == 0, result.stderr
        assert ", 1 expired access token" in result.stdout
        assert [token.name for token in store.list_tokens(owner)] == ["expiring", "forever"]
    finally:
        store.close()
