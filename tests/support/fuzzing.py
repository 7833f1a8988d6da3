"""Property-based fuzzing of the HTTP API with hypothesis: request bodies, query strings and path
parameters made up from the server's own request schemas, the search grammars' words, odd strings and
real ids, sent to a real server. `fuzz_endpoint` runs the examples; the caller's client checks each answer.

Two kinds of body: one put together from the schemas' field names, anything in any field (`_bodies`);
one typed from the endpoint's own request Struct (`msgspec.inspect`): valid throughout, nested Structs
and lists included, real ids where a field names one, and then exactly one field, at any depth, made
odd (`typed_bodies`), so that the check behind the first field reached is not all that is tried.

Examples are derandomized (CI sees the same requests each time); to hunt for more, run with
`TRACKLET_FUZZ_RANDOM=1 TRACKLET_FUZZ_EXAMPLES=500`.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import os
import pkgutil
import re
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


# ---- Typed bodies: a valid request built from the schema's type annotations, then one field made odd ----

# Valid values by field name, where the type alone says too little (a string that must be a timestamp, a
# stage, an id); real ids come from the caller's `ids`, by the same names.
VALID_BY_NAME: dict[str, list[Any]] = {
    "key": ["k", "m", "p", "t", "mlflow.note.content", "a/b.c-d_e"],
    "tag_key": ["t"], "alias": ["champion", "next"], "version": ["1", 1],
    "value": ["v", "0.5", ""], "timestamp": [0, 1_700_000_000_000], "step": [0, 1, 7],
    "start_time": [1_700_000_000_000], "end_time": [1_700_000_000_500],
    "status": ["FINISHED", "RUNNING", "FAILED", "KILLED", "SCHEDULED"],
    "stage": ["Staging", "Production", "Archived", "None"], "stages": ["Staging", "None"],
    "state": ["OK", "ERROR", "IN_PROGRESS"], "request_time": ["2026-01-02T03:04:05.678Z"],
    "execution_duration": ["1.5s", "0s"], "timestamp_ms": [1_700_000_000_000], "execution_time_ms": [12],
    "type": ["MLFLOW_EXPERIMENT"], "view_type": ["ACTIVE_ONLY", "ALL", "DELETED_ONLY"], "run_view_type": ["ALL"],
    "source": ["runs:/{run_id}/model", "s3://bucket/model", "models:/{model_id}"], "source_type": ["local", "code"],
    "digest": ["abc123"], "max_results": [1, 10, 100], "filter": [""], "filter_string": [""], "page_token": [""],
    "permission": ["READ", "EDIT", "MANAGE"],
    "resource_type": ["experiment", "registered_model"], "path": ["dir", "dir/file.txt", ""],
    "max_timestamp_millis": [1_700_000_000_000], "min_timestamp_millis": [0], "is_admin": [True, False],
    "model_json": ['{"artifact_path": "model", "flavors": {}}'], "schema": ['{"mlflow_colspec": []}'],
    "profile": ['{"num_rows": 3}'], "dataset_name": ["ds"], "dataset_digest": ["abc123"], "metric_key": ["m"],
    "x": ["step", "time"], "buckets": [10, 1000],
}  # fmt: skip

# Lists that are valid empty, and whose valid items depend on the endpoint (`order_by` of runs is not
# that of models): sent empty, and made odd by the mutations.
_EMPTY_LISTS = {"order_by"}
# Fields that hold the same kind of value as another.
_SAME_AS = {"run_uuid": "run_id", "source_run_id": "run_id", "request_id": "trace_id", "resource_id": "experiment_id"}

_NAN = float("nan")
# Wrong types, huge, negative, NaN and infinities, empties; then the odd and long strings.
ODD_VALUES: list[Any] = [
    None, True, False, -1, 0, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30), 1e308, -1e308, _NAN, float("inf"),
    float("-inf"), 0.5, -0.5, "", [], {}, [None], ["x"], [1, 2], {"x": 1}, {"": ""}, "NaN", "Infinity", "1e999",
]  # fmt: skip


def _text() -> st.SearchStrategy[str]:
    return st.text(alphabet="abcxyz019_-.", min_size=1, max_size=8)


def _valid(
    kind: msgspec.inspect.Type, name: str, ids: dict[str, list[str]], top: bool = True
) -> st.SearchStrategy[Any]:
    """A value of type `kind` that the server should take as valid for a field called `name`."""
    mi = msgspec.inspect
    if isinstance(kind, mi.UnionType):
        options = [t for t in kind.types if not isinstance(t, mi.NoneType)]
        # `state: str | int` takes the name ("OK") or the number: where the valid names are known, the name.
        hinted = [t for t in options if isinstance(t, mi.StrType)] if VALID_BY_NAME.get(name) else []
        options = hinted or options
        return st.one_of([_valid(t, name, ids, top) for t in options]) if options else st.none()
    if isinstance(kind, mi.StructType):
        required = {f.encode_name: _valid(f.type, f.encode_name, ids, False) for f in kind.fields if f.required}
        optional = {f.encode_name: _valid(f.type, f.encode_name, ids, False) for f in kind.fields if not f.required}
        full = st.fixed_dictionaries({**required, **optional})
        if not top:
            return full  # a nested record whole: leaving one of its fields out is a mutation of its own
        # At the top, a quarter of the time some optional fields are left out: some exclude each other
        # (either a run's id or a model's, a timestamp or a list of ids).
        some = st.fixed_dictionaries(required, optional=optional)
        return st.sampled_from([full, full, full, some]).flatmap(lambda chosen: chosen)
    if isinstance(kind, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        singular = name[:-1] if name.endswith("s") else name
        if name in _EMPTY_LISTS:
            return st.just([])
        return st.lists(_valid(kind.item_type, singular, ids, False), min_size=1, max_size=3)
    if isinstance(kind, mi.DictType):
        return st.dictionaries(_text(), _valid(kind.value_type, "value", ids, False), min_size=1, max_size=3)
    if isinstance(kind, (mi.LiteralType, mi.EnumType)):
        values = kind.values if isinstance(kind, mi.LiteralType) else [m.value for m in kind.cls]
        return st.sampled_from(list(values))
    name = _SAME_AS.get(name, name)
    known = [*ids.get(name, []), *VALID_BY_NAME.get(name, [])]
    if not known and name.endswith(("_id", "_uuid", "name")):
        known = ids.get("*", [])
    for template in ("run_id", "model_id"):
        known = [v.replace("{" + template + "}", (ids.get(template) or ["x"])[0]) if isinstance(v, str) else v
                 for v in known]  # fmt: skip
    if isinstance(kind, mi.StrType):
        fitting = [v for v in known if isinstance(v, str)]
        return st.sampled_from(fitting) if fitting else _text()
    if isinstance(kind, mi.BoolType):
        return st.booleans()
    if isinstance(kind, mi.IntType):
        fitting = [v for v in known if isinstance(v, int) and not isinstance(v, bool)]
        return st.sampled_from(fitting) if fitting else st.integers(0, 1000)
    if isinstance(kind, mi.FloatType):
        return st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-5, 5)
    return _text() | st.integers(0, 9)  # Any, raw and the rest


def _slots(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where a value inside `value` may be changed: the path (keys and indexes) of every node but the root."""
    found: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found.append((*at, key))
        found += _slots(child, (*at, key))
    return found


def _containers(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every JSON object in `value`, the root included."""
    found = [at] if isinstance(value, dict) else []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found += _containers(child, (*at, key))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _odd_value(canary: set[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(ODD_VALUES),
        st.sampled_from(ODD_STRINGS),
        LONG_STRINGS,
        st.text(max_size=8).filter(lambda v: v not in canary),
        st.integers().filter(lambda v: str(v) not in canary),
        st.floats(),
    )


def typed_bodies(
    schema: type[msgspec.Struct], ids: dict[str, list[str]], canary: set[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """A body of `schema` that is valid throughout but for one field, at any depth: made odd (wrong type,
    huge, negative, NaN, empty, an odd or long string), left out, joined by an unknown one, or a list of
    it repeated past any batch limit. One in ten is sent valid as it is."""
    return one_field_odd(_valid(msgspec.inspect.type_info(schema), "", ids), canary)


def one_field_odd(valid: st.SearchStrategy[Any], canary: set[str] | None = None) -> st.SearchStrategy[Any]:
    """What `valid` makes (a JSON object), with one field at any depth made odd, as `typed_bodies`."""
    return _one_field_odd(valid, _odd_value(canary or set()))


@st.composite
def _one_field_odd(draw: st.DrawFn, valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> dict[str, Any]:
    body = copy.deepcopy(draw(valid, label="valid"))
    if draw(st.integers(0, 9), label="untouched") == 0:
        return body  # type: ignore[no-any-return]
    how = draw(st.sampled_from(["odd"] * 6 + ["drop", "extra", "repeat"]), label="mutation")
    slots = _slots(body)
    if how == "extra" or not slots:
        at = draw(st.sampled_from(_containers(body)), label="in")
        name = draw(st.sampled_from(FIELDS) | st.text(max_size=6), label="extra field")
        _at(body, at).setdefault(name, draw(odd, label="odd value"))
        return body  # type: ignore[no-any-return]
    if how == "repeat":
        lists = [p for p in slots if isinstance(_at(body, p), list) and _at(body, p)]
        if lists:
            at = draw(st.sampled_from(lists), label="repeated")
            _at(body, at)[:] = _at(body, at) * draw(st.sampled_from([101, 1001]), label="times")
            return body  # type: ignore[no-any-return]
    at = draw(st.sampled_from(slots), label="field")
    parent = _at(body, at[:-1])
    if how == "drop" and isinstance(parent, dict):
        del parent[at[-1]]
    else:
        parent[at[-1]] = draw(odd, label="odd value")
    return body  # type: ignore[no-any-return]


_READS = re.compile(r"(?:read_json|read_query|read_request|decode_body)\(\s*\w+,\s*(\w+)")


def request_schema(endpoint: Any) -> type[msgspec.Struct] | None:
    """The msgspec Struct an endpoint function reads its request into (from its source), if any."""
    function = inspect.unwrap(getattr(endpoint, "func", endpoint))
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return None
    names = vars(inspect.getmodule(function) or object())
    for match in _READS.finditer(source):
        found = names.get(match.group(1)) or function.__globals__.get(match.group(1))
        if isinstance(found, type) and issubclass(found, msgspec.Struct):
            return found
    return None


def request_schemas(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], type[msgspec.Struct]]:
    """(method, path) → the request Struct the route decodes, for every API route that decodes one."""
    found = {}
    for route in routes:
        if isinstance(route, Route) and (schema := request_schema(route.endpoint)) is not None:
            found.update({(method, route.path): schema for method in route.methods or ()})
    return found


def _send(
    api: httpx.Client, method: str, path: str, body: Any, raw: bytes | None, headers: dict[str, str]
) -> httpx.Response:
    if method == "GET":
        # A URL stays under 64 KB (httpx refuses longer ones, and so would any proxy in front of the server);
        # a lone surrogate goes out as the bytes Python would write for it, not UTF-8.
        # A list of plain values repeats its key (`?run_ids=a&run_ids=b`), as the schemas' list fields
        # expect; an empty one is left out.
        params = [
            (k, (item if isinstance(item, str) else json.dumps(item))[:4000])
            for k, v in body.items()
            for item in (v if isinstance(v, list) and all(isinstance(i, (str, int)) for i in v) else [v])
        ]
        while len(query := urlencode(params, errors="surrogatepass")) > 60_000:
            params = params[: len(params) // 2]
        return api.get(f"{path}?{query}", headers=headers)
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


_SCHEMAS: dict[tuple[str, str], type[msgspec.Struct]] = {}


def _schema_of(method: str, path: str) -> type[msgspec.Struct] | None:
    if not _SCHEMAS:
        from tracklet.server.api import users
        from tracklet.server.app import api_routes
        from tracklet.server.ui import ui_routes

        _SCHEMAS.update(request_schemas([*api_routes(), *ui_routes(), *users.routes]))
    return _SCHEMAS.get((method, path))


def fuzz_endpoint(
    api: httpx.Client,
    method: str,
    path: str,
    pool: list[str],
    canary: set[str],
    headers: st.SearchStrategy[dict[str, str]] = NO_HEADERS,
    ids: dict[str, list[str]] | None = None,
) -> None:
    """Send `method path` the examples hypothesis makes up; `api`'s response hook judges each answer.
    `pool` holds real ids to aim at; values equal to one of `canary` are never made up; `headers` are
    added to each request (credentials, say); `ids` are real values by field name (`run_id`: the runs)
    for the typed bodies (without them an id field draws from `pool`).

    An endpoint that decodes a request schema gets two kinds of body, half and half: bodies made up from
    the schemas' field names (and, now and then, a body that is not JSON), and typed ones, valid
    throughout but for one field (`typed_bodies`)."""
    path_values = _path_value(pool)
    schema = _schema_of(method, path)
    bodies = st.tuples(_bodies(pool, canary), RAW_BODIES)
    if schema is not None:
        known = {"*": pool, **(ids or {})}
        bodies = bodies | typed_bodies(schema, known, canary).map(lambda body: (body, None))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(sent=bodies, sent_headers=headers, data=st.data())
    def answers(sent: tuple[dict[str, Any], bytes | None], sent_headers: dict[str, str], data: st.DataObject) -> None:
        body, raw = sent
        concrete = path
        for name in _PATH_PARAMETERS:
            if "{" + name + "}" in concrete:
                value = data.draw(path_values, label=name)[:4000]
                # Lone surrogates travel as the bytes Python would write for them: not UTF-8 at all.
                encoded = quote(value.encode("utf-8", "surrogatepass"), safe="/" if "path" in name else "")
                concrete = concrete.replace("{" + name + "}", encoded)
        _send(api, method, concrete, body, raw, sent_headers)

    answers()
