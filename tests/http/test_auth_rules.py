"""Every endpoint of the API has its rule in `server/auth/rules.py`: a new endpoint without one would be
for admins only, and would fail here first."""

from __future__ import annotations

from starlette.routing import Route

from tracklet.server import monitoring
from tracklet.server.api import tokens, users, webhooks
from tracklet.server.app import api_routes
from tracklet.server.auth.rules import ADMIN, RULES
from tracklet.server.ui import ui_routes


def test_every_endpoint_has_a_rule() -> None:
    routes = [
        *api_routes(),
        *ui_routes(),
        *users.routes,
        *tokens.routes,
        Route(monitoring.METRICS_PATH, monitoring.metrics),
    ]
    missing = sorted(
        {
            f"{r.path} ({r.endpoint.__module__}.{r.endpoint.__name__})"
            for r in routes
            if isinstance(r, Route) and r.endpoint not in RULES
        }
    )
    assert missing == []
    # Admins-only endpoints check that themselves (users.py), but for webhooks, which are all for admins
    # (as in MLflow's basic-auth app).
    assert {endpoint for endpoint, rule in RULES.items() if rule == ADMIN} == set(webhooks.ENDPOINTS)


def test_only_the_probes_answer_without_credentials() -> None:
    public = sorted(endpoint.__name__ for endpoint, rule in RULES.items() if rule.public)
    assert public == ["health", "metrics"]
