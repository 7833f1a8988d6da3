"""How SQL finds the points of one metric history.

`metrics` stores points under the history's integer id (`latest_metrics.history_id`, given when the
history's first point is written): a read by (run_id, key) looks the id up in `latest_metrics` (a
primary-key seek) inside the statement that reads the points.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tracklet.store import schema as s


def in_history(mark: str) -> str:
    """SQL condition on `metrics` selecting the points of one history, given (run_id, key) as binds."""
    return f"history_id = (SELECT history_id FROM latest_metrics WHERE run_uuid = {mark} AND key = {mark})"


def history_id_of(run_id: str, key: str) -> Any:
    """The same for SQLAlchemy Core: the id of the history (run_id, key), as a scalar subquery."""
    latest = s.latest_metrics
    return select(latest.c.history_id).where(latest.c.run_uuid == run_id, latest.c.key == key).scalar_subquery()
