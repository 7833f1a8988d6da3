"""Which indexes serve which lookups (SQLite's planner, read with EXPLAIN QUERY PLAN)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tracklet.store import schema as s
from tracklet.store.store import Store


def _plan(store: Store, stmt) -> str:  # type: ignore[no-untyped-def]
    with store.db.read() as conn:
        sql = str(stmt.compile(conn, compile_kwargs={"render_postcompile": True}))
        params = stmt.compile(conn, compile_kwargs={"render_postcompile": True}).params
        return " | ".join(
            str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params.values()))
        )


def test_the_children_of_runs_are_found_through_the_partial_parent_index(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/t.db")
    try:
        t = s.tags
        children = select(t.c.run_uuid).where(t.c.key == s.PARENT_RUN_KEY, t.c.value == "a" * 32)
        counts = (
            select(t.c.value, func.count())
            .where(t.c.key == s.PARENT_RUN_KEY, t.c.value.in_(["a" * 32, "b" * 32]))
            .group_by(t.c.value)
        )
        assert "ix_tags_parent_run" in _plan(store, children)
        assert "ix_tags_parent_run" in _plan(store, counts)
    finally:
        store.close()


def test_a_runs_traces_are_found_through_the_partial_source_run_index(tmp_path: Path) -> None:
    from tracklet.store.search_sql import trace_search_select

    store = Store(f"sqlite:///{tmp_path}/t.db")
    try:
        for query in ("trace.run_id = 'r1'", "metadata.`mlflow.sourceRun` = 'r1'", "trace.run_id IN ('r1', 'r2')"):
            assert "ix_trace_metadata_source_run" in _plan(store, trace_search_select([0], query, [], 101, 0)), query
    finally:
        store.close()
