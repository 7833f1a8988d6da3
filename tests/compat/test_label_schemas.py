"""MLflow 3's label schemas through the official client (`mlflow.genai.label_schemas`): made, read by id
and by name, listed (with the experiment's default question), changed and deleted, on both backends."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.genai.label_schemas import (
    InputCategorical,
    InputNumeric,
    InputPassFail,
    InputText,
    create_label_schema,
    delete_label_schema,
    get_label_schema,
    list_label_schemas,
    update_label_schema,
)

from tests.compat.conftest import error_code


def test_label_schemas_are_made_read_listed_changed_and_deleted(mlflow_client, experiment_id):
    correct = create_label_schema(
        "Is the answer correct?",
        type="feedback",
        input=InputPassFail(positive_label="Correct", negative_label="Incorrect"),
        instruction="Check it against the source.",
        enable_comment=True,
        experiment_id=experiment_id,
    )
    assert correct.schema_id.startswith("ls-") and correct.experiment_id == experiment_id
    assert correct.input == InputPassFail(positive_label="Correct", negative_label="Incorrect")
    assert (correct.type, correct.instruction, correct.enable_comment, correct.is_default) == (
        "feedback",
        "Check it against the source.",
        True,
        False,
    )
    assert correct.created_at == correct.updated_at and correct.created_at > 0
    tone = create_label_schema(
        "tone",
        type="expectation",
        input=InputCategorical(options=["calm", "rude"], multi_select=True),
        experiment_id=experiment_id,
    )
    score = create_label_schema(
        "score", type="feedback", input=InputNumeric(min_value=0, max_value=10.5), experiment_id=experiment_id
    )
    notes = create_label_schema("notes", type="expectation", input=InputText(), experiment_id=experiment_id)

    assert get_label_schema(schema_id=tone.schema_id) == tone
    assert get_label_schema("score", experiment_id=experiment_id) == score
    assert get_label_schema(schema_id=notes.schema_id).input == InputText(max_length=None)

    listed = list_label_schemas(experiment_id=experiment_id)
    default = listed[-1] if listed[-1].is_default else listed[0]
    assert (default.name, default.type, default.input, default.is_default) == (
        "Feedback",
        "feedback",
        InputText(),
        True,
    )
    assert default.instruction == "Share any feedback on this trace."
    assert {s.name for s in listed} == {"Feedback", "Is the answer correct?", "tone", "score", "notes"}
    assert listed.token is None
    # Newest first; pages of two.
    first = list_label_schemas(experiment_id=experiment_id, max_results=2)
    second = list_label_schemas(experiment_id=experiment_id, max_results=2, page_token=first.token)
    third = list_label_schemas(experiment_id=experiment_id, max_results=2, page_token=second.token)
    assert [s.schema_id for s in [*first, *second, *third]] == [s.schema_id for s in listed]
    assert third.token is None

    changed = update_label_schema(
        tone.schema_id,
        name="Tone",
        instruction="Pick all that fit.",
        input=InputCategorical(["calm", "rude", "dry"], True),
    )
    assert (changed.name, changed.instruction, changed.input.options) == (
        "Tone",
        "Pick all that fit.",
        ["calm", "rude", "dry"],
    )
    assert changed.updated_at >= tone.updated_at and changed.created_at == tone.created_at
    assert get_label_schema("Tone", experiment_id=experiment_id) == changed

    delete_label_schema(schema_id=score.schema_id)
    with pytest.raises(MlflowException) as caught:
        get_label_schema(schema_id=score.schema_id)
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
    delete_label_schema(schema_id=score.schema_id)  # gone already: nothing happens, as in MLflow


def test_label_schema_rules_are_mlflows(mlflow_client, experiment_id):
    made = create_label_schema("q", type="feedback", input=InputText(max_length=20), experiment_id=experiment_id)
    with pytest.raises(MlflowException, match="already exists") as caught:
        create_label_schema("q", type="expectation", input=InputText(), experiment_id=experiment_id)
    assert error_code(caught) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException, match="reserved") as caught:
        create_label_schema("FEEDBACK", type="feedback", input=InputText(), experiment_id=experiment_id)
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="input type cannot be changed") as caught:
        update_label_schema(made.schema_id, input=InputNumeric())
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    other = create_label_schema("r", type="feedback", input=InputText(), experiment_id=experiment_id)
    with pytest.raises(MlflowException) as caught:
        update_label_schema(other.schema_id, name="q")
    assert error_code(caught) == "RESOURCE_ALREADY_EXISTS"

    default = next(s for s in list_label_schemas(experiment_id=experiment_id) if s.is_default)
    with pytest.raises(MlflowException, match="cannot be edited") as caught:
        update_label_schema(default.schema_id, instruction="mine now")
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="cannot be deleted") as caught:
        delete_label_schema(schema_id=default.schema_id)
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    # Listing again does not make a second default question.
    assert sum(s.is_default for s in list_label_schemas(experiment_id=experiment_id)) == 1

    mlflow_client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException) as caught:
        create_label_schema("s", type="feedback", input=InputText(), experiment_id=experiment_id)
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as caught:
        list_label_schemas(experiment_id=experiment_id)
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
