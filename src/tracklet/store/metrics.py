"""Metric points: set-based ingestion, the latest-value table and history reads.

A batch is reduced in Python to one candidate per key, then written with two statements:
an INSERT of all points (exact duplicates ignored by the primary key) and an upsert of
`latest_metrics` that only replaces a row when the new (step, timestamp, value) is larger.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, select, tuple_

from tracklet.entities import Metric
from tracklet.errors import InvalidParameterValue
from tracklet.store import schema as s
from tracklet.store.database import Database
from tracklet.validation import decode_metric_value, encode_metric_value


@dataclass(frozen=True, slots=True)
class MetricPoint:
    key: str
    value: float
    timestamp: int
    step: int
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


def write_points(db: Database, conn: Connection, run_id: str, points: Sequence[MetricPoint]) -> None:
    if not points:
        return
    rows = []
    latest: dict[str, tuple[int, int, float, bool]] = {}
    for p in points:
        value, is_nan = encode_metric_value(p.value)
        rows.append(
            {"run_uuid": run_id, "key": p.key, "timestamp": p.timestamp, "step": p.step, "value": value, "is_nan": is_nan}
        )
        candidate = (p.step, p.timestamp, value, is_nan)
        current = latest.get(p.key)
        if current is None or candidate[:3] > current[:3]:
            latest[p.key] = candidate
    conn.execute(db.insert(s.metrics).on_conflict_do_nothing(), rows)

    lm = s.latest_metrics
    stmt = db.insert(lm)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_uuid", "key"],
        set_={
            "value": stmt.excluded.value,
            "timestamp": stmt.excluded.timestamp,
            "step": stmt.excluded.step,
            "is_nan": stmt.excluded.is_nan,
        },
        where=tuple_(stmt.excluded.step, stmt.excluded.timestamp, stmt.excluded.value)
        > tuple_(lm.c.step, lm.c.timestamp, lm.c.value),
    )
    conn.execute(
        stmt,
        [
            {"run_uuid": run_id, "key": key, "step": step, "timestamp": ts, "value": value, "is_nan": is_nan}
            for key, (step, ts, value, is_nan) in latest.items()
        ],
    )

    model_rows = [
        {
            "model_id": p.model_id,
            "key": p.key,
            "timestamp": p.timestamp,
            "step": p.step,
            "value": encode_metric_value(p.value)[0],
            "is_nan": encode_metric_value(p.value)[1],
            "run_id": run_id,
            "dataset_name": p.dataset_name or "",
            "dataset_digest": p.dataset_digest or "",
        }
        for p in points
        if p.model_id
    ]
    if model_rows:
        known = {
            r[0]
            for r in conn.execute(
                select(s.logged_models.c.model_id).where(
                    s.logged_models.c.model_id.in_({r["model_id"] for r in model_rows})
                )
            )
        }
        model_rows = [r for r in model_rows if r["model_id"] in known]
        if model_rows:
            stmt = db.insert(s.logged_model_metrics)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["model_id", "key", "timestamp", "step", "run_id", "dataset_name", "dataset_digest"],
                    set_={"value": stmt.excluded.value, "is_nan": stmt.excluded.is_nan},
                ),
                model_rows,
            )


def _encode_history_token(row: tuple[int, int, float, bool]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(row)).encode()).decode()


def _decode_history_token(token: str) -> tuple[int, int, float, bool]:
    try:
        ts, step, value, is_nan = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not all(-(2**63) <= int(n) < 2**63 for n in (ts, step)):
            raise ValueError("outside int64")
        return int(ts), int(step), float(value), bool(is_nan)
    except Exception:
        raise InvalidParameterValue(f"Invalid page token: {token!r}") from None


def read_history(
    conn: Connection, run_id: str, key: str, max_results: int | None, page_token: str | None
) -> tuple[list[Metric], str | None]:
    """All points of one metric ordered by (timestamp, step, value); keyset paging when max_results is given."""
    m = s.metrics
    query = (
        select(m.c.timestamp, m.c.step, m.c.value, m.c.is_nan)
        .where(and_(m.c.run_uuid == run_id, m.c.key == key))
        .order_by(m.c.timestamp, m.c.step, m.c.value, m.c.is_nan)
    )
    if page_token:
        query = query.where(
            tuple_(m.c.timestamp, m.c.step, m.c.value, m.c.is_nan) > tuple_(*_decode_history_token(page_token))
        )
    if max_results is not None:
        query = query.limit(max_results + 1)
    rows = conn.execute(query).all()
    token = None
    if max_results is not None and len(rows) > max_results:
        rows = rows[:max_results]
        last = rows[-1]
        token = _encode_history_token((last[0], last[1], last[2], bool(last[3])))
    return [
        Metric(key=key, value=decode_metric_value(value, is_nan), timestamp=ts, step=step)
        for ts, step, value, is_nan in rows
    ], token
