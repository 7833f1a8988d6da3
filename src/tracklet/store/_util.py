"""Small helpers shared by the store modules."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from tracklet.entities import KeyValue


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def group_key_values(rows: Iterable[Any], owner: str = "run_uuid") -> dict[Any, list[KeyValue]]:
    grouped: dict[Any, list[KeyValue]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, owner)].append(KeyValue(key=row.key, value=row.value))
    return grouped


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
