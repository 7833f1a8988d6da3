"""Label schemas, review queues and issues, the same requests sent to `mlflow server` (the pinned MLflow, SQLite)
and to `tracklet server` (SQLite, then PostgreSQL) in the same order: every answer must be MLflow's, in
status, error code, message and body, once the ids and times each server made itself are named alike.

The requests walk the happy paths and the errors (missing fields, bad enums, limits, reserved names,
duplicates, unknown ids, frozen questions, traces of another experiment). `KNOWN_DIFFERENCES` lists where
tracklet answers otherwise on purpose.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import mlflow
import pytest

from tests.support.processes import MlflowServer, TrackletServer

LS = "/api/3.0/mlflow/label-schemas"
RQ = "/api/3.0/mlflow/review-queues"
ISSUES = "/api/3.0/mlflow/issues"
_TIME_KEYS = {
    "created_at",
    "last_updated_at",
    "creation_time_ms",
    "last_update_time_ms",
    "completed_time_ms",
    "created_timestamp",
    "last_updated_timestamp",
}
_ID = re.compile(r"\b(?:ls|rq|tr|iss)-[0-9a-f]{32}\b")
_SET = re.compile(r"\{('[^']*'(?:, '[^']*')*)\}")
_KINDS = {"ls": "schema", "rq": "queue", "tr": "trace", "iss": "issue"}


class Side:
    """One server, and the names given to the ids it made (`ls-…` → `<schema 1>`), so that two servers'
    answers compare."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60)
        self.names: dict[str, str] = {}

    def name(self, value: str, kind: str) -> str:
        return self.names.setdefault(
            value, f"<{kind} {sum(v.startswith(f'<{kind}') for v in self.names.values()) + 1}>"
        )

    def real(self, text: str) -> str:
        """A request's placeholders (`<queue 1>`) as this server's ids."""
        for value, placeholder in self.names.items():
            text = text.replace(placeholder, value)
        return text

    def normalized(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: "<time>" if k in _TIME_KEYS else self.normalized(v) for k, v in value.items()}
            # Both servers sort these by id, and items made at once by id too: ids each made at random.
            if isinstance(out.get("schema_ids"), list):
                out["schema_ids"] = sorted(out["schema_ids"])
            if isinstance(out.get("items"), list) and "next_page_token" not in value:
                out["items"] = sorted(out["items"], key=lambda item: item["item_id"])
            if isinstance(out.get("issues"), list) and "next_page_token" not in value:  # made in one ms: by id
                out["issues"] = sorted(out["issues"], key=lambda issue: (issue.get("severity", ""), issue["name"]))
            return out
        if isinstance(value, list):
            return [self.normalized(v) for v in value]
        if isinstance(value, str):
            # Python sets in MLflow's messages ({'=', '!='}) print in an order that changes run to run.
            value = _SET.sub(lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", value)
            for found in _ID.findall(value):
                kind = _KINDS[found.split("-")[0]]
                value = value.replace(found, self.name(found, kind))
            return value
        return value

    def send(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        filled, path = _fill(self, body), self.real(path)
        if method == "GET":
            response = self.http.get(path, params=filled)
        else:
            response = self.http.request(method, path, json=filled)
        try:
            payload = response.json()
        except ValueError:  # MLflow's 500s are HTML pages
            return response.status_code, {"not JSON": response.text[:60]}
        payload.pop("sqlstate", None)  # MLflow's extra error fields, not in its protocol's error shape
        payload.pop("error_class", None)
        if payload.get("next_page_token") == "":
            payload.pop("next_page_token")
        if str(payload.get("message", "")).startswith("Invalid page token"):
            payload["message"] = "Invalid page token"  # tracklet's tokens are its own, and so are their messages
        return response.status_code, self.normalized(payload)


def _fill(side: Side, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _fill(side, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(side, v) for v in value]
    return side.real(value) if isinstance(value, str) else value


def _traces(side: Side, experiment_id: str, count: int) -> None:
    """`count` traces in the experiment, named `<trace n>` in the order made."""
    mlflow.set_tracking_uri(side.url)
    mlflow.set_experiment(experiment_id=experiment_id)

    @mlflow.trace
    def step(i: int) -> int:
        return i

    for i in range(count):
        step(i)
        trace_id = mlflow.get_last_active_trace_id()
        assert trace_id is not None
        side.name(trace_id, "trace")
    mlflow.flush_trace_async_logging()


def _prepare(side: Side) -> None:
    """Two experiments ("1", "2" on both: fresh servers) with traces, and a deleted third."""
    for name in ("first", "second", "deleted"):
        answer = side.http.post("/api/2.0/mlflow/experiments/create", json={"name": name}).json()
        side.names[answer["experiment_id"]] = f"<experiment {name}>"
    _traces(side, side.real("<experiment first>"), 3)
    _traces(side, side.real("<experiment second>"), 1)
    side.http.post("/api/2.0/mlflow/experiments/delete", json={"experiment_id": side.real("<experiment deleted>")})
    time.sleep(0.5)  # the traces' async export


E1, E2, GONE = "<experiment first>", "<experiment second>", "<experiment deleted>"
TEXT = {"text": {}}

# (method, path, body): in order; each id a placeholder for what the servers made before.
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    # -- label schemas: made --------------------------------------------------------------------------------
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "correct?", "type": "FEEDBACK",
                             "input": {"pass_fail": {"positive_label": "Yes", "negative_label": "No"}},
                             "instruction": "Check it.", "enable_comment": True}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "tone", "type": "EXPECTATION",
                             "input": {"categorical": {"options": ["calm", "rude"], "multi_select": True}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "score", "type": "FEEDBACK",
                             "input": {"numeric": {"min_value": 0, "max_value": 10.5}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "notes", "type": 2, "input": {"text": {"max_length": 20}}}),
    ("POST", f"{LS}/create", {"experiment_id": E2, "name": "elsewhere", "type": "FEEDBACK", "input": TEXT}),
    # -- label schemas: refused -------------------------------------------------------------------------------
    ("POST", f"{LS}/create", {"name": "x", "type": "FEEDBACK", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "type": "FEEDBACK", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "", "type": "FEEDBACK", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "BOGUS", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": 7, "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK"}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK", "input": {}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "correct?", "type": "FEEDBACK", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": " Feedback", "type": "FEEDBACK", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "n" * 251, "type": "FEEDBACK", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK", "input": TEXT, "instruction": "i" * 1001}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK",
                             "input": {"pass_fail": {"positive_label": "Same", "negative_label": "Same"}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK", "input": {"pass_fail": {"positive_label": "Yes"}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK",
                             "input": {"pass_fail": {"positive_label": "y" * 65, "negative_label": "n"}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK", "input": {"categorical": {}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK",
                             "input": {"categorical": {"options": [str(i) for i in range(11)]}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK", "input": {"categorical": {"options": ["a", "a"]}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK", "input": {"categorical": {"options": ["a", ""]}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK",
                             "input": {"numeric": {"min_value": 5, "max_value": 5}}}),
    ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK", "input": {"text": {"max_length": 0}}}),
    ("POST", f"{LS}/create", {"experiment_id": "987654", "name": "x", "type": "FEEDBACK", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": "abc", "name": "x", "type": "FEEDBACK", "input": TEXT}),
    ("POST", f"{LS}/create", {"experiment_id": GONE, "name": "x", "type": "FEEDBACK", "input": TEXT}),
    # -- label schemas: read, listed, changed, deleted ----------------------------------------------------
    ("GET", f"{LS}/get", {"schema_id": "<schema 1>"}),
    ("GET", f"{LS}/get", {"schema_id": "ls-nope"}),
    ("GET", f"{LS}/get", {}),
    ("GET", f"{LS}/get-by-name", {"experiment_id": E1, "name": "tone"}),
    ("GET", f"{LS}/get-by-name", {"experiment_id": E1, "name": "TONE"}),
    ("GET", f"{LS}/get-by-name", {"experiment_id": E2, "name": "tone"}),
    ("GET", f"{LS}/get-by-name", {"experiment_id": "987654", "name": "tone"}),
    ("GET", f"{LS}/list", {"experiment_id": E1, "max_results": 0}),
    ("GET", f"{LS}/list", {"experiment_id": E1, "max_results": 50001}),
    ("GET", f"{LS}/list", {"experiment_id": "987654"}),
    ("GET", f"{LS}/list", {"experiment_id": GONE}),
    ("GET", f"{LS}/list", {}),
    ("PATCH", f"{LS}/update", {"schema_id": "<schema 2>", "name": "Tone", "instruction": "Pick all that fit.",
                              "input": {"categorical": {"options": ["calm", "rude", "dry"], "multi_select": True}}}),
    ("PATCH", f"{LS}/update", {"schema_id": "<schema 2>", "input": {"categorical": {"options": ["calm"]}}}),
    ("PATCH", f"{LS}/update", {"schema_id": "<schema 2>", "input": TEXT}),
    ("PATCH", f"{LS}/update", {"schema_id": "<schema 2>", "name": "score"}),
    ("PATCH", f"{LS}/update", {"schema_id": "<schema 2>", "name": "feedback"}),
    ("PATCH", f"{LS}/update", {"schema_id": "<schema 2>", "name": ""}),
    ("PATCH", f"{LS}/update", {"schema_id": "<schema 3>", "enable_comment": True}),
    ("PATCH", f"{LS}/update", {"schema_id": "ls-nope", "name": "y"}),
    ("PATCH", f"{LS}/update", {"name": "y"}),
    ("DELETE", f"{LS}/delete", {"schema_id": "<schema 4>"}),
    ("DELETE", f"{LS}/delete", {"schema_id": "<schema 4>"}),
    ("GET", f"{LS}/get", {"schema_id": "<schema 4>"}),
    ("DELETE", f"{LS}/delete", {}),
    # The listing makes the default question (`<schema 6>`: the fifth made is `elsewhere`).
    ("GET", f"{LS}/list", {"experiment_id": E1}),
    ("GET", f"{LS}/list", {"experiment_id": E1, "max_results": 2}),
    ("PATCH", f"{LS}/update", {"schema_id": "<schema 6>", "instruction": "mine"}),
    ("DELETE", f"{LS}/delete", {"schema_id": "<schema 6>"}),
    # -- review queues: made and refused ------------------------------------------------------------------
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": " Triage ", "queue_type": "CUSTOM",
                             "users": [" Bob", "bob", "ann"], "schema_ids": ["<schema 1>", " <schema 2>"]}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "triage", "queue_type": "CUSTOM"}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "x"}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "x", "queue_type": "NOPE"}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "", "queue_type": "CUSTOM"}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "  ", "queue_type": "CUSTOM"}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "Default", "queue_type": "CUSTOM"}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "q" * 251, "queue_type": "CUSTOM"}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "x", "queue_type": "CUSTOM", "users": [str(i) for i in range(11)]}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "x", "queue_type": "CUSTOM", "users": [" "]}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "x", "queue_type": "CUSTOM", "schema_ids": ["<schema 5>"]}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "x", "queue_type": "CUSTOM", "schema_ids": ["s" * 37]}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "bob", "queue_type": "USER", "users": ["ann"]}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "bob", "queue_type": "USER", "schema_ids": ["<schema 1>"]}),
    ("POST", f"{RQ}/create", {"experiment_id": "987654", "name": "x", "queue_type": "CUSTOM"}),
    ("POST", f"{RQ}/create", {"experiment_id": GONE, "name": "x", "queue_type": "CUSTOM"}),
    ("POST", f"{RQ}/get-or-create-user", {"experiment_id": E1, "user": " Carol "}),
    ("POST", f"{RQ}/get-or-create-user", {"experiment_id": E1, "user": "CAROL"}),
    ("POST", f"{RQ}/get-or-create-user", {"experiment_id": E1, "user": "TRIAGE"}),
    ("POST", f"{RQ}/get-or-create-user", {"experiment_id": E1}),
    ("POST", f"{RQ}/get-or-create-user", {"experiment_id": E1, "user": "   "}),
    # -- review queues: read and listed ---------------------------------------------------------------------
    ("GET", f"{RQ}/get", {"queue_id": "<queue 1>"}),
    ("GET", f"{RQ}/get", {"queue_id": "rq-nope"}),
    ("GET", f"{RQ}/get", {}),
    ("GET", f"{RQ}/get-by-name", {"experiment_id": E1, "name": "TRIAGE"}),
    ("GET", f"{RQ}/get-by-name", {"experiment_id": E1, "name": "nobody"}),
    ("GET", f"{RQ}/list", {"experiment_id": E1}),
    ("GET", f"{RQ}/list", {"experiment_id": E1, "user": "BOB"}),
    ("GET", f"{RQ}/list", {"experiment_id": E1, "max_results": 1}),
    ("GET", f"{RQ}/list", {"experiment_id": E1, "max_results": 0}),
    ("GET", f"{RQ}/list", {"experiment_id": "987654"}),
    # -- items ----------------------------------------------------------------------------------------------
    ("POST", f"{RQ}/items/add", {"queue_id": "<queue 1>", "item_ids": ["<trace 1>", " <trace 2> ", "<trace 1>"]}),
    ("POST", f"{RQ}/items/add", {"queue_id": "<queue 1>", "item_ids": ["<trace 4>"]}),
    ("POST", f"{RQ}/items/add", {"queue_id": "<queue 1>", "item_ids": ["tr-nope", "<trace 3>"]}),
    ("POST", f"{RQ}/items/add", {"queue_id": "<queue 1>", "item_ids": []}),
    ("POST", f"{RQ}/items/add", {"queue_id": "<queue 1>", "item_ids": [" "]}),
    ("POST", f"{RQ}/items/add", {"queue_id": "<queue 1>", "item_ids": ["i" * 51]}),
    ("POST", f"{RQ}/items/add", {"queue_id": "<queue 1>", "item_ids": ["<trace 3>"], "item_type": 5}),
    ("POST", f"{RQ}/items/add", {"queue_id": "rq-nope", "item_ids": ["<trace 3>"]}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "item_id": "<trace 1>", "status": "COMPLETE", "completed_by": " Ann "}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "item_id": "<trace 1>", "status": "COMPLETE", "completed_by": "bob"}),
    ("POST", f"{RQ}/items/add", {"queue_id": "<queue 1>", "item_ids": ["<trace 1>", "<trace 3>"], "item_type": "TRACE"}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "item_id": "<trace 2>", "status": "DECLINED"}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "item_id": "<trace 2>", "status": "PENDING", "completed_by": "x"}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "item_id": "<trace 2>"}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "item_id": "<trace 2>", "status": "DONE"}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "item_id": "tr-zz", "status": "PENDING"}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "status": "PENDING"}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "item_id": "<trace 2>", "status": "DECLINED", "completed_by": "b" * 251}),
    ("GET", f"{RQ}/items/list", {"queue_id": "<queue 1>", "status": "COMPLETE"}),
    ("GET", f"{RQ}/items/list", {"queue_id": "<queue 1>", "status": "PENDING"}),
    ("GET", f"{RQ}/items/list", {"queue_id": "<queue 1>", "status": "NOPE"}),
    ("GET", f"{RQ}/items/list", {"queue_id": "rq-nope"}),
    ("GET", f"{RQ}/list", {"experiment_id": E1, "item_id": "<trace 1>"}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 1>", "item_id": "<trace 1>", "status": "PENDING"}),
    # -- updates --------------------------------------------------------------------------------------------
    ("POST", f"{RQ}/update", {"queue_id": "<queue 1>", "update_schema_ids": True, "schema_ids": []}),
    ("POST", f"{RQ}/update", {"queue_id": "<queue 1>", "update_users": True, "users": ["Zed", "amy"],
                             "new_owner": " Boss ", "name": "Triage 2"}),
    ("POST", f"{RQ}/update", {"queue_id": "<queue 1>", "name": "CAROL"}),
    ("POST", f"{RQ}/update", {"queue_id": "<queue 1>", "name": "default"}),
    ("POST", f"{RQ}/update", {"queue_id": "<queue 1>", "new_owner": "  "}),
    ("POST", f"{RQ}/update", {"queue_id": "<queue 1>"}),
    ("POST", f"{RQ}/update", {"queue_id": "<queue 2>", "update_users": True, "users": ["dan"]}),
    ("POST", f"{RQ}/update", {"queue_id": "rq-nope", "name": "y"}),
    ("POST", f"{RQ}/items/remove", {"queue_id": "<queue 1>", "item_ids": ["<trace 2>", "tr-never"]}),
    ("POST", f"{RQ}/items/remove", {"queue_id": "<queue 1>", "item_ids": []}),
    ("POST", f"{RQ}/items/remove", {"queue_id": "rq-nope", "item_ids": ["x"]}),
    ("GET", f"{RQ}/items/list", {"queue_id": "<queue 1>"}),
    ("GET", f"{RQ}/items/list", {"queue_id": "<queue 1>", "max_results": 1}),
    ("POST", f"{RQ}/create", {"experiment_id": E1, "name": "empty", "queue_type": "CUSTOM"}),
    ("POST", f"{RQ}/update", {"queue_id": "<queue 3>", "update_schema_ids": True, "schema_ids": ["<schema 3>", "<schema 3>"]}),
    ("POST", f"{RQ}/delete", {"queue_id": "<queue 1>"}),
    ("POST", f"{RQ}/delete", {"queue_id": "<queue 1>"}),
    ("GET", f"{RQ}/items/list", {"queue_id": "<queue 1>"}),
    ("POST", f"{RQ}/delete", {}),
    ("GET", f"{RQ}/list", {"experiment_id": E1}),
    # -- issues ---------------------------------------------------------------------------------------------
    ("POST", ISSUES, {"experiment_id": E1, "name": "slow", "description": "Over 2 s.", "severity": "medium",
                      "root_causes": ["cache"], "categories": ["latency", "infra"], "created_by": "discovery"}),
    ("POST", ISSUES, {"experiment_id": E1, "name": "wrong", "description": "Made up.", "severity": "high", "status": "pending"}),
    ("POST", ISSUES, {"experiment_id": E1, "name": "vague", "description": "Unclear."}),
    ("POST", ISSUES, {"experiment_id": E2, "name": "elsewhere", "description": "d", "status": "resolved"}),
    ("POST", ISSUES, {"experiment_id": E1, "name": "n"}),
    ("POST", ISSUES, {"experiment_id": E1, "description": "d"}),
    ("POST", ISSUES, {"experiment_id": E1, "name": "", "description": "d"}),
    ("POST", ISSUES, {"name": "n", "description": "d"}),
    ("POST", ISSUES, {"experiment_id": "987654", "name": "n", "description": "d"}),
    ("POST", ISSUES, {"experiment_id": GONE, "name": "n", "description": "d"}),
    ("GET", f"{ISSUES}/<issue 1>", {}),
    ("GET", f"{ISSUES}/iss-nope", {}),
    ("PATCH", f"{ISSUES}/<issue 1>", {"issue_id": "<issue 1>", "status": "resolved", "name": "slower", "severity": "low"}),
    ("PATCH", f"{ISSUES}/<issue 3>", {"issue_id": "<issue 3>", "name": "", "description": "clearer"}),
    ("PATCH", f"{ISSUES}/<issue 3>", {"name": "no id in the body"}),
    ("PATCH", f"{ISSUES}/iss-nope", {"issue_id": "iss-nope", "name": "x"}),
    ("POST", f"{ISSUES}/search", {"experiment_id": E1}),
    ("POST", f"{ISSUES}/search", {"experiment_id": E1, "include_trace_count": True}),
    ("POST", f"{ISSUES}/search", {}),
    ("POST", f"{ISSUES}/search", {"experiment_id": E1, "max_results": 1}),
    ("POST", f"{ISSUES}/search", {"experiment_id": E1, "filter_string": "status = 'resolved'"}),
    ("POST", f"{ISSUES}/search", {"filter_string": "status != 'resolved' AND status = 'pending'"}),
    ("POST", f"{ISSUES}/search", {"filter_string": "name = 'x'"}),
    ("POST", f"{ISSUES}/search", {"filter_string": "status > 'x'"}),
    ("POST", f"{ISSUES}/search", {"filter_string": "status = 'x' OR status = 'y'"}),
    ("POST", f"{ISSUES}/search", {"max_results": 0}),
    ("POST", f"{ISSUES}/search", {"max_results": 50001}),
    ("POST", f"{ISSUES}/search", {"experiment_id": "abc"}),
    ("POST", f"{ISSUES}/search", {"page_token": "bad"}),
    ("POST", ISSUES, {"experiment_id": E1, "name": "n", "description": "d", "root_causes": [], "categories": []}),
    # -- a deleted experiment, odd enums and tokens -----------------------------------------------------------
    ("GET", f"{RQ}/get-by-name", {"experiment_id": GONE, "name": "x"}),
    ("GET", f"{RQ}/list", {"experiment_id": GONE}),
    ("GET", f"{LS}/get-by-name", {"experiment_id": GONE, "name": "x"}),
    ("POST", f"{RQ}/get-or-create-user", {"experiment_id": GONE, "user": "x"}),
    ("GET", f"{RQ}/items/list", {"queue_id": "<queue 2>", "max_results": 50001}),
    ("POST", f"{RQ}/items/set-status", {"queue_id": "<queue 2>", "item_id": "x", "status": 9}),
    ("GET", f"{LS}/list", {"experiment_id": E1, "page_token": "bad"}),
    ("GET", f"{RQ}/list", {"experiment_id": E1, "page_token": "bad"}),
]  # fmt: skip

# Where tracklet answers otherwise on purpose: the request, and why.
_DIFFERENT: list[tuple[tuple[str, str, dict[str, Any]], str]] = [
    (
        ("POST", ISSUES, {"experiment_id": E1, "name": "n", "description": "d", "status": "bogus"}),
        "MLflow fails with a 500 (an HTML page) on a status it does not know; tracklet: 400, the allowed values",
    ),
    (
        ("PATCH", f"{ISSUES}/<issue 2>", {"issue_id": "<issue 2>", "severity": "huge"}),
        "MLflow fails with a 500 on a severity it does not know; tracklet: 400, the allowed values",
    ),
    (
        ("POST", ISSUES, {"experiment_id": E1, "name": "n", "description": "d", "source_run_id": "nope"}),
        "MLflow answers BAD_REQUEST with the database's foreign key error (its SQL); tracklet: "
        "INVALID_PARAMETER_VALUE, the run does not exist",
    ),
    (
        ("POST", f"{LS}/create", {"experiment_id": E1, "name": "x", "type": "FEEDBACK", "input": {"text": {}, "numeric": {}}}),
        "MLflow keeps one of two widgets without a word; tracklet refuses: a schema is one widget",
    ),
]  # fmt: skip
KNOWN_DIFFERENCES: dict[int, str] = {len(REQUESTS) + i: why for i, (_, why) in enumerate(_DIFFERENT)}
REQUESTS += [request for request, _ in _DIFFERENT]


@pytest.fixture(scope="module")
def answers(
    server: TrackletServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[tuple[tuple[int, Any], tuple[int, Any]]]]:
    """Every request's answer from a fresh MLflow server and from tracklet (fresh too: its module's)."""
    mlflow_server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    try:
        sides = Side(mlflow_server.url), Side(server.url)
        for side in sides:
            _prepare(side)
        yield [tuple(side.send(*request) for side in sides) for request in REQUESTS]  # type: ignore[misc]
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow_server.stop()


@pytest.mark.parametrize(
    "index",
    range(len(REQUESTS)),
    ids=[f"{i}-{m} {p.rsplit('/', 2)[-2]}/{p.rsplit('/', 1)[-1]}" for i, (m, p, _) in enumerate(REQUESTS)],
)
def test_tracklet_answers_as_mlflow_does(answers: list[tuple[Any, Any]], index: int) -> None:
    expected, got = answers[index]
    if index in KNOWN_DIFFERENCES:
        assert got != expected, f"no longer differs: {KNOWN_DIFFERENCES[index]}"
        assert got[0] == 400 and got[1]["error_code"] == "INVALID_PARAMETER_VALUE", got
        return
    assert got == expected, REQUESTS[index]
