"""Property-based fuzzing of the HTTP API with hypothesis: request bodies, query strings and path
parameters made up from the server's own request schemas, the search grammars' words, odd strings and
real ids, sent to a real server. `fuzz_endpoint` runs the examples; the caller's client checks each answer.

Examples are derandomized (CI sees the same requests each time); to hunt for more, run with
`TRACKLET_FUZZ_RANDOM=1 TRACKLET_FUZZ_EXAMPLES=500`.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Route

import tracklet.server.api
import tracklet.server.ui.api

EXAMPLES = int(os.environ.get("TRACKLET_FUZZ_EXAMPLES", "25"))
RANDOM = os.environ.get("TRACKLET_FUZZ_RANDOM") == "1"


def endpoints(routes: Iterable[BaseRoute]) -> list[tuple[str, str]]:
    """(method, path) of every API route among `routes`; HEAD is GET's twin."""
    found = []
    for route in routes:
        if isinstance(route, Route) and route.path.startswith(("/api/", "/ajax-api/", "/v1/")):
            found += [(method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def request_field_names() -> list[str]:
    """The field names of every request schema the server decodes (msgspec Structs of its API modules)."""
    names: set[str] = set()
    modules = [tracklet.server.ui.api]
    for info in pkgutil.iter_modules(tracklet.server.api.__path__):
        modules.append(importlib.import_module(f"tracklet.server.api.{info.name}"))
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, msgspec.Struct) and value is not msgspec.Struct:
                names.update(field.encode_name for field in msgspec.structs.fields(value))
    return sorted(names)


FIELDS = request_field_names()

# Words of the search grammars (runs, experiments, models, traces), put together at random.
FILTER_WORDS = [
    "metrics.m", "params.p", "tags.t", "tags.`a b`", "attributes.status", "attributes.run_name", "run_id",
    "attributes.start_time", "name", "tags.mlflow.runName", "datasets.name", "span.name", "span.type",
    "span.attributes.k", "span.content", "trace.status", "trace.timestamp_ms", "trace.text", "request_metadata.k",
    "feedback.f", "expectation.e", "assessment.x", "prompt.p", "issue.i", "creation_timestamp", "version_number",
    "run_id", "source_run_id", "metrics.`m`", "params.\"p\"",
    "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "RLIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL",
    "and", "AND", "or", "(", ")", ",", "'v'", "'%'", "'_'", "'['", "'(('", "\"v\"", "0.5", "-1", "1e309", "NaN",
    "9999999999999999999999", "('a', 'b')", "()", "''", "'\\'", "`", "'", "DESC", "ASC", "NULL", "true",
]  # fmt: skip
ORDER_WORDS = ["metrics.m", "params.p", "tags.t", "attributes.start_time", "name", "run_name", "timestamp_ms",
               "creation_timestamp", "last_updated_timestamp", "version_number", "DESC", "ASC", "x.y", ""]  # fmt: skip
ODD_STRINGS = [
    "", " ", "\ud800", "\U0001f600", "a\x00b", "../../etc/passwd",
    "/abs/path", "..", "%2e%2e/", "C:\\x", "a/../../b", "%", "_", "'", '"', "\\", "NaN", "-Infinity", "-1", "0",
    "9" * 30, "1.5", "true", "null", "[]", "{}", "models:/m/1", "runs:/abc/model", "s3://bucket/key", "file:///etc",
    "m-" + "0" * 32, "tr-" + "0" * 32, "ACTIVE_ONLY", "DELETED_ONLY", "ALL", "FINISHED", "Production", "OK",
]  # fmt: skip


# Over MLflow's 250-character limits, over a file name's 255 bytes, over any sane size; built when drawn
# (a strategy holding them would print 70 KB in every report).
LONG_STRINGS = st.sampled_from([(251, "x"), (3_000, "x"), (70_000, "x"), (600, "é")]).map(lambda nc: nc[1] * nc[0])


def _path_value(pool: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(pool), st.sampled_from(ODD_STRINGS), LONG_STRINGS, st.text(max_size=12))


def _values(pool: list[str], canary: set[str]) -> st.SearchStrategy[Any]:
    def not_canary(value: Any) -> bool:
        return str(value) not in canary

    scalars = st.one_of(
        st.sampled_from(pool),
        st.sampled_from(ODD_STRINGS),
        LONG_STRINGS,
        st.text(max_size=16).filter(not_canary),
        st.integers().filter(not_canary),
        st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -1, 0]),
        st.floats(),
        st.booleans(),
        st.none(),
        st.lists(st.sampled_from(FILTER_WORDS), max_size=9).map(" ".join),
    )
    # Lists of MLflow's small records (metrics, params, tags) with wrong and right fields alike.
    records = st.fixed_dictionaries(
        {},
        optional={
            "key": scalars,
            "value": scalars,
            "timestamp": scalars,
            "step": scalars,
            "name": scalars,
            "dataset": st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=4),
        },
    )
    return st.recursive(
        scalars | records,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), children, max_size=4)
        ),
        max_leaves=10,
    )


def _bodies(pool: list[str], canary: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    values = _values(pool, canary)
    targeted = {
        "filter": st.lists(st.sampled_from(FILTER_WORDS), max_size=9).map(" ".join),
        "filter_string": st.lists(st.sampled_from(FILTER_WORDS), max_size=9).map(" ".join),
        "order_by": st.lists(st.lists(st.sampled_from(ORDER_WORDS), max_size=3).map(" ".join), max_size=3),
        "experiment_ids": st.lists(st.sampled_from(pool), max_size=3),
    }
    field_values = st.sampled_from(FIELDS).flatmap(
        lambda name: st.tuples(st.just(name), targeted[name] if name in targeted else values)
    )
    return st.lists(field_values | st.tuples(st.text(max_size=6), values), max_size=7).map(dict)


def _send(
    api: httpx.Client, method: str, path: str, body: Any, raw: bytes | None, headers: dict[str, str]
) -> httpx.Response:
    if method == "GET":
        # A URL stays under 64 KB (httpx refuses longer ones, and so would any proxy in front of the server);
        # a lone surrogate goes out as the bytes Python would write for it, not UTF-8.
        params = [(k, (v if isinstance(v, str) else json.dumps(v))[:4000]) for k, v in body.items()]
        return api.get(f"{path}?{urlencode(params, errors='surrogatepass')}", headers=headers)
    # json.dumps writes NaN and Infinity as bare words, as some clients do; httpx's `json=` would refuse them.
    # Unescaped, a lone surrogate goes out as bytes that are not UTF-8 (the raw bodies hold an escaped one).
    content = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return api.request(method, path, content=content, headers={"content-type": "application/json", **headers})


# Mostly JSON objects; now and then a body that is not one.
RAW_BODIES = st.sampled_from(
    [None] * 8
    + [
        b"not json",
        b"[1, 2]",
        b"42",
        b'"x"',
        b"{",
        b'{"a": NaN}',
        b"\xff\xfe",
        b'{"name": "\\ud800", "run_id": "\\udfff"}',
    ]
)
NO_HEADERS: st.SearchStrategy[dict[str, str]] = st.just({})
_PATH_PARAMETERS = (
    "model_id", "tag_key:path", "path:path", "action", "trace_id", "request_id", "assessment_id", "token_id",
)  # fmt: skip


def fuzz_endpoint(
    api: httpx.Client,
    method: str,
    path: str,
    pool: list[str],
    canary: set[str],
    headers: st.SearchStrategy[dict[str, str]] = NO_HEADERS,
) -> None:
    """Send `method path` the examples hypothesis makes up; `api`'s response hook judges each answer.
    `pool` holds real ids to aim at; values equal to one of `canary` are never made up; `headers` are
    added to each request (credentials, say)."""
    path_values = _path_value(pool)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=_bodies(pool, canary), raw=RAW_BODIES, sent_headers=headers, data=st.data())
    def answers(body: dict[str, Any], raw: bytes | None, sent_headers: dict[str, str], data: st.DataObject) -> None:
        concrete = path
        for name in _PATH_PARAMETERS:
            if "{" + name + "}" in concrete:
                value = data.draw(path_values, label=name)[:4000]
                # Lone surrogates travel as the bytes Python would write for them: not UTF-8 at all.
                encoded = quote(value.encode("utf-8", "surrogatepass"), safe="/" if "path" in name else "")
                concrete = concrete.replace("{" + name + "}", encoded)
        _send(api, method, concrete, body, raw, sent_headers)

    answers()
