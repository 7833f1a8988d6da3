"""Compile parsed searches (`tracklet.store.search`) to SQLAlchemy Core selects.

Each function returns one page of ids in the final order; the store runs it and bulk-loads the rest.
The SQL is set-based and reads the same on SQLite and PostgreSQL. The few places where the two
differ are the three small constructs at the top of this module:

- `case_sensitive_like`: PostgreSQL's LIKE is case-sensitive, SQLite's is not, so SQLite gets GLOB.
- `binary_order`: sort strings by code point (PostgreSQL's default collation follows the locale).
- `dataset_context`: the `mlflow.data.context` tag read out of `dataset_inputs.tags_json`.

LIKE patterns use `%` and `_`; a backslash makes the next character literal (PostgreSQL's default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    String,
    Text,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import InternalTraversal

from tracklet.errors import InvalidParameterValue
from tracklet.store import keyset, schema
from tracklet.store.keyset import Position, SortTerm
from tracklet.store.search import (
    Comparison,
    OrderKey,
    Value,
    parse_evaluation_dataset_filter,
    parse_evaluation_dataset_order_by,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_logged_model_filter,
    parse_logged_model_order_by,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
    parse_run_filter,
    parse_run_order_by,
    parse_trace_filter,
    parse_trace_order_by,
)
from tracklet.store.workspaces import current_workspace

__all__ = [
    "RunSearch",
    "binary_order",
    "case_sensitive_like",
    "experiment_search_select",
    "logged_model_search_select",
    "model_version_search_select",
    "registered_model_search_select",
    "run_search_select",
    "TraceSearch",
    "trace_search_select",
]

_ESCAPE = "\\"
DATASET_CONTEXT_TAG = "mlflow.data.context"


def _in_workspace(column: Any) -> list[ColumnElement[bool]]:
    """`column = <the request's workspace>`, or nothing when workspaces are off."""
    workspace = current_workspace()
    return [] if workspace is None else [column == workspace]


# ---------------------------------------------------------------------------------------------
# Dialect differences


def _like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (`%`, `_`, backslash escape) into the equivalent SQLite GLOB."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == _ESCAPE:
            ch = next(chars)  # a trailing escape is rejected before we get here
            out.append(f"[{ch}]" if ch in "*?[" else ch)
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def _check_pattern(pattern: str) -> None:
    escaped = False
    for ch in pattern:
        escaped = not escaped and ch == _ESCAPE
    if escaped:
        raise InvalidParameterValue(f"LIKE pattern must not end with the escape character: '{pattern}'")


class _CaseSensitiveLike(ColumnElement[bool]):
    type = Boolean()
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("like_pattern", InternalTraversal.dp_clauseelement),
        ("glob_pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], pattern: str) -> None:
        _check_pattern(pattern)
        self.column = column
        self.like_pattern: BindParameter[str] = literal(pattern, String)
        self.glob_pattern: BindParameter[str] = literal(_like_to_glob(pattern), String)

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects


@compiles(_CaseSensitiveLike)
def _like_default(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.like(element.like_pattern, escape=_ESCAPE), **kw)


@compiles(_CaseSensitiveLike, "sqlite")
def _like_sqlite(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"({column} GLOB {compiler.process(element.glob_pattern, **kw)})"


def case_sensitive_like(column: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    """`column LIKE pattern`, case-sensitive on every database."""
    return _CaseSensitiveLike(column, pattern)


def _case_insensitive_like(column: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    _check_pattern(pattern)
    # ILIKE on PostgreSQL; lower(x) LIKE lower(y) on SQLite, whatever PRAGMA case_sensitive_like says.
    return column.ilike(pattern, escape=_ESCAPE)


class _BinaryOrder(ColumnElement[str]):
    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects


@compiles(_BinaryOrder)
def _binary_order_default(element: _BinaryOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)  # SQLite's default collation is BINARY


@compiles(_BinaryOrder, "postgresql")
def _binary_order_pg(element: _BinaryOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.collate("C"), **kw)


def binary_order(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A string column to sort by code point, as SQLite does, on every database."""
    return _BinaryOrder(column)


class _DatasetContext(ColumnElement[str]):
    """The value of the `mlflow.data.context` input tag in a `tags_json` list, or NULL."""

    type = Text()
    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects


@compiles(_DatasetContext)  # SQLite
def _dataset_context_sqlite(element: _DatasetContext, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return (
        "(SELECT json_extract(ctx.value, '$.value') FROM json_each(" + column + ") AS ctx "
        f"WHERE json_extract(ctx.value, '$.key') = '{DATASET_CONTEXT_TAG}' LIMIT 1)"
    )


@compiles(_DatasetContext, "postgresql")
def _dataset_context_pg(element: _DatasetContext, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return (
        "(SELECT ctx.value ->> 'value' FROM jsonb_array_elements(CAST(" + column + " AS JSONB)) AS ctx "
        f"WHERE ctx.value ->> 'key' = '{DATASET_CONTEXT_TAG}' LIMIT 1)"
    )


def dataset_context(column: ColumnElement[Any]) -> ColumnElement[str]:
    return _DatasetContext(column)


# ---------------------------------------------------------------------------------------------
# Shared pieces


def _compare(column: ColumnElement[Any], op: str, value: Value) -> ColumnElement[bool]:
    """`column <op> value` for every comparator of the grammar except IS [NOT] NULL."""
    if op == "LIKE":
        return case_sensitive_like(column, str(value))
    if op == "ILIKE":
        return _case_insensitive_like(column, str(value))
    if op == "RLIKE":  # SQLite's REGEXP is Python's `re.search` (`dialects.py`), PostgreSQL's `~` its own
        return column.regexp_match(str(value))
    if op == "IN":
        assert isinstance(value, tuple)
        return column.in_(value)
    if op == "NOT IN":
        assert isinstance(value, tuple)
        return column.not_in(value)
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    raise InvalidParameterValue(f"Unsupported comparator '{op}'")


def _compare_metric(value_col: Any, is_nan_col: Any, op: str, value: Value) -> ColumnElement[bool]:
    # NaN is stored as value 0 with is_nan set: it satisfies only "!=".
    if op == "!=":
        return or_(value_col != value, is_nan_col == true())
    return and_(_compare(value_col, op, value), is_nan_col == false())


def _key_value_condition(
    table: Any, owner_col: Any, owner: Any, key: str, op: str, value: Value
) -> ColumnElement[bool]:
    """EXISTS / NOT EXISTS over a key-value table (params, tags, ...): absent keys never compare."""
    match = [owner_col == owner, table.c.key == key]
    if op == "IS NULL":
        return ~exists().where(*match)
    if op == "IS NOT NULL":
        return exists().where(*match)
    if "is_nan" in table.c:
        return exists().where(*match, _compare_metric(table.c.value, table.c.is_nan, op, value))
    return exists().where(*match, _compare(table.c.value, op, value))


def _missing_last(*conditions: Any) -> ColumnElement[int]:
    """A sort key: 0 for rows with a value, then 1, 2 ... for each condition in turn (NaN, missing)."""
    return case(*((cond, rank) for rank, cond in enumerate(conditions, start=1)), else_=0)


def _direction(expr: Any, ascending: bool) -> Any:
    return expr.asc() if ascending else expr.desc()


def _check_page(limit: int, offset: int) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidParameterValue(f"Invalid value {limit!r} for max_results: must be a positive integer")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidParameterValue(f"Invalid offset {offset!r}: must be a non-negative integer")


_VIEW_TYPES = {
    "ACTIVE_ONLY": ("active",),
    "DELETED_ONLY": ("deleted",),
    "ALL": ("active", "deleted"),
    # The protobuf enum numbers, as some clients send them.
    "1": ("active",),
    "2": ("deleted",),
    "3": ("active", "deleted"),
}


def _lifecycle_condition(column: Any, view_type: str | int | None) -> ColumnElement[bool]:
    stages = _VIEW_TYPES.get(str(view_type or "ACTIVE_ONLY").upper())
    if stages is None:
        raise InvalidParameterValue(f"Invalid view_type '{view_type}'. Expected ACTIVE_ONLY, DELETED_ONLY or ALL")
    if len(stages) == 2:
        return true()
    return column == stages[0]


# ---------------------------------------------------------------------------------------------
# Runs

_RUN_COLUMNS = {
    "run_id": schema.runs.c.run_uuid,
    "run_name": schema.runs.c.name,  # the server keeps it equal to the mlflow.runName tag
    "status": schema.runs.c.status,
    "user_id": schema.runs.c.user_id,
    "artifact_uri": schema.runs.c.artifact_uri,
    "start_time": schema.runs.c.start_time,
    "end_time": schema.runs.c.end_time,
}


def _run_condition(c: Comparison) -> ColumnElement[bool]:
    runs = schema.runs
    if c.kind == "attribute":
        return _compare(_RUN_COLUMNS[c.key], c.op, c.value)
    if c.kind == "metric":
        table = schema.latest_metrics
    elif c.kind == "param":
        table = schema.params
    elif c.kind == "tag":
        table = schema.tags
    else:  # dataset: some input of the run matches
        inputs = schema.dataset_inputs
        column = dataset_context(inputs.c.tags_json) if c.key == "context" else inputs.c[c.key]
        return exists().where(inputs.c.run_uuid == runs.c.run_uuid, _compare(column, c.op, c.value))
    return _key_value_condition(table, table.c.run_uuid, runs.c.run_uuid, c.key, c.op, c.value)


def _run_sort(order_keys: Sequence[OrderKey]) -> tuple[Any, list[SortTerm]]:
    """The FROM clause (runs plus a join per metric, param or tag key) and the full sort."""
    runs = schema.runs
    from_clause: Any = runs
    terms: list[SortTerm] = []
    for i, key in enumerate(order_keys):
        if key.kind == "attribute":
            column = _RUN_COLUMNS[key.key]
            if key.key == "end_time":
                terms.append(SortTerm(_missing_last(column.is_(None)), True, "int"))
            if key.key in ("start_time", "end_time"):
                terms.append(SortTerm(column, key.ascending, "int"))
            else:
                terms.append(SortTerm(binary_order(column), key.ascending, "str"))
            continue
        table = {"metric": schema.latest_metrics, "param": schema.params, "tag": schema.tags}[key.kind]
        joined = table.alias(f"order_{i}")
        from_clause = from_clause.outerjoin(joined, and_(joined.c.run_uuid == runs.c.run_uuid, joined.c.key == key.key))
        if key.kind == "metric":
            terms.append(SortTerm(_missing_last(joined.c.is_nan == true(), joined.c.run_uuid.is_(None)), True, "int"))
            terms.append(SortTerm(joined.c.value, key.ascending, "float"))
        else:
            terms.append(SortTerm(_missing_last(joined.c.run_uuid.is_(None)), True, "int"))
            terms.append(SortTerm(binary_order(joined.c.value), key.ascending, "str"))
    if not any(k.kind == "attribute" and k.key == "start_time" for k in order_keys):
        terms.append(SortTerm(runs.c.start_time, False, "int"))
    terms.append(SortTerm(runs.c.run_uuid, True, "str"))
    return from_clause, terms


class RunSearch:
    """A runs/search request compiled to SQL: the matching runs in their final order, page by page.

    Runs lacking an order key sort last in both directions; NaN metrics sort after real values
    and before missing ones. Ties break on `start_time DESC` (unless ordered on) then `run_uuid`.
    Pages start at an offset or after a row (`keyset`); `sort_id` tells which tokens fit this sort.
    """

    def __init__(
        self,
        experiment_ids: Sequence[int],
        filter_string: str | None,
        view_type: str | None,
        order_by: Sequence[str] | None,
    ) -> None:
        runs = schema.runs
        comparisons = parse_run_filter(filter_string)
        order_keys = parse_run_order_by(order_by)
        self._conditions = [
            runs.c.experiment_id.in_(list(experiment_ids)),
            _lifecycle_condition(runs.c.lifecycle_stage, view_type),
            *(_run_condition(c) for c in comparisons),
        ]
        self._from, self.terms = _run_sort(order_keys)
        self.sort_id = keyset.sort_id("runs", *((k.kind, k.key, k.ascending) for k in order_keys))

    def _select(self, columns: Sequence[Any], limit: int, position: Position) -> Select[Any]:
        _check_page(limit, 0 if isinstance(position, tuple) else position)
        stmt = select(*columns).select_from(self._from).where(*self._conditions)
        if isinstance(position, tuple):
            stmt = stmt.where(keyset.after(self.terms, position))
        else:
            stmt = stmt.offset(position)
        return stmt.order_by(*(t.ordering() for t in self.terms)).limit(limit)

    def ids(self, limit: int, position: Position = 0) -> Select[Any]:
        """Up to `limit` run ids in order, from an offset or after the row with these sort values."""
        return self._select([schema.runs.c.run_uuid], limit, position)

    def page(self, limit: int, position: Position = 0, columns: Sequence[Any] = ()) -> Select[Any]:
        """As `ids`, but each row holds `columns` and then the values of every sort term, the run id
        last: those of a page's last row make the next page's token."""
        sort_values = [t.expr.label(f"sort_{i}") for i, t in enumerate(self.terms)]
        return self._select([*columns, *sort_values], limit, position)


def run_search_select(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    view_type: str | None,
    order_by: Sequence[str] | None,
    limit: int,
    offset: int,
) -> Select[Any]:
    """One page of `runs.run_uuid` matching a runs/search request, in its final order (`RunSearch`)."""
    return RunSearch(experiment_ids, filter_string, view_type, order_by).ids(limit, offset)


# ---------------------------------------------------------------------------------------------
# Experiments

_EXPERIMENT_COLUMNS = {
    "name": schema.experiments.c.name,
    "experiment_id": schema.experiments.c.experiment_id,
    "creation_time": schema.experiments.c.creation_time,
    "last_update_time": schema.experiments.c.last_update_time,
}


def _experiment_condition(c: Comparison) -> ColumnElement[bool]:
    if c.kind == "attribute":
        return _compare(_EXPERIMENT_COLUMNS[c.key], c.op, c.value)
    tags = schema.experiment_tags
    owner = schema.experiments.c.experiment_id
    return _key_value_condition(tags, tags.c.experiment_id, owner, c.key, c.op, c.value)


def experiment_search_select(
    filter_string: str | None,
    view_type: str | None,
    order_by: Sequence[str] | None,
    limit: int,
    offset: int,
) -> Select[Any]:
    """One page of `experiments.experiment_id` for an experiments/search request.

    Default order: `creation_time DESC, experiment_id ASC`; `experiment_id ASC` breaks any ties.
    """
    _check_page(limit, offset)
    experiments = schema.experiments
    comparisons = parse_experiment_filter(filter_string)
    order_keys = parse_experiment_order_by(order_by) or [OrderKey("attribute", "creation_time", ascending=False)]
    ordering: list[Any] = []
    for key in order_keys:
        column: Any = _EXPERIMENT_COLUMNS[key.key]
        ordering.append(_direction(binary_order(column) if key.key == "name" else column, key.ascending))
    if not any(k.key == "experiment_id" for k in order_keys):
        ordering.append(experiments.c.experiment_id.asc())
    return (
        select(experiments.c.experiment_id)
        .where(
            _lifecycle_condition(experiments.c.lifecycle_stage, view_type),
            *(_experiment_condition(c) for c in comparisons),
            *_in_workspace(experiments.c.workspace),
        )
        .order_by(*ordering)
        .limit(limit)
        .offset(offset)
    )


def evaluation_dataset_search_select(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    order_by: Sequence[str] | None,
    limit: int,
    offset: int,
) -> Select[Any]:
    """One page of `evaluation_datasets.dataset_id` for a datasets/search request: those linked to any of
    `experiment_ids` (all when empty). Default order `created_time DESC`; `dataset_id DESC` breaks ties,
    as in MLflow."""
    _check_page(limit, offset)
    datasets = schema.evaluation_datasets
    conditions: list[ColumnElement[bool]] = _in_workspace(datasets.c.workspace)
    for c in parse_evaluation_dataset_filter(filter_string):
        if c.kind == "attribute":
            conditions.append(_compare(datasets.c[c.key], c.op, c.value))
        else:
            tags = schema.evaluation_dataset_tags
            conditions.append(
                _key_value_condition(tags, tags.c.dataset_id, datasets.c.dataset_id, c.key, c.op, c.value)
            )
    if experiment_ids:
        links = schema.evaluation_dataset_experiments
        conditions.append(
            exists().where(links.c.dataset_id == datasets.c.dataset_id, links.c.experiment_id.in_(experiment_ids))
        )
    order_keys = parse_evaluation_dataset_order_by(order_by) or [OrderKey("attribute", "created_time", False)]
    ordering = [
        _direction(binary_order(datasets.c.name) if k.key == "name" else datasets.c[k.key], k.ascending)
        for k in order_keys
    ]
    ordering.append(datasets.c.dataset_id.desc())
    return select(datasets.c.dataset_id).where(*conditions).order_by(*ordering).limit(limit).offset(offset)


# ---------------------------------------------------------------------------------------------
# Logged models

_MODEL_COLUMNS = {
    "name": schema.logged_models.c.name,
    "model_id": schema.logged_models.c.model_id,
    "model_type": schema.logged_models.c.model_type,
    "status": schema.logged_models.c.status,
    "source_run_id": schema.logged_models.c.source_run_id,
    "creation_timestamp": schema.logged_models.c.creation_timestamp_ms,
    "last_updated_timestamp": schema.logged_models.c.last_updated_timestamp_ms,
}


def _dataset_filter(table: Any, datasets: Sequence[Mapping[str, Any]]) -> ColumnElement[bool]:
    """Metric rows recorded on any of the given datasets (name, and digest when given)."""
    options = []
    for d in datasets:
        name = d.get("dataset_name") if isinstance(d, Mapping) else None
        if not name:
            raise InvalidParameterValue("`dataset_name` in the `datasets` clause must be specified.")
        cond = table.c.dataset_name == name
        if d.get("dataset_digest"):
            cond = and_(cond, table.c.dataset_digest == d["dataset_digest"])
        options.append(cond)
    return or_(*options)


def _model_condition(c: Comparison, datasets: Sequence[Mapping[str, Any]]) -> ColumnElement[bool]:
    models = schema.logged_models
    if c.kind == "attribute":
        return _compare(_MODEL_COLUMNS[c.key], c.op, c.value)
    if c.kind == "metric":
        # Any recorded point of the metric may match, as in MLflow.
        metrics = schema.logged_model_metrics
        cond = [
            metrics.c.model_id == models.c.model_id,
            metrics.c.key == c.key,
            _compare_metric(metrics.c.value, metrics.c.is_nan, c.op, c.value),
        ]
        if datasets:
            cond.append(_dataset_filter(metrics, datasets))
        return exists().where(*cond)
    table = schema.logged_model_params if c.kind == "param" else schema.logged_model_tags
    return _key_value_condition(table, table.c.model_id, models.c.model_id, c.key, c.op, c.value)


def _latest_model_metric(key: OrderKey) -> Any:
    """Per model, the latest point (by timestamp, then step) of one metric, as a subquery."""
    metrics = schema.logged_model_metrics
    conditions = [metrics.c.key == key.key]
    if key.dataset_name:
        conditions.append(metrics.c.dataset_name == key.dataset_name)
    if key.dataset_digest:
        conditions.append(metrics.c.dataset_digest == key.dataset_digest)
    ranked = (
        select(
            metrics.c.model_id,
            metrics.c.value,
            metrics.c.is_nan,
            func.row_number()
            .over(
                partition_by=metrics.c.model_id,
                order_by=(metrics.c.timestamp.desc(), metrics.c.step.desc(), metrics.c.run_id.asc()),
            )
            .label("rank"),
        )
        .where(*conditions)
        .subquery()
    )
    return select(ranked.c.model_id, ranked.c.value, ranked.c.is_nan).where(ranked.c.rank == 1)


def logged_model_search_select(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    order_by: Sequence[Mapping[str, Any]] | None,
    limit: int,
    offset: int,
    datasets: Sequence[Mapping[str, Any]] | None = None,
) -> Select[Any]:
    """One page of `logged_models.model_id` (active models only) for a logged-models/search request.

    `order_by` items are `{field_name, ascending, dataset_name?, dataset_digest?}`; `datasets`
    (`[{dataset_name, dataset_digest?}]`) restricts metric filters to those datasets, or, without
    metric filters, keeps only models with a metric on one of them. Default order:
    `creation_timestamp DESC, model_id ASC`.
    """
    _check_page(limit, offset)
    models = schema.logged_models
    datasets = list(datasets or [])
    comparisons = parse_logged_model_filter(filter_string)
    order_keys = parse_logged_model_order_by(order_by)

    conditions = [
        models.c.experiment_id.in_(list(experiment_ids)),
        models.c.lifecycle_stage == "active",
        *(_model_condition(c, datasets) for c in comparisons),
    ]
    if datasets and not any(c.kind == "metric" for c in comparisons):
        metrics = schema.logged_model_metrics
        conditions.append(exists().where(metrics.c.model_id == models.c.model_id, _dataset_filter(metrics, datasets)))

    from_clause: Any = models
    ordering: list[Any] = []
    for i, key in enumerate(order_keys):
        if key.kind == "attribute":
            column: Any = _MODEL_COLUMNS[key.key]
            if key.key == "source_run_id":
                ordering.append(_missing_last(column.is_(None)))
            if key.key not in ("creation_timestamp", "last_updated_timestamp"):
                column = binary_order(column)
            ordering.append(_direction(column, key.ascending))
            continue
        latest = _latest_model_metric(key).subquery(f"order_{i}")
        from_clause = from_clause.outerjoin(latest, latest.c.model_id == models.c.model_id)
        ordering.append(_missing_last(latest.c.is_nan == true(), latest.c.model_id.is_(None)))
        ordering.append(_direction(latest.c.value, key.ascending))
    if not any(k.kind == "attribute" and k.key == "creation_timestamp" for k in order_keys):
        ordering.append(models.c.creation_timestamp_ms.desc())
    if not any(k.kind == "attribute" and k.key == "model_id" for k in order_keys):
        ordering.append(models.c.model_id.asc())
    return (
        select(models.c.model_id)
        .select_from(from_clause)
        .where(*conditions)
        .order_by(*ordering)
        .limit(limit)
        .offset(offset)
    )


# ---------------------------------------------------------------------------------------------
# Model registry

PROMPT_TAG = "mlflow.prompt.is_prompt"
DELETED_STAGE = "Deleted_Internal"


def _asks_for_prompts(comparisons: Sequence[Comparison]) -> bool:
    """MLflow's registry searches leave prompts (models tagged `mlflow.prompt.is_prompt=true`) out
    unless the filter's first clause on that tag selects them."""
    for c in comparisons:
        if c.kind == "tag" and c.key == PROMPT_TAG:
            value = str(c.value).lower()
            return (c.op == "=" and value == "true") or (c.op == "!=" and value == "false")
    return False


def _prompt_filter(
    comparisons: list[Comparison], tags: Any, owner_col: Any, owner: Any
) -> tuple[list[Comparison], list[ColumnElement[bool]]]:
    """The comparisons left to apply and the condition that hides prompts, as MLflow decides them."""
    if _asks_for_prompts(comparisons):
        return comparisons, []
    kept = [c for c in comparisons if not (c.kind == "tag" and c.key == PROMPT_TAG)]
    is_prompt = exists().where(owner_col == owner, tags.c.key == PROMPT_TAG, tags.c.value == "true")
    return kept, [~is_prompt]


def registered_model_search_select(
    filter_string: str | None, order_by: Sequence[str] | None, limit: int, offset: int
) -> Select[Any]:
    """One page of `registered_models.id` for a registered-models/search request.

    Filters: `name` (=, !=, LIKE, ILIKE, IN, NOT IN) and `tags.<key>`. Default order: `name ASC`,
    which also breaks ties.
    """
    _check_page(limit, offset)
    models, tags = schema.registered_models, schema.registered_model_tags
    comparisons, hide_prompts = _prompt_filter(
        parse_registered_model_filter(filter_string), tags, tags.c.registered_model_id, models.c.id
    )
    conditions = [
        _compare(models.c.name, c.op, c.value)
        if c.kind == "attribute"
        else _key_value_condition(tags, tags.c.registered_model_id, models.c.id, c.key, c.op, c.value)
        for c in comparisons
    ]
    columns = {
        "name": binary_order(models.c.name),
        "creation_timestamp": models.c.creation_time,
        "last_updated_timestamp": models.c.last_updated_time,
    }
    order_keys = parse_registered_model_order_by(order_by)
    ordering = [_direction(columns[k.key], k.ascending) for k in order_keys]
    if not any(k.key == "name" for k in order_keys):
        ordering.append(columns["name"].asc())
    return (
        select(models.c.id)
        .where(*conditions, *hide_prompts, *_in_workspace(models.c.workspace))
        .order_by(*ordering)
        .limit(limit)
        .offset(offset)
    )


def model_version_search_select(
    filter_string: str | None, order_by: Sequence[str] | None, limit: int, offset: int
) -> Select[Any]:
    """One page of `(registered_model_id, version)` for a model-versions/search request.

    Filters: `name`, `run_id` (both also IN / NOT IN), `source_path`, `version_number` and
    `tags.<key>`. Default order: `last_updated_timestamp DESC, name ASC, version_number DESC`;
    `name ASC` then `version_number DESC` break ties.
    """
    _check_page(limit, offset)
    versions, models, tags = schema.model_versions, schema.registered_models, schema.model_version_tags
    # As in MLflow, a prompt-tagged version hides every version of its model.
    comparisons, hide_prompts = _prompt_filter(
        parse_model_version_filter(filter_string), tags, tags.c.registered_model_id, versions.c.registered_model_id
    )
    columns: dict[str, Any] = {
        "name": models.c.name,
        "run_id": versions.c.run_id,
        "source_path": versions.c.source,
        "version_number": versions.c.version,
        "creation_timestamp": versions.c.creation_time,
        "last_updated_timestamp": versions.c.last_updated_time,
    }
    conditions: list[ColumnElement[bool]] = [
        versions.c.current_stage != DELETED_STAGE,
        *hide_prompts,
        *_in_workspace(models.c.workspace),
    ]
    for c in comparisons:
        if c.kind == "attribute":
            conditions.append(_compare(columns[c.key], c.op, c.value))
        else:
            conditions.append(
                exists().where(
                    tags.c.registered_model_id == versions.c.registered_model_id,
                    tags.c.version == versions.c.version,
                    tags.c.key == c.key,
                    _compare(tags.c.value, c.op, c.value),
                )
            )
    order_keys = parse_model_version_order_by(order_by) or [
        OrderKey("attribute", "last_updated_timestamp", ascending=False),
        OrderKey("attribute", "name"),
        OrderKey("attribute", "version_number", ascending=False),
    ]
    ordering = [
        _direction(binary_order(columns[k.key]) if k.key == "name" else columns[k.key], k.ascending) for k in order_keys
    ]
    if not any(k.key == "name" for k in order_keys):
        ordering.append(binary_order(models.c.name).asc())
    if not any(k.key == "version_number" for k in order_keys):
        ordering.append(versions.c.version.desc())
    return (
        select(versions.c.registered_model_id, versions.c.version)
        .select_from(versions.join(models, models.c.id == versions.c.registered_model_id))
        .where(*conditions)
        .order_by(*ordering)
        .limit(limit)
        .offset(offset)
    )


# ---------------------------------------------------------------------------------------------
# Traces

SPAN_KINDS = ("span", "span_attribute")

_TRACE_COLUMNS: dict[str, Any] = {
    "request_id": schema.traces.c.trace_id,
    "status": schema.traces.c.state,
    "client_request_id": schema.traces.c.client_request_id,
    "timestamp_ms": schema.traces.c.request_time,
    "execution_time_ms": schema.traces.c.execution_duration,
    "end_time_ms": schema.traces.c.request_time + schema.traces.c.execution_duration,
    "experiment_id": schema.traces.c.experiment_id,
}
# Attributes to the user, rows of a key-value table to the store.
_TRACE_KEYED_ATTRIBUTES = {"name": ("tag", schema.TRACE_NAME_TAG), "run_id": ("metadata", schema.SOURCE_RUN_METADATA)}


def _trace_key_value(kind: str, key: str) -> tuple[Any, str]:
    if kind == "attribute":
        kind, key = _TRACE_KEYED_ATTRIBUTES[key]
    return (schema.trace_tags if kind == "tag" else schema.trace_metadata), key


def _assessment_condition(c: Comparison) -> ColumnElement[bool]:
    """Traces whose valid assessment of this kind and name compares (IS NULL: that have none)."""
    a = schema.trace_assessments
    named = [a.c.kind == c.kind, a.c.name == c.key, a.c.valid == true()]
    if c.op == "IS NULL":
        return schema.traces.c.trace_id.not_in(select(a.c.trace_id).where(*named))
    if c.op != "IS NOT NULL":
        numeric = isinstance(c.value, int | float) and c.op not in ("LIKE", "ILIKE")
        named.append(_compare(a.c.number, c.op, c.value) if numeric else _compare(a.c.value, c.op, str(c.value)))
    return schema.traces.c.trace_id.in_(select(a.c.trace_id).where(*named))


LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"  # the tag MLflow's client sets beside the links


def _prompt_condition(value: Value) -> ColumnElement[bool]:
    """Traces linked to this prompt version (`traces/link-prompts`), named as MLflow names it: "name/3"."""
    if not isinstance(value, str) or value.count("/") != 1:
        raise InvalidParameterValue(
            f"Invalid prompts filter value '{value}'. Expected format: prompt = \"name/version\""
        )
    links = schema.trace_prompt_links
    return schema.traces.c.trace_id.in_(select(links.c.trace_id).where(links.c.prompt_version == value))


def _trace_condition(c: Comparison) -> ColumnElement[bool]:
    if c.kind in ("feedback", "expectation"):
        return _assessment_condition(c)
    if (c.kind, c.key) in (("attribute", "prompt"), ("tag", LINKED_PROMPTS_TAG)):  # MLflow reads both so
        if c.op != "=":
            raise InvalidParameterValue(
                f"Invalid comparator '{c.op}' for prompts filter. Only '=' is supported with format: "
                'prompt = "name/version"'
            )
        return _prompt_condition(c.value)
    if c.kind == "attribute" and c.key in _TRACE_COLUMNS:
        return _compare(_TRACE_COLUMNS[c.key], c.op, c.value)
    table, key = _trace_key_value(c.kind, c.key)
    if table is schema.trace_metadata and key == schema.SOURCE_RUN_METADATA and c.op in ("=", "IN"):
        # Selective, and indexed (`ix_trace_metadata_source_run`): the run's traces by index, not every
        # trace of the experiment tested by its key.
        runs_traces = select(table.c.trace_id).where(
            table.c.key == schema.SOURCE_RUN_KEY, _compare(table.c.value, c.op, c.value)
        )
        if c.kind == "attribute":  # `run_id`, as MLflow reads it: recorded in the run, or linked to it
            links = schema.trace_run_links
            linked = select(links.c.trace_id).where(_compare(links.c.run_id, c.op, c.value))
            return or_(schema.traces.c.trace_id.in_(runs_traces), schema.traces.c.trace_id.in_(linked))
        return schema.traces.c.trace_id.in_(runs_traces)
    return _key_value_condition(table, table.c.trace_id, schema.traces.c.trace_id, key, c.op, c.value)


def _span_condition(comparisons: Sequence[Comparison]) -> ColumnElement[bool]:
    """Traces with a span that meets every span comparison, as MLflow's SQL store does (one span, not
    each comparison by another span). `span.attributes.<key>` compares the decoded value of the span's
    attribute (MLflow matches a pattern in the span's JSON text instead, where `=` never matches)."""
    spans, attributes = schema.trace_spans, schema.trace_span_attributes
    conditions = [spans.c.trace_id == schema.traces.c.trace_id]
    for c in comparisons:
        if c.kind == "span_attribute":
            same_span = [attributes.c.trace_id == spans.c.trace_id, attributes.c.span_id == spans.c.span_id]
            value = _compare(attributes.c.value, c.op, c.value)
            conditions.append(exists().where(*same_span, attributes.c.key == c.key, value))
        else:
            conditions.append(_compare(spans.c[c.key], c.op, c.value))
    return exists().where(*conditions)


def _trace_sort(order_keys: Sequence[OrderKey]) -> list[SortTerm]:
    """The full sort of a trace search: the order keys, then `timestamp_ms DESC` (unless ordered on),
    then the trace id. Traces lacking a key's value (no duration, no such tag) sort last."""
    traces = schema.traces
    terms: list[SortTerm] = []
    for key in order_keys:
        if key.kind == "attribute" and key.key in _TRACE_COLUMNS:
            column: Any = _TRACE_COLUMNS[key.key]
            if key.key in ("execution_time_ms", "end_time_ms"):
                terms.append(SortTerm(_missing_last(traces.c.execution_duration.is_(None)), True, "int"))
            if key.key == "client_request_id":
                terms.append(SortTerm(_missing_last(column.is_(None)), True, "int"))
            if key.key in ("request_id", "status", "client_request_id"):
                terms.append(SortTerm(binary_order(column), key.ascending, "str"))
            else:
                terms.append(SortTerm(column, key.ascending, "int"))
            continue
        table, name = _trace_key_value(key.kind, key.key)
        value = (
            select(table.c.value).where(table.c.trace_id == traces.c.trace_id, table.c.key == name).scalar_subquery()
        )
        terms.append(SortTerm(_missing_last(value.is_(None)), True, "int"))
        terms.append(SortTerm(binary_order(value), key.ascending, "str"))
    if not any(k.kind == "attribute" and k.key == "timestamp_ms" for k in order_keys):
        terms.append(SortTerm(traces.c.request_time, False, "int"))
    if not any(k.kind == "attribute" and k.key == "request_id" for k in order_keys):
        terms.append(SortTerm(binary_order(traces.c.trace_id), True, "str"))
    return terms


class TraceSearch:
    """A traces/search request compiled to SQL, page by page: pages start at an offset (MLflow's own
    tokens, tracklet's before keyset paging) or after a row (`keyset`), so traces logged between two
    pages, newest first, no longer shift the later pages."""

    def __init__(self, experiment_ids: Sequence[int], filter_string: str | None, order_by: Sequence[str] | None):
        order_keys = parse_trace_order_by(order_by)
        comparisons = parse_trace_filter(filter_string)
        span_comparisons = [c for c in comparisons if c.kind in SPAN_KINDS]
        self._conditions = [
            schema.traces.c.experiment_id.in_(list(experiment_ids)),
            *(_trace_condition(c) for c in comparisons if c.kind not in SPAN_KINDS),
            *([_span_condition(span_comparisons)] if span_comparisons else []),
        ]
        self.terms = _trace_sort(order_keys)
        # The search's WHERE: the experiments first, then the filter's conditions.
        self.conditions: list[ColumnElement[bool]] = self._conditions
        self.sort_id = keyset.sort_id("traces", *((k.kind, k.key, k.ascending) for k in order_keys))

    def page(self, limit: int, position: Position = 0) -> Select[Any]:
        """Up to `limit` rows of (trace id, the value of every sort term): the last row's values make
        the next page's token."""
        _check_page(limit, 0 if isinstance(position, tuple) else position)
        sort_values = [t.expr.label(f"sort_{i}") for i, t in enumerate(self.terms)]
        stmt = select(schema.traces.c.trace_id, *sort_values).where(*self._conditions)
        if isinstance(position, tuple):
            stmt = stmt.where(keyset.after(self.terms, position))
        else:
            stmt = stmt.offset(position)
        return stmt.order_by(*(t.ordering() for t in self.terms)).limit(limit)


def trace_search_select(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    order_by: Sequence[str] | None,
    limit: int,
    offset: int,
) -> Select[Any]:
    """One page of a traces/search request from an offset (`TraceSearch`), the trace id first."""
    return TraceSearch(experiment_ids, filter_string, order_by).page(limit, offset)
