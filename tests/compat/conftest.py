"""Helpers for the compatibility suite: the official MLflow client against a real `tracklet server`.

The `server` fixture is shared by all tests of a module, so every test works in experiments
whose names it owns (`unique_name`) and never assumes the store is empty.
"""

from __future__ import annotations

import uuid

import pytest


def unique_name(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def experiment_id(mlflow_client) -> str:  # type: ignore[no-untyped-def]
    """A fresh experiment, also made the fluent API's active experiment."""
    import mlflow

    name = unique_name("test")
    exp_id = mlflow_client.create_experiment(name)
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def error_code(excinfo: pytest.ExceptionInfo) -> str:  # type: ignore[type-arg]
    return excinfo.value.error_code  # type: ignore[no-any-return]


def traced(experiment_id: str, count: int) -> list[str]:
    """Ids of `count` new traces in the experiment, recorded by the official client's `@mlflow.trace`."""
    import mlflow

    @mlflow.trace
    def answer(question: str) -> str:
        return question.upper()

    mlflow.set_experiment(experiment_id=experiment_id)
    ids = []
    for i in range(count):
        answer(f"q{i}")
        ids.append(mlflow.get_last_active_trace_id())
    mlflow.flush_trace_async_logging()
    return ids  # type: ignore[return-value]
