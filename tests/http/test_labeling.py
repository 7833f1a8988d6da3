"""Label schemas and review queues over plain HTTP: the `/ajax-api/` copies, input MLflow's server would
take but tracklet refuses (and says why), bad bodies answered in MLflow's error shape, and `--auth`
(a schema or queue is its experiment's; owners and reviewers are who asks)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.http.conftest import ADMIN, error, new_experiment, ok

LS = "/api/3.0/mlflow/label-schemas"
RQ = "/api/3.0/mlflow/review-queues"
TEXT = {"text": {}}


def schema(api: httpx.Client, experiment_id: str, name: str = "ok?", **fields: object) -> dict:  # type: ignore[type-arg]
    body = {"experiment_id": experiment_id, "name": name, "type": "FEEDBACK", "input": TEXT, **fields}
    return ok(api.post(f"{LS}/create", json=body))["label_schema"]  # type: ignore[no-any-return]


def test_the_ajax_api_answers_as_the_api_does(api):
    experiment_id = new_experiment(api)
    made = ok(
        api.post(
            "/ajax-api/3.0/mlflow/label-schemas/create",
            json={"experiment_id": experiment_id, "name": "q", "type": "EXPECTATION", "input": TEXT},
        )
    )["label_schema"]
    assert ok(api.get(f"{LS}/get", params={"schema_id": made["schema_id"]}))["label_schema"] == made
    body = {"experiment_id": experiment_id, "name": "team", "queue_type": "CUSTOM"}
    queue = ok(api.post("/ajax-api/3.0/mlflow/review-queues/create", json=body))["review_queue"]
    listed = ok(api.get("/ajax-api/3.0/mlflow/review-queues/list", params={"experiment_id": experiment_id}))
    assert listed["review_queues"] == [queue]


def test_a_schema_answers_mlflows_fields(api):
    experiment_id = new_experiment(api)
    made = schema(api, experiment_id, input={"numeric": {"min_value": -1.5}}, instruction="How good?")
    assert made == {
        "schema_id": made["schema_id"],
        "experiment_id": experiment_id,
        "name": "ok?",
        "type": "FEEDBACK",
        "instruction": "How good?",
        "enable_comment": False,
        "input": {"numeric": {"min_value": -1.5}},
        "created_at": made["created_at"],
        "last_updated_at": made["created_at"],
        "is_default": False,
    }
    assert made["schema_id"].startswith("ls-") and len(made["schema_id"]) == 35


@pytest.mark.parametrize(
    ("widget", "message"),
    [
        # MLflow keeps one of several widgets without a word; a schema is one widget.
        ({"text": {}, "numeric": {}}, "exactly one of"),
        # JSON could not give these back.
        ({"numeric": {"min_value": "NaN"}}, "finite"),
        ({"numeric": {"max_value": "Infinity"}}, "finite"),
        ({"text": {"max_length": "many"}}, "input.text.max_length"),
        ({"categorical": {"options": "a"}}, "input.categorical.options"),
    ],
)
def test_widgets_mlflow_would_take_or_choke_on_are_refused(api, widget, message):
    experiment_id = new_experiment(api)
    body = {"experiment_id": experiment_id, "name": "x", "type": "FEEDBACK", "input": widget}
    assert message in error(api.post(f"{LS}/create", json=body), 400, "INVALID_PARAMETER_VALUE")
    assert [s["name"] for s in ok(api.get(f"{LS}/list", params={"experiment_id": experiment_id}))["label_schemas"]] == [
        "Feedback"
    ]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{LS}/create", {"experiment_id": 5, "name": "x", "type": "FEEDBACK", "input": TEXT}),
        (f"{LS}/create", {"experiment_id": "0", "name": ["x"], "type": "FEEDBACK", "input": TEXT}),
        (f"{LS}/create", {"experiment_id": "0", "name": "x", "type": {"a": 1}, "input": TEXT}),
        (f"{LS}/create", {"experiment_id": "0", "name": "x", "type": "FEEDBACK", "input": "text"}),
        (f"{RQ}/create", {"experiment_id": "0", "name": "x", "queue_type": "CUSTOM", "users": "ann"}),
        (f"{RQ}/create", {"experiment_id": "0", "name": "x", "queue_type": "CUSTOM", "users": [1]}),
        (f"{RQ}/items/add", {"queue_id": "rq-x", "item_ids": "tr-1"}),
        (f"{RQ}/items/set-status", {"queue_id": "rq-x", "item_id": 3, "status": "PENDING"}),
        (f"{RQ}/update", {"queue_id": "rq-x", "update_users": "yes please"}),
    ],
)
def test_fields_of_the_wrong_type_are_invalid_parameters(api, path, body):
    error(api.post(path, json=body), 400, "INVALID_PARAMETER_VALUE")


def test_a_body_that_is_not_json_is_refused(api):
    response = api.post(f"{RQ}/create", content=b"{not json", headers={"content-type": "application/json"})
    error(response, 400, "INVALID_PARAMETER_VALUE")
    error(api.post(f"{LS}/create", content=b"x=1"), 400, "INVALID_PARAMETER_VALUE")  # no JSON content type


def test_a_schema_renamed_keeps_its_queues_and_a_deleted_one_stays_named(api):
    experiment_id = new_experiment(api)
    made = schema(api, experiment_id)
    body = {"experiment_id": experiment_id, "name": "team", "queue_type": "CUSTOM", "schema_ids": [made["schema_id"]]}
    queue = ok(api.post(f"{RQ}/create", json=body))["review_queue"]
    ok(api.patch(f"{LS}/update", json={"schema_id": made["schema_id"], "name": "renamed"}))
    ok(api.request("DELETE", f"{LS}/delete", json={"schema_id": made["schema_id"]}))
    # As in MLflow: the queue keeps naming the schema (a soft reference).
    got = ok(api.get(f"{RQ}/get", params={"queue_id": queue["queue_id"]}))["review_queue"]
    assert got["schema_ids"] == [made["schema_id"]]


def test_with_auth_schemas_and_queues_are_their_experiments(guarded):
    with httpx.Client(base_url=guarded.url, auth=ADMIN, timeout=60) as admin:
        users = {}
        for role in ("reader", "editor", "manager"):
            users[role] = (f"{role[0]}{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
            ok(
                admin.post(
                    "/api/2.0/mlflow/users/create", json={"username": users[role][0], "password": users[role][1]}
                )
            )
        experiment_id, hidden = new_experiment(admin), new_experiment(admin)
        for role, level in (("reader", "READ"), ("editor", "EDIT"), ("manager", "MANAGE")):
            grant = {"experiment_id": experiment_id, "username": users[role][0], "permission": level}
            ok(admin.post("/api/2.0/mlflow/experiments/permissions/create", json=grant))
            grant = {"experiment_id": hidden, "username": users[role][0], "permission": "NO_PERMISSIONS"}
            ok(admin.post("/api/2.0/mlflow/experiments/permissions/create", json=grant))
        hidden_schema = schema(admin, hidden)
    clients = {
        role: httpx.Client(base_url=guarded.url, auth=credentials, timeout=60) for role, credentials in users.items()
    }
    reader, editor, manager = clients["reader"], clients["editor"], clients["manager"]
    try:
        body = {"experiment_id": experiment_id, "name": "q", "type": "FEEDBACK", "input": TEXT}
        # As in MLflow: an experiment's questions are made, changed and deleted by its managers.
        error(editor.post(f"{LS}/create", json=body), 403, "PERMISSION_DENIED")
        made = ok(manager.post(f"{LS}/create", json=body))["label_schema"]
        error(
            editor.patch(f"{LS}/update", json={"schema_id": made["schema_id"], "name": "r"}), 403, "PERMISSION_DENIED"
        )
        assert ok(reader.get(f"{LS}/get", params={"schema_id": made["schema_id"]}))["label_schema"] == made
        assert ok(reader.get(f"{LS}/list", params={"experiment_id": experiment_id}))["label_schemas"]
        error(reader.get(f"{LS}/get", params={"schema_id": hidden_schema["schema_id"]}), 403, "PERMISSION_DENIED")
        error(reader.get(f"{LS}/list", params={"experiment_id": hidden}), 403, "PERMISSION_DENIED")

        # A queue's owner is who made it, whatever the client says.
        body = {"experiment_id": experiment_id, "name": "team", "queue_type": "CUSTOM", "created_by": "someone-else"}
        error(reader.post(f"{RQ}/create", json=body), 403, "PERMISSION_DENIED")
        queue = ok(editor.post(f"{RQ}/create", json=body))["review_queue"]
        assert queue["created_by"] == users["editor"][0]
        error(
            editor.post(f"{RQ}/update", json={"queue_id": queue["queue_id"], "new_owner": "x"}),
            403,
            "PERMISSION_DENIED",
        )
        given = ok(manager.post(f"{RQ}/update", json={"queue_id": queue["queue_id"], "new_owner": "x"}))["review_queue"]
        assert given["created_by"] == "x"
        assert ok(reader.get(f"{RQ}/get", params={"queue_id": queue["queue_id"]}))["review_queue"]["name"] == "team"
        # As in MLflow: a custom queue may not take a user's name (it would pass for their own queue).
        shadow = {"experiment_id": experiment_id, "name": users["reader"][0].upper(), "queue_type": "CUSTOM"}
        assert "registered user" in error(editor.post(f"{RQ}/create", json=shadow), 400, "INVALID_PARAMETER_VALUE")
        rename = {"queue_id": queue["queue_id"], "name": users["reader"][0]}
        assert "renamed" in error(manager.post(f"{RQ}/update", json=rename), 400, "INVALID_PARAMETER_VALUE")
        own = {"experiment_id": experiment_id, "user": users["reader"][0]}
        error(reader.post(f"{RQ}/get-or-create-user", json=own), 403, "PERMISSION_DENIED")  # READ only
        assert ok(editor.post(f"{RQ}/get-or-create-user", json=own))["review_queue"]["queue_type"] == "USER"

        # A reviewer is who asks: the client's `completed_by` is not taken.
        with httpx.Client(base_url=guarded.url, auth=ADMIN, timeout=60) as admin:
            trace = {"trace": {"trace_info": {"trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}},
                                              "request_time": "2026-01-01T00:00:00Z", "state": "OK", "trace_id": "tr-" + uuid.uuid4().hex}}}  # fmt: skip
            trace_id = ok(admin.post("/api/3.0/mlflow/traces", json=trace))["trace"]["trace_info"]["trace_id"]
        added = ok(editor.post(f"{RQ}/items/add", json={"queue_id": queue["queue_id"], "item_ids": [trace_id]}))
        assert [i["status"] for i in added["items"]] == ["PENDING"]
        body = {"queue_id": queue["queue_id"], "item_id": trace_id, "status": "COMPLETE", "completed_by": "spoofed"}
        error(reader.post(f"{RQ}/items/set-status", json=body), 403, "PERMISSION_DENIED")
        done = ok(editor.post(f"{RQ}/items/set-status", json=body))["item"]
        assert done["completed_by"] == users["editor"][0]
        # Taking work out of a queue, or deleting it, is for managers.
        removal = {"queue_id": queue["queue_id"], "item_ids": [trace_id]}
        error(editor.post(f"{RQ}/items/remove", json=removal), 403, "PERMISSION_DENIED")
        error(editor.post(f"{RQ}/delete", json={"queue_id": queue["queue_id"]}), 403, "PERMISSION_DENIED")
        ok(manager.post(f"{RQ}/delete", json={"queue_id": queue["queue_id"]}))
    finally:
        for client in clients.values():
            client.close()


ISSUES = "/api/3.0/mlflow/issues"


def test_an_issue_answers_mlflows_fields_and_its_routes_take_the_path(api):
    experiment_id = new_experiment(api)
    body = {"experiment_id": experiment_id, "name": "slow", "description": "d", "categories": ["a"]}
    made = ok(api.post(ISSUES, json=body))["issue"]
    assert made == {
        "issue_id": made["issue_id"],
        "experiment_id": experiment_id,
        "name": "slow",
        "description": "d",
        "status": "pending",
        "created_timestamp": made["created_timestamp"],
        "last_updated_timestamp": made["created_timestamp"],
        "categories": ["a"],
    }
    assert ok(api.get(f"/ajax-api/3.0/mlflow/issues/{made['issue_id']}"))["issue"] == made
    # The path names the issue updated, whatever the body's `issue_id` says.
    other = ok(api.post(ISSUES, json={**body, "name": "other"}))["issue"]
    changed = ok(api.patch(f"{ISSUES}/{made['issue_id']}", json={"issue_id": other["issue_id"], "status": "rejected"}))
    assert changed["issue"]["issue_id"] == made["issue_id"] and changed["issue"]["status"] == "rejected"
    assert ok(api.get(f"{ISSUES}/{other['issue_id']}"))["issue"]["status"] == "pending"
    error(api.post(ISSUES, json={**body, "name": "n" * 251}), 400, "INVALID_PARAMETER_VALUE")
    error(api.post(f"{ISSUES}/search", json={"experiment_id": "abc"}), 400, "INVALID_PARAMETER_VALUE")
    error(api.post(f"{ISSUES}/search", json={"filter_string": "status = "}), 400, "INVALID_PARAMETER_VALUE")


def test_with_auth_issues_are_their_experiments(guarded):
    with httpx.Client(base_url=guarded.url, auth=ADMIN, timeout=60) as admin:
        reader = (f"r{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
        ok(admin.post("/api/2.0/mlflow/users/create", json={"username": reader[0], "password": reader[1]}))
        shared, hidden = new_experiment(admin), new_experiment(admin)
        grant = {"experiment_id": hidden, "username": reader[0], "permission": "NO_PERMISSIONS"}
        ok(admin.post("/api/2.0/mlflow/experiments/permissions/create", json=grant))
        seen = ok(admin.post(ISSUES, json={"experiment_id": shared, "name": "seen", "description": "d"}))["issue"]
        # Found by a run of the experiment the reader may not see: the issue is theirs to read, the run is not.
        hidden_run = ok(admin.post("/api/2.0/mlflow/runs/create", json={"experiment_id": hidden}))["run"]["info"][
            "run_id"
        ]
        body = {"experiment_id": shared, "name": "found", "description": "d", "source_run_id": hidden_run}
        found_by = ok(admin.post(ISSUES, json=body))["issue"]
        assert ok(admin.get(f"{ISSUES}/{found_by['issue_id']}"))["issue"]["source_run_id"] == hidden_run
        secret = ok(admin.post(ISSUES, json={"experiment_id": hidden, "name": "secret", "description": "d"}))["issue"]
    with httpx.Client(base_url=guarded.url, auth=reader, timeout=60) as as_reader:
        found = ok(as_reader.post(f"{ISSUES}/search", json={}))["issues"]
        ids = {i["issue_id"] for i in found}
        assert seen["issue_id"] in ids and secret["issue_id"] not in ids  # a search of all: only what they may read
        error(as_reader.post(f"{ISSUES}/search", json={"experiment_id": hidden}), 403, "PERMISSION_DENIED")
        error(as_reader.get(f"{ISSUES}/{secret['issue_id']}"), 403, "PERMISSION_DENIED")
        assert ok(as_reader.get(f"{ISSUES}/{seen['issue_id']}"))["issue"]["name"] == "seen"
        withheld = ok(as_reader.get(f"{ISSUES}/{found_by['issue_id']}"))["issue"]
        assert withheld["name"] == "found" and "source_run_id" not in withheld
        listed = ok(as_reader.post(f"{ISSUES}/search", json={"experiment_id": shared}))["issues"]
        assert [i.get("source_run_id") for i in listed if i["issue_id"] == found_by["issue_id"]] == [None]
        body = {"issue_id": seen["issue_id"], "status": "resolved"}
        error(as_reader.patch(f"{ISSUES}/{seen['issue_id']}", json=body), 403, "PERMISSION_DENIED")  # READ only
        error(
            as_reader.post(ISSUES, json={"experiment_id": shared, "name": "n", "description": "d"}),
            403,
            "PERMISSION_DENIED",
        )


def test_concurrent_first_calls_make_one_default_question_and_one_user_queue(api, server):
    from concurrent.futures import ThreadPoolExecutor

    experiment_id = new_experiment(api)

    def first_calls(_: int) -> tuple[str, str]:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            listed = ok(client.get(f"{LS}/list", params={"experiment_id": experiment_id}))["label_schemas"]
            body = {"experiment_id": experiment_id, "user": "Dana"}
            queue = ok(client.post(f"{RQ}/get-or-create-user", json=body))["review_queue"]
            return next(s["schema_id"] for s in listed if s["is_default"]), queue["queue_id"]

    with ThreadPoolExecutor(6) as pool:
        answers = set(pool.map(first_calls, range(12)))
    assert len(answers) == 1  # every caller got the same default question and the same queue
    listed = ok(api.get(f"{LS}/list", params={"experiment_id": experiment_id}))["label_schemas"]
    assert [s["name"] for s in listed] == ["Feedback"]
    assert len(ok(api.get(f"{RQ}/list", params={"experiment_id": experiment_id}))["review_queues"]) == 1
