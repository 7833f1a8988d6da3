"""MLflow 3's issues through the official client: made and read as `mlflow.genai.discover_issues` makes
and reads them (`TracingClient`), traces tied to them with `mlflow.log_issue`, updated and searched
through the client's REST store (MLflow has no public function for those yet), on both backends."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.entities.issue import IssueSeverity, IssueStatus
from mlflow.exceptions import MlflowException
from mlflow.tracing.client import TracingClient

from tests.compat.conftest import error_code, traced


def test_issues_are_made_read_updated_and_searched(mlflow_client, experiment_id):
    client = TracingClient()
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    slow = client._create_issue(
        experiment_id,
        "Slow answers",
        "Answers take over 2 s.",
        severity=IssueSeverity.MEDIUM,
        root_causes=["cold cache"],
        source_run_id=run_id,
        categories=["latency", "infra"],
        created_by="discovery",
    )
    assert slow.issue_id.startswith("iss-") and slow.experiment_id == experiment_id
    assert (slow.status, slow.severity, slow.root_causes, slow.categories) == (
        IssueStatus.PENDING,
        IssueSeverity.MEDIUM,
        ["cold cache"],
        ["latency", "infra"],
    )
    assert (slow.source_run_id, slow.created_by) == (run_id, "discovery")
    assert client._get_issue(slow.issue_id) == slow
    wrong = client._create_issue(experiment_id, "Wrong facts", "Made-up numbers.", severity=IssueSeverity.HIGH)
    vague = client._create_issue(experiment_id, "Vague", "Unclear answers.")

    first, second, third = traced(experiment_id, 3)
    for trace_id in (first, second):
        mlflow.log_issue(trace_id=trace_id, issue_id=slow.issue_id)
    mlflow.log_issue(trace_id=third, issue_id=wrong.issue_id)

    store = client.store
    found = store.search_issues(experiment_id=experiment_id)
    assert [i.name for i in found] == ["Wrong facts", "Slow answers", "Vague"]  # by severity, none last
    assert all(i.trace_count is None for i in found)
    counted = store.search_issues(experiment_id=experiment_id, include_trace_count=True)
    assert [(i.name, i.trace_count) for i in counted] == [("Wrong facts", 1), ("Slow answers", 2), ("Vague", 0)]
    page = store.search_issues(experiment_id=experiment_id, max_results=2)
    rest = store.search_issues(experiment_id=experiment_id, max_results=2, page_token=page.token)
    assert [i.name for i in [*page, *rest]] == ["Wrong facts", "Slow answers", "Vague"] and rest.token is None

    resolved = store.update_issue(slow.issue_id, status=IssueStatus.RESOLVED, name="Slow", severity=IssueSeverity.LOW)
    assert (resolved.name, resolved.status, resolved.severity, resolved.description) == (
        "Slow",
        IssueStatus.RESOLVED,
        IssueSeverity.LOW,
        "Answers take over 2 s.",
    )
    assert resolved.last_updated_timestamp >= slow.last_updated_timestamp
    assert [i.name for i in store.search_issues(experiment_id=experiment_id, filter_string="status = 'resolved'")] == [
        "Slow"
    ]
    pending = store.search_issues(experiment_id=experiment_id, filter_string="status != 'resolved'")
    assert [i.issue_id for i in pending] == [wrong.issue_id, vague.issue_id]
    by_run = store.search_issues(filter_string=f"source_run_id = '{run_id}' AND status = 'resolved'")
    assert [i.issue_id for i in by_run] == [slow.issue_id]


def test_issue_errors_are_mlflows(mlflow_client, experiment_id):
    client = TracingClient()
    with pytest.raises(MlflowException) as caught:
        client._get_issue("iss-" + "0" * 32)
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as caught:
        client.store.update_issue("iss-nope", name="x")
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException, match="Invalid filter field") as caught:
        client.store.search_issues(filter_string="name = 'x'")
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    mlflow_client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException) as caught:
        client._create_issue(experiment_id, "n", "d")
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
