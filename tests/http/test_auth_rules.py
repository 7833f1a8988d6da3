"""Every endpoint of the API has its rule in `server/auth/rules.py`: a new endpoint without one would be
for admins only, and would fail here first."""

from __future__ import annotations

from starlette.routing import Route

from tracklet.permissions import Permission
from tracklet.server import monitoring
from tracklet.server.api import tokens, users, webhooks, workspaces
from tracklet.server.app import api_routes
from tracklet.server.auth.rules import RULES
from tracklet.server.ui import ui_routes


def all_routes() -> list[Route]:
    routes = [
        *api_routes(),
        *ui_routes(),
        *users.routes,
        *tokens.routes,
        Route(monitoring.METRICS_PATH, monitoring.metrics),
    ]
    return [route for route in routes if isinstance(route, Route)]


def test_every_endpoint_has_a_rule() -> None:
    routes = all_routes()
    missing = sorted(
        {f"{r.path} ({r.endpoint.__module__}.{r.endpoint.__name__})" for r in routes if r.endpoint not in RULES}
    )
    assert missing == []
    # Admins-only endpoints check that themselves (users.py), but for webhooks, which are all for admins,
    # and changes to workspaces (as in MLflow's basic-auth app).
    admins_only = {*webhooks.ENDPOINTS, *workspaces.ADMIN_ENDPOINTS}
    assert {endpoint for endpoint, rule in RULES.items() if rule.admin} == admins_only


def test_only_the_probes_answer_without_credentials() -> None:
    public = sorted(endpoint.__name__ for endpoint, rule in RULES.items() if rule.public)
    assert public == ["health", "metrics"]


def test_what_a_read_only_token_may_call_is_what_changes_nothing() -> None:
    # An endpoint that creates, or that needs EDIT, writes; one only GET reaches does not (if it were marked
    # as writing, read-only tokens would be refused what they are for).
    for endpoint, rule in RULES.items():
        if any(need.level == Permission.EDIT for need in rule.needs) or rule.grant_created:
            assert rule.writes, endpoint.__qualname__
    for route in all_routes():
        if route.methods and route.methods <= {"GET", "HEAD"}:
            assert not RULES[route.endpoint].writes, route.path
    searches = [endpoint for endpoint in RULES if "search" in endpoint.__name__]
    assert len(searches) >= 7 and not any(RULES[e].writes for e in searches)  # a POST search reads too
