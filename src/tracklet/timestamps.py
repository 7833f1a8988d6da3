"""Protobuf's JSON forms of Timestamp and Duration, which MLflow 3's trace messages use, to and from
integer milliseconds (what the store keeps; MLflow's own store keeps traces at that precision too)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tracklet.errors import InvalidParameterValue

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_DURATION = re.compile(r"(?P<sign>-?)(?P<seconds>\d+)(?:\.(?P<fraction>\d{1,9}))?s")


def parse_timestamp(text: str, field: str) -> int:
    """`2026-11-27T13:37:27.147Z` (or with an offset; no offset means UTC) → ms since the epoch."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid value for parameter '{field}' supplied: '{text}' is not an RFC 3339 timestamp"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def format_timestamp(ms: int) -> str:
    moment = _EPOCH + ms * _MS
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_duration(text: str, field: str) -> int:
    """`0.058s` → 58 (ms); sub-millisecond digits are dropped."""
    match = _DURATION.fullmatch(text)
    if match is None or match["sign"]:
        raise InvalidParameterValue(
            f"Invalid value for parameter '{field}' supplied: '{text}' is not a non-negative duration like '1.5s'"
        )
    fraction = (match["fraction"] or "").ljust(3, "0")[:3]
    return int(match["seconds"]) * 1000 + int(fraction)


def format_duration(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}s"
