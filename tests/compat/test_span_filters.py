"""Span filters through the official client's `mlflow.search_traces`: `span.name`, `span.type`, `span.status`,
`span.attributes.<key>`, `span.content` and `trace.text`, on traces whose spans MLflow's client uploaded
(`traces.json`), on traces whose spans arrived over OTLP, and on traces whose file the server never saw."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pytest
from mlflow.entities import SpanType
from mlflow.exceptions import MlflowException
from sqlalchemy import Connection, text

from tests.compat.conftest import error_code
from tests.compat.test_otlp import Recorder, export, record_agent, trace_id_of
from tracklet.store.database import Database


@mlflow.trace(span_type=SpanType.TOOL)
def lookup(city: str) -> str:
    mlflow.get_current_active_span().set_attribute("source", "atlas café")  # type: ignore[union-attr]
    return f"{city} is sunny"


@mlflow.trace(span_type=SpanType.LLM)
def chat(prompt: str) -> str:
    span = mlflow.get_current_active_span()
    span.set_attribute("model", "gpt-4o-mini")  # type: ignore[union-attr]
    span.set_attribute("temperature", 0.5)  # type: ignore[union-attr]
    return prompt.upper()


@mlflow.trace(name="agent", span_type=SpanType.AGENT)
def agent(question: str, city: str | None = None) -> str:
    with mlflow.start_span("plan") as span:
        span.set_inputs({"question": question})
    found = lookup(city) if city else ""
    return chat(question + found)


@mlflow.trace(name="agent", span_type=SpanType.AGENT)
def failing_agent(question: str) -> str:
    try:
        with mlflow.start_span("flaky-tool", span_type=SpanType.TOOL):
            raise TimeoutError("the tool timed out")
    except TimeoutError:
        pass
    return chat(question)


def _export() -> None:
    mlflow.flush_trace_async_logging()


def _ids(experiment_id: str, filter_string: str, **kwargs) -> set[str]:  # type: ignore[no-untyped-def]
    found = mlflow.search_traces(locations=[experiment_id], filter_string=filter_string, return_type="list", **kwargs)
    return {trace.info.trace_id for trace in found}


def _traced(call) -> str:  # type: ignore[no-untyped-def]
    call()
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    return trace_id


def test_span_filters_find_uploaded_traces_by_name_type_status_attributes_and_content(mlflow_client, experiment_id):
    weather = _traced(lambda: agent("weather?", city="Oslo"))
    plain = _traced(lambda: agent("hello"))
    failed = _traced(lambda: failing_agent("retry?"))
    _export()
    every = {weather, plain, failed}

    assert _ids(experiment_id, "span.name = 'lookup'") == {weather}
    assert _ids(experiment_id, "span.name IN ('lookup', 'flaky-tool')") == {weather, failed}
    assert _ids(experiment_id, "span.name NOT IN ('agent', 'plan', 'chat')") == {weather, failed}
    assert _ids(experiment_id, "span.name != 'agent'") == every
    assert _ids(experiment_id, "span.name LIKE 'flaky%'") == {failed}
    assert _ids(experiment_id, "span.name LIKE 'FLAKY%'") == set()
    assert _ids(experiment_id, "span.name ILIKE 'FLAKY%'") == {failed}
    assert _ids(experiment_id, "span.name RLIKE '^look.p$'") == {weather}
    assert _ids(experiment_id, "span.type = 'TOOL'") == {weather, failed}
    assert _ids(experiment_id, "span.type = 'LLM'") == every
    assert _ids(experiment_id, "span.status = 'ERROR'") == {failed}
    assert _ids(experiment_id, "span.status = 'OK' AND span.name = 'flaky-tool'") == set()

    # Attributes compare the value the span holds, not its JSON text.
    assert _ids(experiment_id, "span.attributes.model = 'gpt-4o-mini'") == every
    assert _ids(experiment_id, "span.attributes.model LIKE 'gpt-4o%'") == every
    assert _ids(experiment_id, "span.attributes.temperature = '0.5'") == every
    assert _ids(experiment_id, "span.attributes.source = 'atlas café'") == {weather}
    assert _ids(experiment_id, "span.attributes.`mlflow.spanType` = 'AGENT'") == every
    assert _ids(experiment_id, "span.attributes.model = 'gpt-5'") == set()

    # Content and full text: anything in a span (inputs, outputs, events, non-ASCII text as written).
    assert _ids(experiment_id, "span.content LIKE '%weather?%'") == {weather}
    assert _ids(experiment_id, "trace.text LIKE '%the tool timed out%'") == {failed}
    assert _ids(experiment_id, "trace.text LIKE '%café%'") == {weather}
    assert _ids(experiment_id, "trace.text ILIKE '%OSLO IS SUNNY%'") == {weather}
    assert _ids(experiment_id, "trace.text LIKE '%OSLO IS SUNNY%'") == {weather}  # chat's output, upper case
    assert _ids(experiment_id, "trace.text LIKE '%nowhere to be found%'") == set()


def test_several_span_conditions_must_hold_on_one_span(mlflow_client, experiment_id):
    weather = _traced(lambda: agent("weather?", city="Oslo"))
    _export()
    assert _ids(experiment_id, "span.name = 'lookup' AND span.type = 'TOOL'") == {weather}
    # The trace has a TOOL span (lookup) and a span named chat, but chat is no TOOL: as in MLflow, no match.
    assert _ids(experiment_id, "span.name = 'chat' AND span.type = 'TOOL'") == set()
    assert _ids(experiment_id, "span.name = 'chat' AND span.attributes.source = 'atlas café'") == set()
    assert _ids(experiment_id, "span.name = 'lookup' AND span.attributes.source LIKE 'atlas%'") == {weather}
    assert _ids(experiment_id, "trace.text LIKE '%Oslo%' AND span.type = 'TOOL'") == {weather}
    assert _ids(experiment_id, "trace.text LIKE '%gpt-4o-mini%' AND span.type = 'TOOL'") == set()


def test_span_filters_combine_with_tags_status_and_run(mlflow_client, experiment_id):
    outside = _traced(lambda: agent("weather?", city="Oslo"))
    with mlflow.start_run() as run:
        inside = _traced(lambda: agent("weather?", city="Bergen"))
        inside_failed = _traced(lambda: failing_agent("retry?"))
    _export()
    mlflow_client.set_trace_tag(outside, "team", "search")
    mlflow_client.set_trace_tag(inside, "team", "search")

    assert _ids(experiment_id, "span.type = 'TOOL'") == {outside, inside, inside_failed}
    assert _ids(experiment_id, "span.type = 'TOOL'", run_id=run.info.run_id) == {inside, inside_failed}
    assert _ids(experiment_id, "span.type = 'TOOL' AND tags.team = 'search'") == {outside, inside}
    assert _ids(experiment_id, "tags.team = 'search' AND span.name = 'lookup'", run_id=run.info.run_id) == {inside}
    # The trace is OK (the agent caught the timeout) though one of its spans failed.
    assert _ids(experiment_id, "trace.status = 'OK' AND span.status = 'ERROR'") == {inside_failed}
    assert _ids(experiment_id, "trace.name = 'agent' AND trace.text LIKE '%Bergen%'") == {inside}


def test_paging_through_a_span_filter_returns_each_match_once(mlflow_client, experiment_id):
    matching = {_traced(lambda i=i: agent(f"q{i}", city="Oslo")) for i in range(5)}
    for i in range(3):
        agent(f"no city {i}")
    _export()
    seen: list[str] = []
    token = None
    while True:
        page = mlflow_client.search_traces(
            locations=[experiment_id], filter_string="span.name = 'lookup'", max_results=2, page_token=token
        )
        assert len(page) <= 2
        seen += [t.info.trace_id for t in page]
        token = page.token
        if not token:
            break
    assert len(seen) == 5 and set(seen) == matching


def test_deleted_traces_are_no_longer_found_by_span_filters(mlflow_client, experiment_id):
    first = _traced(lambda: agent("one", city="Oslo"))
    second = _traced(lambda: agent("two", city="Oslo"))
    third = _traced(lambda: agent("three", city="Oslo"))
    _export()
    assert _ids(experiment_id, "span.name = 'lookup'") == {first, second, third}
    assert mlflow_client.delete_traces(experiment_id, trace_ids=[first]) == 1
    assert _ids(experiment_id, "span.name = 'lookup'") == {second, third}
    newest = mlflow.get_trace(third).info.request_time
    assert mlflow_client.delete_traces(experiment_id, max_timestamp_millis=newest) == 2
    assert _ids(experiment_id, "span.name = 'lookup'") == set()
    assert _ids(experiment_id, "trace.text LIKE '%Oslo%'") == set()


def test_spans_received_over_otlp_are_found_by_span_filters(server, mlflow_client, experiment_id):
    recorder = Recorder()
    spans = record_agent(recorder)
    # Children first, in another export than their root, as OpenTelemetry SDKs send them.
    export(server, experiment_id, [spans["search-tool"], spans["llm"]])
    export(server, experiment_id, [spans["agent"]])
    otlp = trace_id_of(spans["agent"])
    uploaded = _traced(lambda: agent("weather?", city="Oslo"))
    _export()

    assert _ids(experiment_id, "span.name = 'llm'") == {otlp}
    assert _ids(experiment_id, "span.name = 'agent'") == {otlp, uploaded}
    assert _ids(experiment_id, "span.status = 'ERROR'") == {otlp}
    assert _ids(experiment_id, "span.type = 'AGENT'") == {otlp, uploaded}  # `AGENT` sent as a plain string
    assert _ids(experiment_id, "span.attributes.`gen_ai.request.model` = 'tiny'") == {otlp}
    assert _ids(experiment_id, "span.attributes.gen_ai.usage.input_tokens = '12'") == {otlp}
    assert _ids(experiment_id, "span.attributes.stream = 'false'") == {otlp}
    assert _ids(experiment_id, "span.name = 'llm' AND span.attributes.temperature = '0.25'") == {otlp}
    assert _ids(experiment_id, "span.name = 'agent' AND span.attributes.temperature = '0.25'") == set()
    assert _ids(experiment_id, "trace.text LIKE '%retry%'") == {otlp}  # an event's name
    assert _ids(experiment_id, "span.content LIKE '%2+2?%' AND span.type = 'AGENT'") == {otlp}


@pytest.fixture
def database(server) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    """The server's database, to see what it stored and to make rows as an older tracklet left them."""
    db = Database(server.backend_store_uri)
    yield db
    db.dispose()


def _count(conn: Connection, sql: str, trace_id: str) -> int:
    return int(conn.execute(text(sql), {"trace_id": trace_id}).scalar_one())


def _stored(db: Database, trace_id: str) -> tuple[int, int]:
    """(spans, attributes) the database holds for a trace's span filters."""
    with db.read() as conn:
        spans = _count(conn, "SELECT count(*) FROM trace_spans WHERE trace_id = :trace_id", trace_id)
        attributes = _count(conn, "SELECT count(*) FROM trace_span_attributes WHERE trace_id = :trace_id", trace_id)
    return spans, attributes


def test_an_uploaded_file_is_copied_when_the_server_receives_it(mlflow_client, experiment_id, database):
    trace_id = _traced(lambda: agent("weather?", city="Oslo"))
    _export()
    deadline = time.monotonic() + 10
    while _stored(database, trace_id)[0] == 0 and time.monotonic() < deadline:  # copied after the answer
        time.sleep(0.05)
    spans, attributes = _stored(database, trace_id)
    assert spans == 4  # agent, plan, lookup, chat; before any search asked for them
    assert attributes >= 4 * 3  # each has at least its type, request id and inputs or outputs


def test_spans_received_over_otlp_get_their_fields_after_the_answer(server, mlflow_client, experiment_id, database):
    spans = record_agent(Recorder())
    export(server, experiment_id, list(spans.values()))
    otlp = trace_id_of(spans["agent"])

    def unfilled() -> int:
        with database.read() as conn:
            sql = "SELECT count(*) FROM trace_spans WHERE trace_id = :trace_id AND status IS NULL"
            return _count(conn, sql, otlp)

    deadline = time.monotonic() + 10
    while unfilled() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert unfilled() == 0 and _stored(database, otlp)[1] > 3  # before any search asked for them
    with database.read() as conn:
        names = conn.execute(text("SELECT name, status FROM trace_spans WHERE trace_id = :t"), {"t": otlp}).all()
    assert sorted(names) == [("agent", "UNSET"), ("llm", "UNSET"), ("search-tool", "ERROR")]  # as OTLP sent them


def test_traces_stored_before_span_filters_are_found(server, mlflow_client, experiment_id, database):
    uploaded = _traced(lambda: agent("weather?", city="Oslo"))
    _export()
    recorder = Recorder()
    spans = record_agent(recorder)
    export(server, experiment_id, list(spans.values()))
    otlp = trace_id_of(spans["agent"])
    time.sleep(0.5)  # the upload's copy, done after its answer, is not undone below
    # As an older tracklet left them: no copy of the uploaded file, OTLP rows without their fields.
    with database.write() as conn:
        conn.execute(text("DELETE FROM trace_span_attributes WHERE trace_id IN (:a, :b)"), {"a": uploaded, "b": otlp})
        conn.execute(text("DELETE FROM trace_spans WHERE trace_id = :a"), {"a": uploaded})
        conn.execute(
            text("UPDATE trace_spans SET name = NULL, type = NULL, status = NULL WHERE trace_id = :b"), {"b": otlp}
        )
    assert _stored(database, uploaded) == (0, 0)

    assert _ids(experiment_id, "span.name = 'lookup'") == {uploaded}
    assert _ids(experiment_id, "span.type = 'AGENT'") == {uploaded, otlp}
    assert _ids(experiment_id, "span.attributes.`gen_ai.request.model` = 'tiny'") == {otlp}
    assert _stored(database, uploaded)[0] == 4
    with database.read() as conn:
        assert _count(conn, "SELECT count(*) FROM trace_spans WHERE trace_id = :trace_id AND status IS NULL", otlp) == 0


def _start_trace(server, experiment_id: str, trace_id: str) -> None:  # type: ignore[no-untyped-def]
    """Report a finished trace as MLflow's client does, without uploading its spans."""
    info = {
        "trace_id": trace_id,
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}},
        "request_time": "2026-01-01T00:00:00Z",
        "execution_duration": "1s",
        "state": "OK",
        "trace_metadata": {},
        "tags": {"mlflow.traceName": "written-by-hand"},
    }
    response = httpx.post(f"{server.url}/api/3.0/mlflow/traces", json={"trace": {"trace_info": info}})
    assert response.status_code == 200, response.text


def test_a_file_written_straight_into_the_artifact_store_is_found_lazily(server, mlflow_client, experiment_id):
    template = _traced(lambda: agent("weather?", city="Oslo"))
    _export()
    folder = Path(server.artifacts_destination) / experiment_id / "traces"
    spans = json.loads((folder / template / "artifacts" / "traces.json").read_text())

    # A trace whose spans reach the artifact store without passing the server (another writer, a copy).
    trace_id = "tr-" + uuid.uuid4().hex
    _start_trace(server, experiment_id, trace_id)
    assert _ids(experiment_id, "span.name = 'by-hand-lookup'") == set()  # no file yet: nothing to find
    for span in spans["spans"]:
        if span["name"] == "lookup":
            span["name"] = "by-hand-lookup"
            span["attributes"]["source"] = json.dumps("a folder")
    written = folder / trace_id / "artifacts" / "traces.json"
    written.parent.mkdir(parents=True)
    written.write_text(json.dumps(spans))

    assert _ids(experiment_id, "span.name = 'by-hand-lookup'") == {trace_id}
    assert _ids(experiment_id, "span.attributes.source = 'a folder'") == {trace_id}
    assert _ids(experiment_id, "span.name = 'lookup'") == {template}
    assert {span.name for span in mlflow.get_trace(trace_id).data.spans} >= {"by-hand-lookup", "chat"}


def test_span_filters_mlflow_refuses_are_refused(mlflow_client, experiment_id):
    for bad in (
        "span.content = 'x'",
        "trace.text = 'x'",
        "span.name > 'a'",
        "span.colour = 'red'",
        "span.attributes.tokens = 12",
    ):
        with pytest.raises(MlflowException) as refused:
            _ids(experiment_id, bad)
        assert error_code(refused) == "INVALID_PARAMETER_VALUE", bad
