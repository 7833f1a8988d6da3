"""Keyset ("seek") paging: a page token holds the sort values of the last row handed out, and the
next page is the rows that come after that row in the search's order.

Each page is then a range that starts where the previous page ended (an index range scan for the
default order) instead of an OFFSET that reads and sorts every earlier row again; and runs created
or deleted between two requests no longer shift the later pages, so no row is seen twice or skipped
because of them.

A sort is a list of `SortTerm`s whose last term is unique (the id). A sort value is NULL only right
after a "missing last" rank term that already gathers every NULL of that column into one group: such
a term is constant among rows that tie on the terms before it, so it is left out of the comparison.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, or_

from tracklet.errors import InvalidParameterValue
from tracklet.store.search import decode_page_token, read_page_token

__all__ = ["Position", "SortTerm", "after", "decode_token", "encode_token", "sort_id"]

TOKEN_VERSION = 2
_INT64 = 2**63

# An OFFSET (the first page, tokens of tracklet before keyset paging, and MLflow's own tokens) or
# the sort values of the last row of the previous page.
Position = int | tuple[Any, ...]


@dataclass(frozen=True)
class SortTerm:
    """One ORDER BY expression and what a page token may hold for it."""

    expr: ColumnElement[Any]
    ascending: bool
    kind: Literal["int", "float", "str"]

    def ordering(self) -> Any:
        return self.expr.asc() if self.ascending else self.expr.desc()

    def beyond(self, value: Any) -> ColumnElement[bool]:
        return self.expr > value if self.ascending else self.expr < value

    def reached(self, value: Any) -> ColumnElement[bool]:
        return self.expr >= value if self.ascending else self.expr <= value


def after(terms: Sequence[SortTerm], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that come after the row with these sort values in the order of `terms`:
    `t1 > v1 OR (t1 = v1 AND (t2 > v2 OR (t2 = v2 AND ...)))`, with `<` for descending terms."""
    present = [(t, v) for t, v in zip(terms, values, strict=True) if v is not None]
    term, value = present[-1]
    condition = term.beyond(value)
    for term, value in reversed(present[:-1]):
        condition = or_(term.beyond(value), and_(term.expr == value, condition))
    first, first_value = present[0]
    # Implied by the condition; as a plain range on the leading term it lets the database seek.
    return and_(first.reached(first_value), condition)


def sort_id(*parts: object) -> str:
    """A short fingerprint of a sort: a token is only taken back by a search with the same sort."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def encode_token(sort: str, values: Sequence[Any]) -> str:
    """An opaque token for the page after the row with these sort values."""
    payload = {"v": TOKEN_VERSION, "sort": sort, "after": list(values)}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode_token(token: str | None, sort: str, terms: Sequence[SortTerm]) -> Position:
    """Where a page token points for a search sorted by `terms` (fingerprint `sort`): an offset for
    no token (0) and for OFFSET tokens, else the sort values of the last row already seen."""
    payload = read_page_token(token)
    if payload is None or "offset" in payload:
        return decode_page_token(token)
    if payload.get("v") != TOKEN_VERSION or not isinstance(payload.get("after"), list):
        raise InvalidParameterValue(f"Invalid page token '{token}'. It could not be decoded.")
    if payload.get("sort") != sort:
        raise InvalidParameterValue(
            f"Invalid page token '{token}'. It continues a search with another order_by; "
            "pass the order_by of the search that returned it."
        )
    values: list[Any] = payload["after"]
    if len(values) != len(terms) or values[-1] is None:
        raise InvalidParameterValue(f"Invalid page token '{token}'. It could not be decoded.")
    return tuple(_checked(token, term, value) for term, value in zip(terms, values, strict=True))


def _checked(token: str | None, term: SortTerm, value: Any) -> Any:
    # Values of the wrong type would reach the database as bind parameters: refuse them here.
    if value is None:
        return None
    if isinstance(value, bool):
        pass
    elif term.kind == "str" and isinstance(value, str):
        return value
    elif term.kind == "int" and isinstance(value, int) and -_INT64 <= value < _INT64:
        return value
    elif term.kind == "float" and isinstance(value, int | float):
        number = float(value) if isinstance(value, float) or abs(value) < 2**1000 else math.inf
        if math.isfinite(number):
            return number
    raise InvalidParameterValue(f"Invalid page token '{token}'. It could not be decoded.")
