"""`/api/3.0/mlflow/scorers/*`: MLflow 3's registered scorers (`Scorer.register`, `list_scorers`,
`get_scorer`, `delete_scorer`).

tracklet stores a serialized scorer and hands it back; it never deserializes or runs one. Like MLflow's
server it refuses @scorer-decorated scorers (their `call_source` is code a client would execute when it
loads the scorer).

It runs no online scoring (MLflow's server scores new traces with a registered scorer's judge through its
AI gateway and job runner; tracklet has neither). So `scorers/online-configs` answers that no scorer has a
configuration, and `scorers/online-config` (what `Scorer.start`, `update` and `stop` send) checks the
request as MLflow does, then answers NOT_IMPLEMENTED: storing a sample rate would make the MLflow UI and
`get_scorer(...).sample_rate` claim that traces are being scored. Every route also answers under
`/ajax-api/3.0/mlflow/scorers/`, as in MLflow.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue, NotImplementedByServer
from tracklet.server.protocol import Int64, json_response, read_json, read_request, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.store.search import parse_trace_filter
from tracklet.validation import check_length, missing, parse_experiment_id

MAX_NAME_LENGTH = 256
MAX_SERIALIZED_BYTES = 1_000_000  # a scorer is a prompt and its settings, not data
# Options of a third-party scorer's LLM client that choose where it sends requests (and the caller's
# API key with them): a client loading the scorer would follow them, so they are refused as MLflow does.
DESTINATION_KEYS = frozenset({"api_base", "base_url", "model_list", "fallbacks", "custom_llm_provider"})
CUSTOM_SCORER_REFUSED = (
    "Custom scorer registration (using @scorer decorator) is disabled by default outside of Databricks "
    "tracking environments due to security concerns. Custom scorers require arbitrary code execution "
    "during deserialization. Use built-in scorers or make_judge() scorers instead, or import your custom "
    "scorer's code from your own repository."
)


class RegisterScorer(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None
    serialized_scorer: str | None = None


class ListScorers(msgspec.Struct):
    experiment_id: str | None = None
    experiment_ids: list[str] | None = None


class ScorerRef(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None
    version: Int64 | None = None


class OnlineConfigs(msgspec.Struct):
    scorer_ids: list[str] = []


class OnlineConfig(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None
    sample_rate: Any = None  # a number; any other JSON gets MLflow's error, not a decoding error
    filter_string: Any = None


ONLINE_SCORING_REFUSED = (
    "Online scoring is not supported by this server: tracklet stores registered scorers but never runs them "
    "on new traces. Evaluate traces with mlflow.genai.evaluate() instead."
)


def _has_call_source(value: Any) -> bool:
    """Whether a serialized scorer holds a decorator scorer's code anywhere (an ensemble's too)."""
    if isinstance(value, dict):
        return value.get("call_source") is not None or any(_has_call_source(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_call_source(v) for v in value)
    return False


def _third_party_data(value: Any) -> list[dict[str, Any]]:
    """Every `third_party_scorer_data` object in a serialized scorer, nested ones (ensembles) too."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        data = value.get("third_party_scorer_data")
        if isinstance(data, dict):
            found.append(data)
        for nested in value.values():
            found += _third_party_data(nested)
    elif isinstance(value, list):
        for nested in value:
            found += _third_party_data(nested)
    return found


def _destination_keys(value: Any) -> set[str]:
    """The keys of `DESTINATION_KEYS` anywhere in kwargs, also as [key, value] pairs (which `dict()` takes)."""
    if isinstance(value, dict):
        return set(DESTINATION_KEYS & set(value)).union(*(_destination_keys(v) for v in value.values()))
    if isinstance(value, list):
        pairs = {v[0] for v in value if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)}
        return set(DESTINATION_KEYS & pairs).union(*(_destination_keys(v) for v in value))
    return set()


def _check_third_party(data: dict[str, Any]) -> None:
    for scorer in _third_party_data(data):
        kwargs = scorer.get("kwargs")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise InvalidParameterValue(
                f"third_party_scorer_data.kwargs must be a JSON object, got {type(kwargs).__name__}."
            )
        found = sorted(_destination_keys(kwargs))
        if found:
            raise InvalidParameterValue(
                f"third_party_scorer_data.kwargs must not contain {', '.join(map(repr, found))}: these options "
                "choose where the scorer's LLM client sends requests."
            )


def _serialized(text: str | None) -> str:
    if not text:
        raise missing("serialized_scorer")
    if len(text) > MAX_SERIALIZED_BYTES:
        raise InvalidParameterValue(f"serialized_scorer exceeds {MAX_SERIALIZED_BYTES:,} characters")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidParameterValue("serialized_scorer must be valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidParameterValue("serialized_scorer must be a JSON object")
    if _has_call_source(data):
        raise InvalidParameterValue(CUSTOM_SCORER_REFUSED)
    _check_third_party(data)
    model = _model(data)
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise InvalidParameterValue("Scorer model cannot be empty or contain only whitespace.")
    return text


def _model(data: dict[str, Any]) -> Any:
    """The judge's model, wherever the kind of scorer keeps it (MLflow checks each kind's)."""
    for field in ("instructions_judge_pydantic_data", "builtin_scorer_pydantic_data"):
        if data.get(field):
            return data[field].get("model") if isinstance(data[field], dict) else None
    memory = data.get("memory_augmented_judge_data")
    if memory:
        base = memory.get("base_judge") if isinstance(memory, dict) else None
        return _model(base) if isinstance(base, dict) else None
    third_party = data.get("third_party_scorer_data")
    if third_party:
        return third_party.get("model") if isinstance(third_party, dict) else None
    return None


def _name(name: str | None) -> str:
    if name is None or name == "":
        raise missing("name")
    if not name.strip():
        raise InvalidParameterValue("Scorer name cannot be empty or contain only whitespace.")
    check_length(name, MAX_NAME_LENGTH, "name")
    return name


def _lookup_name(name: str | None) -> str:
    """The name of a scorer looked up: any name may be asked for (one that was never registered: not found)."""
    if not name:
        raise missing("name")
    return name


def _experiment(value: str | None) -> int:
    if not value:
        raise missing("experiment_id")
    return parse_experiment_id(value)


async def register(request: Request) -> Response:
    body = await read_json(request, RegisterScorer)
    experiment_id, name = _experiment(body.experiment_id), _name(body.name)
    serialized = _serialized(body.serialized_scorer)
    made = await run_sync(store_of(request).register_scorer, experiment_id, name, serialized)
    return json_response(
        {
            "version": made.scorer_version,
            "scorer_id": made.scorer_id,
            "experiment_id": str(made.experiment_id),
            "name": made.scorer_name,
            "serialized_scorer": made.serialized_scorer,
            "creation_time": made.creation_time,
        }
    )


async def list_scorers(request: Request) -> Response:
    query = await read_request(request, ListScorers, list_fields=frozenset({"experiment_ids"}))
    if query.experiment_id and query.experiment_ids is not None:
        raise InvalidParameterValue(
            "Cannot specify both 'experiment_id' and 'experiment_ids'. Use 'experiment_ids' to scope the query "
            "to multiple experiments, or 'experiment_id' to scope it to a single experiment."
        )
    ids: list[int] | None = None
    if query.experiment_ids is not None:
        ids = sorted({parse_experiment_id(e, "experiment_ids") for e in query.experiment_ids})
    elif query.experiment_id:
        ids = [parse_experiment_id(query.experiment_id)]
    found = await run_sync(store_of(request).list_scorers, ids)
    return json_response({"scorers": found} if found else {})


async def list_versions(request: Request) -> Response:
    query = await read_request(request, ScorerRef)
    found = await run_read(
        request, store_of(request).list_scorer_versions, _experiment(query.experiment_id), _lookup_name(query.name)
    )
    return json_response({"scorers": found} if found else {})


async def get(request: Request) -> Response:
    query = await read_request(request, ScorerRef)
    found = await run_read(
        request, store_of(request).get_scorer, _experiment(query.experiment_id), _lookup_name(query.name), query.version
    )
    return json_response({"scorer": found})


async def delete(request: Request) -> Response:
    body = await read_request(request, ScorerRef)
    await run_sync(
        store_of(request).delete_scorer, _experiment(body.experiment_id), _lookup_name(body.name), body.version
    )
    return json_response()


async def online_configs(request: Request) -> Response:
    query = await read_request(request, OnlineConfigs, list_fields=frozenset({"scorer_ids"}))
    if not query.scorer_ids:
        raise missing("scorer_ids")
    return json_response({"configs": []})


def _sample_rate(value: Any) -> float:
    if value is None:
        raise missing("sample_rate")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterValue(f"sample_rate must be a number, got {type(value).__name__}")
    if not 0.0 <= value <= 1.0:
        raise InvalidParameterValue(f"sample_rate must be between 0.0 and 1.0, got {float(value)}")
    return float(value)


async def put_online_config(request: Request) -> Response:
    """Checked as MLflow checks it (fields, then the scorer exists), then refused: see the module's docstring."""
    body = await read_json(request, OnlineConfig)
    experiment_id = _experiment(body.experiment_id)
    name = _lookup_name(body.name)
    _sample_rate(body.sample_rate)
    if body.filter_string is not None and not isinstance(body.filter_string, str):
        raise InvalidParameterValue(
            f"Invalid value {body.filter_string!r} for parameter 'filter_string' supplied: Value was of type "
            f"'{type(body.filter_string).__name__}'. Expected type 'str' or None."
        )
    parse_trace_filter(body.filter_string)  # which traces to score: a filter as traces/search takes
    await run_read(request, store_of(request).get_scorer, experiment_id, name, None)  # 404 for an unknown one
    raise NotImplementedByServer(ONLINE_SCORING_REFUSED)


_ENDPOINTS: list[tuple[str, Any, str]] = [
    ("register", register, "POST"),
    ("list", list_scorers, "GET"),
    ("versions", list_versions, "GET"),
    ("get", get, "GET"),
    ("delete", delete, "DELETE"),
    ("online-configs", online_configs, "GET"),
    ("online-config", put_online_config, "PUT"),
]
routes = [
    Route(f"{prefix}/3.0/mlflow/scorers/{path}", endpoint, methods=[method])
    for prefix in ("/api", "/ajax-api")
    for path, endpoint, method in _ENDPOINTS
]
