"""Set-based statements behind the web UI's pages: the runs table, its keys, experiments with counts,
and lifecycle changes of many runs at once.

Every function takes an open connection and issues a fixed number of statements whatever the page
size: one for the page of ids (the search compiler of `runs/search`), one for the total, and one
per kind of requested column restricted to the page's ids and the requested keys.

Nesting is one level, by the `mlflow.parentRunId` tag: a run is top-level unless its parent is a run
of these experiments shown in the same view (active or deleted). With a filter, the top level holds
the matching runs without such a parent and the parents of matching runs, whether they match or not
(rows carry `matches`); a parent's `child_count` and its children are then its matching children.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Select, and_, case, exists, func, or_, select, update
from sqlalchemy.sql.util import ClauseAdapter

from tracklet.errors import ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import chunks, now_ms
from tracklet.store.search_sql import run_search_select
from tracklet.validation import decode_metric_value

PARENT_TAG = s.PARENT_RUN_TAG
_CHUNK = 900  # ids per IN (...) list


@dataclass(frozen=True)
class Columns:
    params: Sequence[str] = ()
    metrics: Sequence[str] = ()
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class TableQuery:
    experiment_ids: Sequence[int]
    filter: str = ""
    order_by: Sequence[str] = ()
    view_type: str = "ACTIVE_ONLY"
    nested: bool = False  # only runs without a parent in these experiments, with their child counts
    parent_id: str | None = None  # only the children of this run


@dataclass
class TablePage:
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    matched: int | None = None  # runs matching the filter, when the top level also shows their parents
    columns: dict[str, list[str]] | None = None  # the default columns, when asked for


_STAGES = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}


def _has_parent_here(q: TableQuery) -> Any:
    """The run has a parent run in these experiments and this view (orphans count as top-level)."""
    tags, runs, parent = s.tags, s.runs, s.runs.alias("parent")
    return exists().where(
        tags.c.run_uuid == runs.c.run_uuid,
        tags.c.key == s.PARENT_RUN_KEY,
        parent.c.run_uuid == tags.c.value,
        parent.c.experiment_id.in_(list(q.experiment_ids)),
        parent.c.lifecycle_stage.in_(_STAGES[q.view_type]),
    )


def matching_ids(q: TableQuery) -> Select[Any]:
    """Every run id matching the query's filter and view, flat and unordered (for `IN (…)`)."""
    stmt = run_search_select(q.experiment_ids, q.filter, q.view_type, [], 1, 0)
    # Uncorrelated: it is used inside statements on `runs` itself.
    return stmt.order_by(None).limit(None).offset(None).correlate(None)


def _matches(q: TableQuery, runs: Any = None) -> Any:
    """The filter (and experiments and view) as a condition on `runs`, or on an alias of it: applied
    to the row at hand it costs a lookup, where `IN (every matching id)` would scan them all."""
    cond = run_search_select(q.experiment_ids, q.filter, q.view_type, [], 1, 0).whereclause
    return cond if runs is None else ClauseAdapter(runs).traverse(cond)


def _top_level_under_filter(q: TableQuery, matches: bool = True) -> Any:
    """Matching runs without a parent here, and parents (here) of matching runs (only the latter
    with `matches=False`)."""
    tags, child = s.tags, s.runs.alias("child")
    parents_of_matches = (
        select(tags.c.value)
        .select_from(tags.join(child, child.c.run_uuid == tags.c.run_uuid))
        .where(tags.c.key == s.PARENT_RUN_KEY, _matches(q, child))
    )
    is_parent = s.runs.c.run_uuid.in_(parents_of_matches)
    return or_(and_(_matches(q), ~_has_parent_here(q)), is_parent) if matches else is_parent


def _ids_select(q: TableQuery, limit: int, offset: int) -> Select[Any]:
    runs, tags = s.runs, s.tags
    if q.nested and q.filter and q.parent_id is None:
        stmt = run_search_select(q.experiment_ids, "", q.view_type, list(q.order_by), limit, offset)
        return stmt.where(_top_level_under_filter(q))
    stmt = run_search_select(q.experiment_ids, q.filter, q.view_type, list(q.order_by), limit, offset)
    if q.parent_id is not None:
        stmt = stmt.where(
            exists().where(
                tags.c.run_uuid == runs.c.run_uuid, tags.c.key == s.PARENT_RUN_KEY, tags.c.value == q.parent_id
            )
        )
    elif q.nested:
        stmt = stmt.where(~_has_parent_here(q))
    return stmt


def count_top_level_and_matching(conn: Connection, q: TableQuery) -> tuple[int, int]:
    """Top-level rows and matching runs of a nested view under a filter (the filter is evaluated once
    per run: it is the costly part)."""
    r = s.runs
    flags = (
        select(
            case((_matches(q), 1), else_=0).label("m"),
            case((_has_parent_here(q), 1), else_=0).label("hp"),
            case((_top_level_under_filter(q, matches=False), 1), else_=0).label("pm"),
        )
        .where(r.c.experiment_id.in_(list(q.experiment_ids)), r.c.lifecycle_stage.in_(_STAGES[q.view_type]))
        .subquery()
    )
    top = case((or_(and_(flags.c.m == 1, flags.c.hp == 0), flags.c.pm == 1), 1), else_=0)
    total, matched = conn.execute(select(func.coalesce(func.sum(top), 0), func.coalesce(func.sum(flags.c.m), 0))).one()
    return int(total), int(matched)


def has_nested_runs(conn: Connection, q: TableQuery) -> bool:
    """Whether any run of these experiments and this view names a parent (one index probe per run,
    stopping at the first): without any, a nested view under a filter is the flat one."""
    r, t = s.runs, s.tags
    probe = (
        select(r.c.run_uuid)
        .where(r.c.experiment_id.in_(list(q.experiment_ids)), r.c.lifecycle_stage.in_(_STAGES[q.view_type]))
        .where(exists().where(t.c.run_uuid == r.c.run_uuid, t.c.key == s.PARENT_RUN_KEY))
        .limit(1)
    )
    return conn.execute(probe).first() is not None


def count_runs(conn: Connection, q: TableQuery) -> int:
    # Without the order: the joins that sorting adds cost time and never change the count.
    ids = _ids_select(replace(q, order_by=()), 1, 0).order_by(None).limit(None).offset(None)
    return int(conn.execute(select(func.count()).select_from(ids.subquery())).scalar() or 0)


def page_ids(conn: Connection, q: TableQuery, limit: int, offset: int) -> list[str]:
    return [row[0] for row in conn.execute(_ids_select(q, limit, offset))]


def _values(conn: Connection, table: Any, ids: list[str], keys: Sequence[str]) -> Iterator[Any]:
    if not keys or not ids:
        return iter(())
    cols = [table.c.run_uuid, table.c.key, table.c.value]
    if "is_nan" in table.c:
        cols.append(table.c.is_nan)
    return iter(conn.execute(select(*cols).where(table.c.run_uuid.in_(ids), table.c.key.in_(list(keys)))).all())


def load_rows(
    conn: Connection, ids: list[str], columns: Columns, child_counts: bool = False, match: TableQuery | None = None
) -> list[dict[str, Any]]:
    """Table rows for these run ids, in this order, with only the requested columns; with `match`,
    child counts count only children matching its filter and rows say if they match it."""
    rows: dict[str, dict[str, Any]] = {}
    for part in chunks(ids, _CHUNK):
        r = s.runs
        for run in conn.execute(select(r).where(r.c.run_uuid.in_(part))):
            rows[run.run_uuid] = {
                "run_id": run.run_uuid,
                "run_name": run.name,
                "experiment_id": str(run.experiment_id),
                "status": run.status,
                "user_id": run.user_id,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "lifecycle_stage": run.lifecycle_stage,
                "parent_run_id": None,
                "params": {},
                "metrics": {},
                "tags": {},
            }
        for run_id, key, value in _values(conn, s.params, part, columns.params):
            rows[run_id]["params"][key] = value
        for run_id, key, value, is_nan in _values(conn, s.latest_metrics, part, columns.metrics):
            rows[run_id]["metrics"][key] = decode_metric_value(value, is_nan)
        for run_id, key, value in _values(conn, s.tags, part, [*columns.tags, PARENT_TAG]):
            if key == PARENT_TAG:
                rows[run_id]["parent_run_id"] = value
            if key in columns.tags:
                rows[run_id]["tags"][key] = value
        if child_counts:
            for run_id in part:
                rows[run_id]["child_count"] = 0
            t = s.tags
            counting = select(t.c.value, func.count()).where(t.c.key == s.PARENT_RUN_KEY, t.c.value.in_(part))
            if match is not None:
                child = s.runs.alias("child")
                counting = counting.select_from(t.join(child, child.c.run_uuid == t.c.run_uuid)).where(
                    _matches(match, child)
                )
            for parent_id, n in conn.execute(counting.group_by(t.c.value)):
                rows[parent_id]["child_count"] = int(n)
        if match is not None:
            r = s.runs
            inside = {
                row[0] for row in conn.execute(select(r.c.run_uuid).where(r.c.run_uuid.in_(part), _matches(match)))
            }
            for run_id in part:
                if run_id in rows:
                    rows[run_id]["matches"] = run_id in inside
    return [rows[i] for i in ids if i in rows]


def _page_keys(conn: Connection, table: Any, ids: list[str], n: int) -> list[str]:
    if not ids:
        return []
    query = select(table.c.key).where(table.c.run_uuid.in_(ids[:_CHUNK])).distinct().order_by(table.c.key).limit(n)
    return [row[0] for row in conn.execute(query)]


def table_page(
    conn: Connection, q: TableQuery, columns: Columns, limit: int, offset: int, default_columns: int = 0
) -> TablePage:
    """One page of the table. With `default_columns` > 0 the columns are the first that many param and
    metric keys (sorted) of the page's own runs: no scan of the whole experiment's keys before the
    first screen, and the columns shown are ones that have values on it."""
    under_filter = q.nested and bool(q.filter) and q.parent_id is None
    if under_filter and not has_nested_runs(conn, q):
        page = table_page(conn, replace(q, nested=False), columns, limit, offset, default_columns)
        page.matched = page.total
        for row in page.rows:
            row["matches"], row["child_count"] = True, 0
        return page
    ids = page_ids(conn, q, limit, offset)
    page = TablePage(total=0)
    if under_filter:
        page.total, page.matched = count_top_level_and_matching(conn, q)
    else:
        page.total = count_runs(conn, q)
    if default_columns > 0:
        page.columns = {
            "params": _page_keys(conn, s.params, ids, default_columns),
            "metrics": _page_keys(conn, s.latest_metrics, ids, default_columns),
            "tags": [],
        }
        columns = Columns(page.columns["params"], page.columns["metrics"], ())
    match = q if under_filter else None
    page.rows = load_rows(conn, ids, columns, child_counts=q.nested or q.parent_id is not None, match=match)
    return page


def _keys_by_skip_scan(conn: Connection, table: Any, experiment_ids: Sequence[int]) -> list[str]:
    """Distinct keys by hopping along the (key, value) index: one seek per key instead of a scan of
    every row (10,000 runs × 20 params is 200,000 rows), then keep keys used by these experiments."""
    k = select(func.min(table.c.key).label("key")).cte("k", recursive=True)
    following = select(func.min(table.c.key)).where(table.c.key > k.c.key).scalar_subquery()
    k = k.union_all(select(following).where(k.c.key.is_not(None)))
    used = exists().where(
        table.c.key == k.c.key,
        s.runs.c.run_uuid == table.c.run_uuid,
        s.runs.c.experiment_id.in_(list(experiment_ids)),
    )
    return [row[0] for row in conn.execute(select(k.c.key).where(k.c.key.is_not(None), used).order_by(k.c.key))]


def available_keys(conn: Connection, experiment_ids: Sequence[int]) -> dict[str, list[str]]:
    """The distinct param, metric and tag keys of the runs of these experiments, sorted."""
    runs = select(s.runs.c.run_uuid).where(s.runs.c.experiment_id.in_(list(experiment_ids)))
    keys: dict[str, list[str]] = {"params": _keys_by_skip_scan(conn, s.params, experiment_ids)}
    # latest_metrics' key index does not help the planner here, and tags have none: plain DISTINCT.
    for name, table in (("metrics", s.latest_metrics), ("tags", s.tags)):
        query = select(table.c.key).where(table.c.run_uuid.in_(runs)).distinct().order_by(table.c.key)
        keys[name] = [row[0] for row in conn.execute(query)]
    return keys


def set_stage(conn: Connection, stage: str, run_ids: Sequence[str] = (), where: Select[Any] | None = None,
              exclude: Sequence[str] = ()) -> int:  # fmt: skip
    """Move runs to `stage` ("active" or "deleted") in one transaction: the listed ids (every one must
    exist, or nothing changes), or the ids of the `where` select but the excluded ones. Returns how
    many runs matched."""
    r = s.runs
    values = {"lifecycle_stage": stage, "deleted_time": now_ms() if stage == "deleted" else None}
    if where is None:
        ids = list(dict.fromkeys(run_ids))
        found: set[str] = set()
        for part in chunks(ids, _CHUNK):
            found.update(row[0] for row in conn.execute(select(r.c.run_uuid).where(r.c.run_uuid.in_(part))))
        missing = [i for i in ids if i not in found]
        if missing:
            raise ResourceDoesNotExist(f"Run with id={missing[0]} not found")
        for part in chunks(ids, _CHUNK):
            conn.execute(update(r).where(r.c.run_uuid.in_(part)).values(**values))
        return len(ids)
    # Read the ids first: one statement, the same on SQLite and PostgreSQL, and the count is exact.
    skip = set(exclude)
    ids = [row[0] for row in conn.execute(where) if row[0] not in skip]
    for part in chunks(ids, _CHUNK):
        conn.execute(update(r).where(r.c.run_uuid.in_(part)).values(**values))
    return len(ids)


def experiments_with_counts(conn: Connection, view_type: str) -> list[dict[str, Any]]:
    """Every experiment with its number of active runs and the start of its latest run."""
    e, r = s.experiments, s.runs
    stages = {"ACTIVE_ONLY": ["active"], "DELETED_ONLY": ["deleted"], "ALL": ["active", "deleted"]}[view_type]
    counts = (
        select(
            r.c.experiment_id,
            func.count().label("run_count"),
            func.max(r.c.start_time).label("last_run_start"),
        )
        .where(r.c.lifecycle_stage == "active")
        .group_by(r.c.experiment_id)
        .subquery()
    )
    query = (
        select(e, counts.c.run_count, counts.c.last_run_start)
        .select_from(e.outerjoin(counts, and_(counts.c.experiment_id == e.c.experiment_id)))
        .where(e.c.lifecycle_stage.in_(stages))
        .order_by(e.c.experiment_id.desc())
    )
    return [
        {
            "experiment_id": str(row.experiment_id),
            "name": row.name,
            "artifact_location": row.artifact_location,
            "lifecycle_stage": row.lifecycle_stage,
            "creation_time": row.creation_time,
            "last_update_time": max(row.last_update_time or 0, row.last_run_start or 0),
            "run_count": int(row.run_count or 0),
        }
        for row in conn.execute(query)
    ]
