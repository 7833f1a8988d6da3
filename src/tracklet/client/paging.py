"""Searches that follow the pages of an answer, and the checks of their arguments (one place for all of them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from tracklet import errors

__all__ = ["SEARCH_PAGE_SIZE", "VIEW_TYPES", "all_pages", "filter_arg", "logged_model_order_by", "order_by_arg",
           "post_pages", "view_type_name"]  # fmt: skip

SEARCH_PAGE_SIZE = 1000  # items asked for a page (MLflow's fluent searches ask 1,000; every server allows it)
VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")  # MLflow's ViewType 1, 2, 3
T = TypeVar("T")


def view_type_name(view_type: str | int) -> str:
    """A view type by name: "ACTIVE_ONLY", "DELETED_ONLY" or "ALL" (any case), or MLflow's `ViewType` (1, 2, 3)."""
    if isinstance(view_type, int) and not isinstance(view_type, bool) and 1 <= view_type <= len(VIEW_TYPES):
        return VIEW_TYPES[view_type - 1]
    if isinstance(view_type, str) and view_type.upper() in VIEW_TYPES:
        return view_type.upper()
    raise errors.InvalidParameterValue(
        f"view_type must be one of {', '.join(VIEW_TYPES)} (or MLflow's ViewType), not {view_type!r}"
    )


def all_pages(page: Callable[[int, str | None], tuple[list[T], str | None]], max_results: int | None) -> list[T]:
    """Call `page(size, token)` until the last page or `max_results` items (None: no limit)."""
    if max_results is not None and (
        not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1
    ):
        raise errors.InvalidParameterValue(f"max_results must be a positive integer or None, not {max_results!r}")
    out: list[T] = []
    token: str | None = None
    while max_results is None or len(out) < max_results:
        size = SEARCH_PAGE_SIZE if max_results is None else min(SEARCH_PAGE_SIZE, max_results - len(out))
        items, token = page(size, token)
        out += items
        if not token:
            break
    return out if max_results is None else out[:max_results]


def post_pages(
    post: Callable[[str, dict[str, Any]], dict[str, Any]],
    path: str,
    base: dict[str, Any],
    key: str,
    entity: type[T],
    max_results: int | None,
) -> list[T]:
    """A POST search (`base` is its body without paging) followed page by page: the items under `key`
    of each answer, read as `entity`."""

    def page(size: int, token: str | None) -> tuple[list[T], str | None]:
        body = post(path, {**base, "max_results": size, **({"page_token": token} if token else {})})
        return [msgspec.convert(item, entity) for item in body.get(key, [])], body.get("next_page_token")

    return all_pages(page, max_results)


def filter_arg(filter_string: str | None) -> str:
    if filter_string is not None and not isinstance(filter_string, str):
        raise errors.InvalidParameterValue(f"filter_string must be a string, not {type(filter_string).__name__}")
    return filter_string or ""


def order_by_arg(order_by: Sequence[str] | None) -> list[str]:
    if isinstance(order_by, str) or not all(isinstance(o, str) for o in order_by or []):
        raise errors.InvalidParameterValue(
            f"order_by must be a list of strings such as ['name DESC'], not {order_by!r}"
        )
    return list(order_by or [])


def logged_model_order_by(order_by: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    if isinstance(order_by, str) or not all(isinstance(o, Mapping) and "field_name" in o for o in order_by or []):
        raise errors.InvalidParameterValue(
            "order_by of logged models is a list of dicts such as "
            f"[{{'field_name': 'metrics.rmse', 'ascending': True}}], not {order_by!r}"
        )
    return [dict(o) for o in order_by or []]
