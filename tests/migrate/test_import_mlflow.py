"""`tracklet import-mlflow`: a real `mlflow server`, filled by the official client, copied into tracklet
(SQLite and PostgreSQL) and read back through a real tracklet server with the same client."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.support.processes import MlflowServer, TrackletServer, free_port
from tracklet.cli import cli
from tracklet.migrate import ImportSummary, MlflowSource, SourceError, import_mlflow
from tracklet.settings import Settings
from tracklet.store.store import Store

LONG = 3000  # points of the long history


@dataclass
class Source:
    """The populated MLflow server and what was logged to it."""

    server: MlflowServer
    run_ids: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # artifact path -> bytes, of run "long"
    logged_model_id: str = ""
    trace_id: str = ""
    dataset_ids: dict[str, str] = field(default_factory=dict)  # "qa" (vision and nlp), "many" (nlp)

    @property
    def url(self) -> str:
        return self.server.url


def _populate(url: str, tmp: Path) -> Source:
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric

    client = MlflowClient(tracking_uri=url)
    vision = client.create_experiment("vision", tags={"team": "cv", "note": "first"})
    nlp = client.create_experiment("nlp", tags={"team": "text"})
    gone = client.create_experiment("retired")
    ids: dict[str, str] = {}
    t0 = 1_700_000_000_000

    run = client.create_run(vision, run_name="long", tags={"mode": "train"}, start_time=t0)
    ids["long"] = run.info.run_id
    client.log_batch(run.info.run_id, params=[_param("lr", "0.01"), _param("layers", "4")])
    points = [Metric("loss", 1 / (i + 1), t0 + i, i) for i in range(LONG)]
    points[1500] = Metric("loss", math.nan, t0 + 1500, 1500)
    for start in range(0, LONG, 1000):
        client.log_batch(run.info.run_id, metrics=points[start : start + 1000])
    odd = [math.nan, math.inf, -math.inf, 2.5, 1.0]
    client.log_batch(run.info.run_id, metrics=[Metric("odd", v, t0 + i, i) for i, v in enumerate(odd)])
    tree = tmp / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    files = {
        "tree/a.txt": b"alpha\n",
        "tree/sub/b.json": b'{"b": 1}',
        "tree/sub/deeper/c.csv": b"x,y\n1,2\n",
        "weights.bin": bytes(range(256)) * 4000,
    }
    for path, data in files.items():
        (tmp / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp / path).write_bytes(data)
    client.log_artifacts(run.info.run_id, str(tree), "tree")
    client.log_artifact(run.info.run_id, str(tmp / "weights.bin"))
    dataset = Dataset("digits", "d1g3st", "local", '{"uri": "/data/digits"}', schema='{"x": "int"}', profile="{}")
    client.log_inputs(run.info.run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])])
    client.set_terminated(run.info.run_id, "FINISHED", end_time=t0 + LONG)

    parent = client.create_run(nlp, run_name="sweep", start_time=t0 + 10)
    ids["parent"] = parent.info.run_id
    for i in range(3):
        child = client.create_run(
            nlp, run_name=f"trial-{i}", tags={"mlflow.parentRunId": parent.info.run_id}, start_time=t0 + 20 + i
        )
        ids[f"child{i}"] = child.info.run_id
        client.log_param(child.info.run_id, "alpha", str(i / 10))
        client.log_metric(child.info.run_id, "score", i * 1.5, timestamp=t0 + i, step=0)
        client.log_metric(child.info.run_id, "score", i * 2.0, timestamp=t0 + i + 1, step=1)
        client.set_terminated(child.info.run_id, "FAILED" if i == 2 else "FINISHED", end_time=t0 + 100 + i)
    client.set_terminated(parent.info.run_id, "FINISHED", end_time=t0 + 200)
    doomed = client.create_run(nlp, run_name="doomed", start_time=t0)
    ids["deleted"] = doomed.info.run_id
    client.log_metric(doomed.info.run_id, "score", 0.1)
    client.set_terminated(doomed.info.run_id, "FINISHED", end_time=t0 + 300)  # ended long before it was deleted
    client.delete_run(doomed.info.run_id)
    old = client.create_run(gone, run_name="old")
    ids["retired"] = old.info.run_id
    client.log_param(old.info.run_id, "p", "v")
    client.delete_experiment(gone)

    # Artifacts outside the proxy: a local folder (copied from disk), an object store (named in a warning).
    on_disk = client.create_experiment("on-disk", artifact_location=(tmp / "local-artifacts").as_uri())
    local = client.create_run(on_disk, run_name="local")
    ids["local"] = local.info.run_id
    client.log_artifact(local.info.run_id, str(tmp / "tree" / "a.txt"), "notes")
    in_s3 = client.create_experiment("in-s3", artifact_location="s3://old-bucket/mlflow")
    ids["s3"] = client.create_run(in_s3, run_name="remote").info.run_id

    client.create_registered_model("classifier", tags={"owner": "cv"}, description="digits classifier")
    for i in (1, 2):
        client.create_model_version(
            "classifier",
            source=f"runs:/{ids['long']}/model",
            run_id=ids["long"],
            tags={"try": str(i)},
            description=f"version {i}",
        )
    client.set_registered_model_alias("classifier", "champion", "2")
    # MLflow 3's way: a logged model (what `log_model` records) with its files, params, tags and a metric,
    # produced by run "long", and a version registered from it.
    from mlflow.entities import LoggedModelOutput

    logged = client.create_logged_model(
        vision, name="net", source_run_id=ids["long"], params={"depth": "3"}, tags={"kind": "cnn"}
    )
    (tmp / "net").mkdir()
    (tmp / "net" / "MLmodel").write_text("flavors: {python_function: {}}\n")
    client.log_model_artifacts(logged.model_id, str(tmp / "net"))
    client.log_metric(ids["long"], "acc", 0.75, timestamp=t0, step=0, model_id=logged.model_id)
    client.log_outputs(ids["long"], [LoggedModelOutput(logged.model_id, 0)])
    client.create_registered_model("from-logged")
    client.create_model_version("from-logged", source=f"models:/{logged.model_id}", model_id=logged.model_id)
    trace_id = _trace(url, vision)
    client.link_traces_to_run([trace_id], ids["long"])  # as `mlflow.genai.evaluate` links what it judged
    datasets = _datasets_and_scorers(url, vision, nlp, trace_id)
    return Source(MlflowServer(tmp), ids, files, logged.model_id, trace_id, datasets)


@contextmanager
def _tracking_uri(url: str) -> Iterator[None]:
    """MLflow's genai functions (datasets, scorers) talk to the fluent tracking URI."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(url)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def _datasets_and_scorers(url: str, vision: str, nlp: str, trace_id: str) -> dict[str, str]:
    """Evaluation datasets ("qa" linked to vision and nlp, its first record merged twice; "many" linked to
    nlp only) and registered scorers ("polite" in vision: versions 1 and 3, 2 deleted; "brief" in nlp)."""
    from mlflow.genai.datasets import create_dataset
    from mlflow.genai.scorers import Guidelines, delete_scorer

    with _tracking_uri(url):
        qa = create_dataset(name="qa", experiment_id=[vision, nlp], tags={"team": "genai", "stage": "draft"})
        qa.merge_records(
            [
                {"inputs": {"question": "2+2?"}, "expectations": {"answer": "4"}, "tags": {"mlflow.user": "ada"}},
                {
                    "inputs": {"question": "capital of France?"},
                    "outputs": {"answer": "Paris", "confidence": 0.9},
                    "expectations": {"answer": "Paris", "score": 1.0},
                    "source": {"source_type": "HUMAN", "source_data": {"source_id": "annotator-7"}},
                },
                {
                    "inputs": {"question": "why?"},
                    "outputs": {"answer": "because"},
                    "source": {"source_type": "TRACE", "source_data": {"trace_id": trace_id}},
                },
            ]
        )
        time.sleep(0.01)  # the merge below changes the first record later than it was created
        qa.merge_records(
            [{"inputs": {"question": "2+2?"}, "outputs": {"answer": "4"}, "expectations": {"checked": True},
              "tags": {"mlflow.user": "bob"}}]
        )  # fmt: skip
        many = create_dataset(name="many", experiment_id=nlp)
        many.merge_records([{"inputs": {"i": i}, "expectations": {"double": 2 * i}} for i in range(5)])
        for text in ("Be polite.", "Be very polite.", "Be kind."):
            Guidelines(name="polite", guidelines=text).register(experiment_id=vision)
        delete_scorer(name="polite", experiment_id=vision, version=2)
        Guidelines(name="brief", guidelines="Be brief.").register(experiment_id=nlp)
    return {"qa": qa.dataset_id, "many": many.dataset_id}


def _trace(url: str, experiment_id: str) -> str:
    """A traced call of two spans in the experiment, with a feedback on it; its trace id."""
    import mlflow
    from mlflow.tracking import fluent

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment(experiment_id=experiment_id)
    try:

        @mlflow.trace(span_type="CHAIN")
        def answer(question: str) -> str:
            with mlflow.start_span("lookup", span_type="RETRIEVER") as span:
                span.set_inputs({"q": question})
                span.set_outputs(["doc-1"])
            return question.upper()

        answer("why?")
        mlflow.flush_trace_async_logging()
        trace_id = mlflow.get_last_active_trace_id()
        assert trace_id is not None
        mlflow.log_feedback(trace_id=trace_id, name="helpful", value=True, rationale="clear")
        return trace_id
    finally:
        mlflow.set_tracking_uri(previous)
        fluent._active_experiment_id = None


def _param(key: str, value: str) -> Any:
    from mlflow.entities import Param

    return Param(key, value)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    tmp = tmp_path_factory.mktemp("mlflow")
    server = MlflowServer(tmp).start()
    try:
        populated = _populate(server.url, tmp / "files")
        populated.server = server
        yield populated
    finally:
        server.stop()


def _import(source_url: str, store_uri: str, artifacts: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        cli,
        ["import-mlflow", source_url, "--backend-store-uri", store_uri, "--artifacts-destination", str(artifacts)]
        + list(extra),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def _points(history: list[Any]) -> list[tuple[int, int, str]]:
    """A history as comparable tuples, NaN included (NaN != NaN)."""
    return sorted((m.timestamp, m.step, repr(float(m.value))) for m in history)


def _latest(run: Any) -> dict[str, str]:
    return {k: repr(float(v)) for k, v in run.data.metrics.items()}


@pytest.mark.slow
def test_import_copies_experiments_runs_histories_artifacts_and_registry(
    source: Source, store_uri: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    started = time.perf_counter()
    output = _import(source.url, store_uri, tmp_path / "artifacts")
    took = time.perf_counter() - started
    assert "6 experiments (5 new), 9 runs copied, 0 already there" in output, output
    assert f"{LONG + 5 + 6 + 1 + 1} metric points" in output
    assert (
        "6 artifact files" in output
        and "1 trace (1 link to runs), 1 logged model, 2 registered models, 3 model versions, "
        "2 evaluation datasets (8 records), 3 scorer versions, 1 warning"
        in output
    )
    s3_run = source.run_ids["s3"]
    assert f"Warning: run {s3_run}: artifacts at s3://old-bucket/mlflow/{s3_run}/artifacts not copied" in output
    model_id = source.logged_model_id
    print(f"import took {took:.2f}s")
    if store_uri.startswith("postgresql"):
        # The planner knows the copied tables' sizes at once, not after autovacuum's next round (never, for
        # a table of 9 runs: it waits for 50 changed rows).
        assert _planner_row_estimate(store_uri, "runs") == 9

    old = MlflowClient(tracking_uri=source.url)
    srv = TrackletServer(store_uri, str(tmp_path / "artifacts")).start()
    try:
        new = MlflowClient(tracking_uri=srv.url)
        for name in ("vision", "nlp", "retired"):
            was, now = old.get_experiment_by_name(name), new.get_experiment_by_name(name)
            assert now is not None and was is not None
            assert now.tags == was.tags and now.lifecycle_stage == was.lifecycle_stage
        assert new.get_experiment_by_name("retired").lifecycle_stage == "deleted"

        for label, run_id in source.run_ids.items():
            was, now = old.get_run(run_id), new.get_run(run_id)
            assert now.info.run_id == run_id, label
            for attr in ("run_name", "user_id", "status", "start_time", "end_time", "lifecycle_stage"):
                assert getattr(now.info, attr) == getattr(was.info, attr), (label, attr)
            assert now.data.params == was.data.params, label
            assert now.data.tags == was.data.tags, label
            assert _latest(now) == _latest(was), label
            for key in was.data.metrics:
                assert _points(new.get_metric_history(run_id, key)) == _points(old.get_metric_history(run_id, key))
            assert [(d.dataset.name, d.dataset.digest, d.dataset.source, d.dataset.schema, d.tags) for d in now.inputs.dataset_inputs] == [
                (d.dataset.name, d.dataset.digest, d.dataset.source, d.dataset.schema, d.tags) for d in was.inputs.dataset_inputs
            ]  # fmt: skip
        assert new.get_run(source.run_ids["deleted"]).info.lifecycle_stage == "deleted"
        assert len(new.get_metric_history(source.run_ids["long"], "loss")) == LONG

        long_id = source.run_ids["long"]
        assert new.get_run(long_id).info.artifact_uri.startswith("mlflow-artifacts:/")
        downloaded = Path(new.download_artifacts(long_id, "", str(tmp_path / "down")))
        for path, data in source.files.items():
            assert (downloaded / path).read_bytes() == data, path
        assert sorted(str(p.relative_to(downloaded)) for p in downloaded.rglob("*") if p.is_file()) == sorted(
            source.files
        )
        note = new.download_artifacts(source.run_ids["local"], "notes/a.txt", str(tmp_path / "down-local"))
        assert Path(note).read_bytes() == b"alpha\n"

        vision = new.get_experiment_by_name("vision").experiment_id
        found = new.search_runs([vision], "metrics.loss < 0.001 and params.lr = '0.01'")
        assert [r.info.run_id for r in found] == [long_id]
        nlp = new.get_experiment_by_name("nlp").experiment_id
        assert {r.info.run_name for r in new.search_runs([nlp], "metrics.score >= 2")} == {"trial-1", "trial-2"}

        model = new.get_registered_model("classifier")
        assert model.description == "digits classifier" and model.tags == {"owner": "cv"}
        assert model.aliases == {"champion": "2"}
        for number in ("1", "2"):
            was_v, now_v = old.get_model_version("classifier", number), new.get_model_version("classifier", number)
            for attr in ("source", "run_id", "status", "description", "tags", "current_stage"):
                assert getattr(now_v, attr) == getattr(was_v, attr), attr
        uri = new.get_model_version_download_uri("classifier", "2")
        assert uri == new.get_run(long_id).info.artifact_uri + "/model"
        assert new.get_model_version("from-logged", "1").source == f"models:/{model_id}"
        was_m, now_m = old.get_logged_model(model_id), new.get_logged_model(model_id)
        for attr in ("name", "source_run_id", "status", "params", "tags", "creation_timestamp", "model_type"):
            assert getattr(now_m, attr) == getattr(was_m, attr), attr
        assert [(m.key, m.value, m.run_id) for m in now_m.metrics] == [("acc", 0.75, long_id)]
        assert now_m.artifact_location == new.get_model_version_download_uri("from-logged", "1")

        was_t, now_t = old.get_trace(source.trace_id), new.get_trace(source.trace_id)
        for attr in ("request_time", "execution_duration", "state", "request_preview", "response_preview"):
            assert getattr(now_t.info, attr) == getattr(was_t.info, attr), attr
        assert now_t.info.trace_metadata == was_t.info.trace_metadata
        assert {k: v for k, v in now_t.info.tags.items() if k != "mlflow.artifactLocation"} == {
            k: v for k, v in was_t.info.tags.items() if k != "mlflow.artifactLocation"
        }
        spans = {s.name: s for s in now_t.data.spans}
        assert set(spans) == {"answer", "lookup"} and spans["lookup"].parent_id == spans["answer"].span_id
        assert spans["answer"].inputs == {"question": "why?"} and spans["answer"].outputs == "WHY?"
        assert spans["lookup"].span_type == "RETRIEVER" and spans["lookup"].outputs == ["doc-1"]
        assert [s.span_id for s in now_t.data.spans] == [s.span_id for s in was_t.data.spans]
        ((feedback,),) = [now_t.info.assessments]
        assert (feedback.name, feedback.value, feedback.rationale) == ("helpful", True, "clear")
        assert feedback.assessment_id == was_t.info.assessments[0].assessment_id
        assert [o.model_id for o in new.get_run(long_id).outputs.model_outputs] == [model_id]
        # The trace was linked to run "long" after it was recorded: MLflow finds it by that run, so does tracklet.
        vision_id = new.get_experiment_by_name("vision").experiment_id
        assert [t.info.trace_id for t in new.search_traces(locations=[vision_id], run_id=long_id)] == [source.trace_id]
        # Its spans are searchable as they arrived: span filters find it.
        retriever = "span.type = 'RETRIEVER' AND span.attributes.`mlflow.spanOutputs` LIKE '%doc-1%'"
        assert [t.info.trace_id for t in new.search_traces(locations=[vision_id], filter_string=retriever)] == [
            source.trace_id
        ]
        import mlflow.artifacts

        mlflow.set_tracking_uri(srv.url)
        loaded = Path(mlflow.artifacts.download_artifacts(f"models:/{model_id}", dst_path=str(tmp_path / "net")))
        assert (loaded / "MLmodel").read_text() == "flavors: {python_function: {}}\n"

        # tracklet is an MLflow-protocol source too: copying the copy gives the same history again.
        again = _import(srv.url, f"sqlite:///{tmp_path / 'again.db'}", tmp_path / "again-artifacts")
        assert "9 runs copied" in again and f"{LONG + 5 + 6 + 1 + 1} metric points" in again, again
        assert (
            "6 artifact files" in again
            and "1 trace (1 link to runs), 1 logged model, 2 registered models, 3 model versions, "
            "2 evaluation datasets (8 records), 3 scorer versions, 0 warnings"
            in again
        )
    finally:
        srv.stop()


@pytest.mark.slow
def test_a_second_import_copies_nothing_and_duplicates_nothing(source: Source, tmp_path: Path) -> None:
    store_uri = f"sqlite:///{tmp_path / 'tracklet.db'}"
    _import(source.url, store_uri, tmp_path / "artifacts")
    before = _row_counts(store_uri)
    output = _import(source.url, store_uri, tmp_path / "artifacts")
    assert "6 experiments (0 new), 0 runs copied, 9 already there, 0 metric points, 0 artifact files" in output
    assert "0 traces, 0 logged models" in output
    assert "0 registered models, 0 model versions, 0 evaluation datasets (0 records), 0 scorer versions" in output
    assert _row_counts(store_uri) == before


@pytest.mark.slow
def test_a_dry_run_counts_what_would_be_copied_and_copies_nothing(source: Source, tmp_path: Path) -> None:
    store_uri = f"sqlite:///{tmp_path / 'tracklet.db'}"
    first = _import(source.url, store_uri, tmp_path / "artifacts", "--dry-run")
    assert first.strip() == (
        "Would copy 6 experiments (5 new), 9 runs (0 already there), 1 trace, 1 logged model, 2 registered models, "
        "3 model versions, 2 evaluation datasets, 3 scorer versions (a dry run: nothing copied)"
    )
    assert _row_counts(store_uri)["runs"] == 0 and not (tmp_path / "artifacts").exists()
    _import(source.url, store_uri, tmp_path / "artifacts")
    again = _import(source.url, store_uri, tmp_path / "artifacts", "--dry-run")
    assert again.startswith("Would copy 6 experiments (0 new), 0 runs (9 already there), 0 traces, 0 logged models, ")
    assert "0 registered models, 0 model versions, 0 evaluation datasets, 0 scorer versions" in again


def test_deleted_runs_count_as_deleted_at_the_import_for_gc(source: Source, tmp_path: Path) -> None:
    """MLflow does not say when a run was deleted; `tracklet gc --older-than 1d` must not purge it at once."""
    store_uri = f"sqlite:///{tmp_path / 'tracklet.db'}"
    _import(source.url, store_uri, tmp_path / "artifacts")
    store = Store(store_uri)
    try:
        a_day_ago = int(time.time() * 1000) - 86_400_000
        assert source.run_ids["deleted"] not in [r.id for r in store.find_garbage(deleted_before=a_day_ago).runs]
        assert source.run_ids["deleted"] in [r.id for r in store.find_garbage().runs]
    finally:
        store.close()


def _row_counts(store_uri: str, tables: tuple[str, ...] = ()) -> dict[str, int]:
    store = Store(store_uri)
    try:
        with store.db.read() as conn:
            tables = tables or (
                "experiments", "runs", "params", "tags", "metrics", "latest_metrics", "metric_tiles", "dataset_inputs",
                "model_versions", "registered_model_aliases", *_GENAI_TABLES,
            )  # fmt: skip
            return {t: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one() for t in tables}
    finally:
        store.close()


def _planner_row_estimate(store_uri: str, table: str) -> float:
    """PostgreSQL's estimate of a table's rows: -1 until the table is first analyzed."""
    store = Store(store_uri, migrate=False)
    try:
        with store.db.read() as conn:
            query = "SELECT reltuples FROM pg_class WHERE relname = %(table)s"
            return float(conn.exec_driver_sql(query, {"table": table}).scalar_one())
    finally:
        store.close()


def _points_per_history(store: Store, run_id: str) -> dict[str, int]:
    from sqlalchemy import select

    from tracklet.store import schema as s

    lm = s.latest_metrics
    with store.db.read() as conn:
        return dict(conn.execute(select(lm.c.key, lm.c.n_points).where(lm.c.run_uuid == run_id)).all())  # type: ignore[arg-type]


class _DropsAfter(httpx.AsyncHTTPTransport):
    """The source goes away after `n` history pages: the import fails in the middle of a run."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/metrics/get-history"):
            if self.left == 0:
                raise httpx.ConnectError("connection refused (simulated)", request=request)
            self.left -= 1
        return await super().handle_async_request(request)


@pytest.mark.slow
def test_a_run_interrupted_mid_copy_is_copied_again_whole(source: Source, store_uri: str, tmp_path: Path) -> None:
    settings = Settings(backend_store_uri=store_uri, artifacts_destination=str(tmp_path / "artifacts"))
    from tracklet.artifacts import artifact_store_for

    store, artifacts = Store(settings.store_uri), artifact_store_for(settings.artifact_root)
    long_id = source.run_ids["long"]

    async def run(transport: httpx.AsyncBaseTransport | None) -> ImportSummary:
        async with MlflowSource(source.url, history_page=500, transport=transport) as src:
            return await import_mlflow(src, store, artifacts, experiment_names=["vision"])

    try:
        with pytest.raises(SourceError, match="Cannot reach"):
            asyncio.run(run(_DropsAfter(3)))  # a page or two of "loss" written, then the source is gone
        assert not store.run_exists(long_id)
        partial = _points_per_history(store, long_id)  # the partial copy, which no run shows
        assert 500 <= partial["loss"] < LONG, partial
        vision = store.get_experiment_by_name("vision").experiment_id
        found, _ = store.search_runs([int(vision)], "", "ALL", 100, None, None)
        assert found == []

        summary = asyncio.run(run(None))
        assert (summary.runs_copied, summary.metric_points) == (1, LONG + 5 + 1)
        history, _ = store.get_metric_history(long_id, "loss", None, None)
        assert len(history) == LONG
        assert _points_per_history(store, long_id) == {"loss": LONG, "odd": 5, "acc": 1}  # counted once, not twice
        assert {m.key: m.step for m in store.get_run(long_id).data.metrics} == {"loss": LONG - 1, "odd": 4, "acc": 0}
    finally:
        store.close()


@pytest.mark.slow
def test_only_the_named_experiments_are_copied_into_one_of_that_name(source: Source, tmp_path: Path) -> None:
    store_uri = f"sqlite:///{tmp_path / 'tracklet.db'}"
    store = Store(store_uri)
    from tracklet.entities import KeyValue

    nlp = int(store.create_experiment("nlp", tags=[KeyValue(key="team", value="ours"), KeyValue(key="x", value="1")]))
    store.close()
    output = _import(source.url, store_uri, tmp_path / "artifacts", "--experiment", "nlp", "--no-registry")
    assert "1 experiment (0 new), 5 runs copied" in output and "0 registered models" in output, output
    store = Store(store_uri)
    try:
        merged = store.get_experiment(nlp)
        assert merged.tags == {"team": "ours", "x": "1"}  # its own values win
        runs, _ = store.search_runs([nlp], "", "ALL", 100, None, None)
        assert len(runs) == 5
        assert {e.name for e in store.search_experiments("", "ALL", None, 100, None)[0]} == {"Default", "nlp"}
    finally:
        store.close()


@pytest.mark.slow
def test_an_experiment_missing_from_the_source_is_an_error(source: Source, tmp_path: Path) -> None:
    store_uri = f"sqlite:///{tmp_path / 'tracklet.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "tracklet", "import-mlflow", source.url, "--backend-store-uri", store_uri,
         "--experiment", "nlp", "--experiment", "no-such-thing"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: No experiment named 'no-such-thing' in the MLflow server at {source.url}"
    store = Store(store_uri)
    try:  # nothing was copied, not even the experiment that exists
        assert [e.name for e in store.search_experiments("", "ALL", None, 100, None)[0]] == ["Default"]
    finally:
        store.close()


def test_an_unreachable_source_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "tracklet", "import-mlflow", url, "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: Cannot reach the MLflow server at {url}")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_second_import_into_a_store_at_once_is_refused_before_anything_is_read(
    store_uri: str, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # never reached: the refusal comes first
    command = [sys.executable, "-m", "tracklet", "import-mlflow", url, "--backend-store-uri", store_uri,
               "--artifacts-destination", str(tmp_path / "artifacts")]  # fmt: skip
    store = Store(store_uri)
    try:
        with store.db.one_at_a_time("import-mlflow"):  # as a running import holds it
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
            assert result.returncode == 1
            assert result.stderr.startswith("Error: another 'import-mlflow' is running on"), result.stderr
            dry = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, timeout=60)
            assert "Cannot reach the MLflow server" in dry.stderr  # a dry run writes nothing: not held back
        after = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert "Cannot reach the MLflow server" in after.stderr  # the lock went with its holder
    finally:
        store.close()


def _source_answering(handler: Any) -> MlflowSource:
    return MlflowSource("http://old-mlflow:5000", transport=httpx.MockTransport(handler))


async def _experiments(source: MlflowSource) -> Any:
    async with source:
        return await source.experiments()


def test_a_401_says_which_variables_authenticate() -> None:
    source = _source_answering(lambda request: httpx.Response(401, text="Unauthorized"))
    with pytest.raises(SourceError, match=r"refused access \(401\): set MLFLOW_TRACKING_TOKEN"):
        asyncio.run(_experiments(source))


def test_a_server_that_is_not_mlflow_is_named_so() -> None:
    source = _source_answering(lambda request: httpx.Response(200, text="<html>hello</html>"))
    with pytest.raises(SourceError, match="does not look like an MLflow server"):
        asyncio.run(_experiments(source))
    source = _source_answering(lambda request: httpx.Response(404, text="<html>not found</html>"))
    with pytest.raises(SourceError, match="does not look like an MLflow server"):
        asyncio.run(_experiments(source))


def test_the_source_is_authenticated_like_mlflows_client(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return httpx.Response(200, json={})

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret")
    asyncio.run(_experiments(_source_answering(handler)))
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw")
    asyncio.run(_experiments(_source_answering(handler)))
    assert seen == ["Bearer s3cret", "Basic " + __import__("base64").b64encode(b"ada:pw").decode()]


def _genai_view(url: str, dataset_ids: list[str], experiments: list[str]) -> dict[str, Any]:
    """What the official client reads of these datasets and of the named experiments' scorers, with
    experiments named rather than numbered (they differ between the servers): every field of each
    dataset, its links, every record (`to_dict()`: ids, times, inputs, outputs, expectations, tags,
    source); each scorer version as the client loads it and as the server sends it."""
    from mlflow import MlflowClient
    from mlflow.genai.scorers import list_scorers
    from mlflow.genai.scorers.registry import list_scorer_versions

    client = MlflowClient(tracking_uri=url)
    ids = {name: client.get_experiment_by_name(name).experiment_id for name in experiments}
    names = {number: name for name, number in ids.items()}
    view: dict[str, Any] = {"datasets": {}, "scorers": {}, "searched": {}}
    with _tracking_uri(url):
        for dataset_id in dataset_ids:
            d = client.get_dataset(dataset_id)  # the records load through the fluent URI, hence the `with`
            fields = ("dataset_id", "name", "tags", "schema", "profile", "digest", "created_time", "last_update_time")
            view["datasets"][dataset_id] = {
                **{f: getattr(d, f) for f in (*fields, "created_by", "last_updated_by")},
                "experiments": sorted(names.get(e, f"other:{e}") for e in d.experiment_ids),
                "records": [r.to_dict() for r in d.records],
            }
        for name, number in ids.items():
            view["searched"][name] = sorted(d.name for d in client.search_datasets(experiment_ids=[number]))
            for scorer in list_scorers(experiment_id=number):
                versions = list_scorer_versions(name=scorer.name, experiment_id=number)
                view["scorers"][(name, scorer.name)] = [(v, s.model_dump()) for s, v in versions]
                sent = httpx.get(
                    f"{url}/api/3.0/mlflow/scorers/versions", params={"experiment_id": number, "name": scorer.name}
                ).json()["scorers"]
                view["scorers"][(name, scorer.name, "sent")] = [
                    (v["scorer_version"], v["serialized_scorer"], v["creation_time"]) for v in sent
                ]
    return view


_GENAI_TABLES = (
    "evaluation_datasets", "evaluation_dataset_tags", "evaluation_dataset_records", "evaluation_dataset_experiments",
    "scorers", "scorer_versions",
)  # fmt: skip


@pytest.mark.slow
def test_evaluation_datasets_and_scorers_are_copied_field_by_field(
    source: Source, store_uri: str, tmp_path: Path
) -> None:
    from tracklet.artifacts import artifact_store_for

    settings = Settings(backend_store_uri=store_uri, artifacts_destination=str(tmp_path / "artifacts"))
    store, artifacts = Store(settings.store_uri), artifact_store_for(settings.artifact_root)

    async def run() -> ImportSummary:
        # Two records a page: the records of "qa" and "many" come in several pages.
        async with MlflowSource(source.url, records_page=2) as src:
            return await import_mlflow(
                src, store, artifacts, experiment_names=["vision", "nlp"], copy_artifacts=False, copy_registry=False
            )

    try:
        summary = asyncio.run(run())
        assert (summary.evaluation_datasets, summary.dataset_records, summary.dataset_links) == (2, 8, 0)
        assert summary.scorer_versions == 3
        counts = _row_counts(store_uri, _GENAI_TABLES)
        again = asyncio.run(run())  # a second import copies nothing new
        assert (again.evaluation_datasets, again.dataset_records, again.dataset_links, again.scorer_versions) == (
            0, 0, 0, 0,
        )  # fmt: skip
        assert _row_counts(store_uri, _GENAI_TABLES) == counts
    finally:
        store.close()

    datasets = [source.dataset_ids["qa"], source.dataset_ids["many"]]
    was = _genai_view(source.url, datasets, ["vision", "nlp"])
    srv = TrackletServer(store_uri, str(tmp_path / "artifacts")).start()
    try:
        now = _genai_view(srv.url, datasets, ["vision", "nlp"])
    finally:
        srv.stop()
    # What was logged is there to compare (not two empty views alike).
    qa = was["datasets"][source.dataset_ids["qa"]]
    assert qa["experiments"] == ["nlp", "vision"] and qa["tags"]["team"] == "genai"
    assert len(qa["records"]) == 3 and len(was["datasets"][source.dataset_ids["many"]]["records"]) == 5
    first = next(r for r in qa["records"] if r["inputs"] == {"question": "2+2?"})
    assert first["expectations"] == {"answer": "4", "checked": True} and first["last_updated_by"] == "bob"
    assert first["last_update_time"] > first["created_time"]
    assert was["searched"] == {"vision": ["qa"], "nlp": ["many", "qa"]}
    assert [v for v, _ in was["scorers"][("vision", "polite")]] == [1, 3]
    assert [v for v, _ in was["scorers"][("nlp", "brief")]] == [1]
    for dataset_id in datasets:
        for key, value in was["datasets"][dataset_id].items():
            assert now["datasets"][dataset_id][key] == value, (dataset_id, key)
    assert now["searched"] == was["searched"]
    assert set(now["scorers"]) == set(was["scorers"])
    for key, versions in was["scorers"].items():
        assert now["scorers"][key] == versions, key


@pytest.mark.slow
def test_a_dataset_goes_with_the_experiments_it_is_linked_to(source: Source, tmp_path: Path) -> None:
    store_uri = f"sqlite:///{tmp_path / 'tracklet.db'}"
    qa, many = source.dataset_ids["qa"], source.dataset_ids["many"]
    flags = ("--no-registry", "--no-artifacts")
    dry = _import(source.url, store_uri, tmp_path / "artifacts", "--experiment", "vision", "--dry-run", *flags)
    assert dry.strip().endswith(", 1 evaluation dataset, 2 scorer versions (a dry run: nothing copied)"), dry
    output = _import(source.url, store_uri, tmp_path / "artifacts", "--experiment", "vision", *flags)
    assert "1 evaluation dataset (3 records), 2 scorer versions" in output, output
    store = Store(store_uri)
    try:
        vision = store.get_experiment_by_name("vision").experiment_id
        assert store.dataset_experiment_ids(qa) == [vision]  # linked to the experiment copied only
        assert not store.dataset_exists(many)  # linked only to nlp, which was not copied
        assert [(s.scorer_name, s.scorer_version) for s in store.list_scorer_versions(int(vision), "polite")] == [
            ("polite", 1),
            ("polite", 3),
        ]
    finally:
        store.close()

    dry = _import(source.url, store_uri, tmp_path / "artifacts", "--experiment", "nlp", "--dry-run", *flags)
    assert dry.strip().endswith(", 1 evaluation dataset, 1 scorer version (a dry run: nothing copied)"), dry
    output = _import(source.url, store_uri, tmp_path / "artifacts", "--experiment", "nlp", *flags)
    assert "1 evaluation dataset (5 records, 1 new link of those there), 1 scorer version" in output, output
    store = Store(store_uri)
    try:
        nlp = store.get_experiment_by_name("nlp").experiment_id
        assert store.dataset_experiment_ids(qa) == sorted([vision, nlp], key=int)
        assert store.dataset_experiment_ids(many) == [nlp]
        assert store.get_dataset(qa).last_update_time == source_dataset_time(source, qa)  # a link leaves it be
    finally:
        store.close()


def source_dataset_time(source: Source, dataset_id: str) -> int:
    with _tracking_uri(source.url):
        from mlflow.genai.datasets import get_dataset

        return int(get_dataset(dataset_id=dataset_id).last_update_time)


def test_listings_follow_page_tokens_and_the_apis_an_older_mlflow_lacks_list_nothing() -> None:
    """Experiments page by their POST body's token, registered models by their GET query's; an MLflow 2
    server answers 404 ENDPOINT_NOT_FOUND for logged models, traces, datasets and scorers."""
    tokens_sent: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/2.0/mlflow/experiments/search":
            token = json.loads(request.content).get("page_token")
            tokens_sent.append(("experiments", token))
            if token is None:
                return httpx.Response(
                    200, json={"experiments": [{"experiment_id": "0", "name": "Default"}], "next_page_token": "e2"}
                )
            return httpx.Response(200, json={"experiments": [{"experiment_id": "7", "name": "later"}]})
        if path == "/api/2.0/mlflow/registered-models/search":
            token = request.url.params.get("page_token")
            tokens_sent.append(("models", token))
            if token is None:
                return httpx.Response(200, json={"registered_models": [{"name": "a"}], "next_page_token": "m2"})
            return httpx.Response(200, json={"registered_models": [{"name": "b"}], "next_page_token": ""})
        return httpx.Response(404, json={"error_code": "ENDPOINT_NOT_FOUND", "message": "No such endpoint"})

    async def listings(source: MlflowSource) -> dict[str, Any]:
        async with source:
            return {
                "experiments": [e.name for e in await source.experiments()],
                "models": [m.name for m in await source.registered_models() or []],
                "logged models": await source.logged_models("7"),
                "traces": await source.trace_ids("7"),
                "datasets": await source.datasets(None),
                "scorers": await source.scorers("7"),
            }

    found = asyncio.run(listings(_source_answering(handler)))
    assert found == {
        "experiments": ["Default", "later"],
        "models": ["a", "b"],
        "logged models": [],
        "traces": [],
        "datasets": [],
        "scorers": [],
    }
    assert tokens_sent == [("experiments", None), ("experiments", "e2"), ("models", None), ("models", "m2")]


@pytest.mark.slow
def test_a_dataset_copied_before_gains_what_the_source_merged_since(tmp_path: Path) -> None:
    """The source is a tracklet server here (it speaks the same protocol, and starts in a second)."""
    from mlflow.genai.datasets import create_dataset, get_dataset, set_dataset_tags

    source = TrackletServer(f"sqlite:///{tmp_path / 'source.db'}", str(tmp_path / "source-artifacts")).start()
    store_uri, flags = f"sqlite:///{tmp_path / 'tracklet.db'}", ("--no-registry", "--no-artifacts")
    try:
        with _tracking_uri(source.url):
            import mlflow

            experiment_id = mlflow.create_experiment("evals")
            qa = create_dataset(name="qa", experiment_id=[experiment_id], tags={"stage": "draft"})
            qa.merge_records([{"inputs": {"q": "2+2?"}, "expectations": {"a": "4"}}, {"inputs": {"q": "why?"}}])
            first = _import(source.url, store_uri, tmp_path / "artifacts", "--experiment", "evals", *flags)
            assert "1 evaluation dataset (2 records), " in first, first

            time.sleep(0.01)  # the merge below is later than the copy's times
            qa = get_dataset(dataset_id=qa.dataset_id)
            qa.merge_records([{"inputs": {"q": "2+2?"}, "expectations": {"checked": True}}, {"inputs": {"q": "new"}}])
            set_dataset_tags(dataset_id=qa.dataset_id, tags={"stage": "final"})
            second = _import(source.url, store_uri, tmp_path / "artifacts", "--experiment", "evals", *flags)
            assert (
                "0 evaluation datasets (1 record, 1 dataset there brought up to date, 1 of their records updated)"
                in second
            ), second
            third = _import(source.url, store_uri, tmp_path / "artifacts", "--experiment", "evals", *flags)
            assert "0 evaluation datasets (0 records), " in third, third
        was = _genai_view(source.url, [qa.dataset_id], ["evals"])
    finally:
        source.stop()
    target = TrackletServer(store_uri, str(tmp_path / "artifacts")).start()
    try:
        now = _genai_view(target.url, [qa.dataset_id], ["evals"])
    finally:
        target.stop()
    records = was["datasets"][qa.dataset_id]["records"]
    assert len(records) == 3 and {"a": "4", "checked": True} in [r.get("expectations") for r in records]
    assert now["datasets"] == was["datasets"]
