"""MLflow 3's registered scorers through the official client: `Scorer.register` numbers versions,
`list_scorers` gives each scorer's latest, `get_scorer` a version or the latest, `delete_scorer` one
version or all. Built-in judges register without calling any model (none runs here)."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.genai.scorers import Guidelines, delete_scorer, get_scorer, list_scorers, scorer

from tests.compat.conftest import error_code


def test_registered_scorers_are_versioned_listed_read_and_deleted(mlflow_client, experiment_id):
    first = Guidelines(name="polite", guidelines="Be polite.").register(experiment_id=experiment_id)
    assert first.name == "polite"
    Guidelines(name="polite", guidelines="Be very polite.").register(experiment_id=experiment_id)
    Guidelines(name="brief", guidelines="Be brief.").register(experiment_id=experiment_id)

    listed = list_scorers(experiment_id=experiment_id)
    assert [(s.name, s.guidelines) for s in listed] == [("brief", "Be brief."), ("polite", "Be very polite.")]
    assert get_scorer(name="polite", experiment_id=experiment_id).guidelines == "Be very polite."
    assert get_scorer(name="polite", experiment_id=experiment_id, version=1).guidelines == "Be polite."
    with pytest.raises(MlflowException) as caught:
        get_scorer(name="polite", experiment_id=experiment_id, version=3)
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"

    delete_scorer(name="polite", experiment_id=experiment_id, version=2)
    assert get_scorer(name="polite", experiment_id=experiment_id).guidelines == "Be polite."
    Guidelines(name="polite", guidelines="Be kind.").register(experiment_id=experiment_id)  # version 2 again
    assert get_scorer(name="polite", experiment_id=experiment_id, version=2).guidelines == "Be kind."
    delete_scorer(name="polite", experiment_id=experiment_id, version="all")
    assert [s.name for s in list_scorers(experiment_id=experiment_id)] == ["brief"]
    with pytest.raises(MlflowException) as caught:
        get_scorer(name="polite", experiment_id=experiment_id)
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"


def test_scorers_belong_to_their_experiment(mlflow_client, experiment_id):
    other = mlflow_client.create_experiment("scorers-elsewhere-" + experiment_id)
    Guidelines(name="polite", guidelines="Here.").register(experiment_id=experiment_id)
    Guidelines(name="polite", guidelines="There.").register(experiment_id=other)
    assert get_scorer(name="polite", experiment_id=other).guidelines == "There."
    assert [s.guidelines for s in list_scorers(experiment_id=experiment_id)] == ["Here."]
    mlflow_client.delete_experiment(other)
    with pytest.raises(MlflowException) as caught:
        get_scorer(name="polite", experiment_id=other)
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"  # a deleted experiment's scorers are out of reach
    with pytest.raises(MlflowException) as caught:
        list_scorers(experiment_id="987654321")
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"


def test_a_decorated_scorer_is_refused_as_mlflow_refuses_it(mlflow_client, experiment_id):
    @scorer
    def exact(outputs, expectations):  # type: ignore[no-untyped-def]
        return outputs == expectations["answer"]

    # Against a server the client leaves the decision to it (its own check is for local stores only).
    with pytest.raises(MlflowException, match="Custom scorer registration") as caught:
        exact.register(experiment_id=experiment_id)
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    assert list_scorers(experiment_id=experiment_id) == []
