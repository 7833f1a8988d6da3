"""Model folders: saved in MLflow's format, loaded back by path, with signatures and requirements."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.models.helpers import subprocess_env
from tracklet.models import RequirementsMismatchWarning, SchemaError, crate, load_model, save_model


@pytest.fixture
def saved(tmp_path: Path, elasticnet: Any, wine: Any) -> Path:
    predictor = crate(lambda x, model: model.predict(x), model=elasticnet)
    return save_model(predictor, tmp_path / "model", input_example=wine.X_train.head(3))


def test_the_folder_holds_mlflow_format_files(saved: Path) -> None:
    assert {p.name for p in saved.iterdir()} == {
        "MLmodel", "crate.pkl", "requirements.txt", "python_env.yaml", "input_example.json",
        "serving_input_example.json",
    }  # fmt: skip
    mlmodel = yaml.safe_load((saved / "MLmodel").read_text())
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "tracklet.models.loading"
    assert mlmodel["flavors"]["tracklet"]["objects"]["model"].endswith("ElasticNet")
    assert mlmodel["model_size_bytes"] == mlmodel["flavors"]["tracklet"]["size_bytes"] > 0
    assert "scikit-learn==" in (saved / "requirements.txt").read_text()
    assert yaml.safe_load((saved / "python_env.yaml").read_text())["dependencies"] == ["-r requirements.txt"]


def test_the_signature_is_inferred_from_the_example(saved: Path, wine: Any) -> None:
    signature = yaml.safe_load((saved / "MLmodel").read_text())["signature"]
    inputs = json.loads(signature["inputs"])
    assert [c["name"] for c in inputs] == list(wine.X_train.columns)
    assert {c["type"] for c in inputs} == {"double"}
    assert json.loads(signature["outputs"]) == [{"type": "double", "required": True}]
    example = json.loads((saved / "input_example.json").read_text())
    assert example["columns"] == list(wine.X_train.columns) and len(example["data"]) == 3


def test_predict_takes_a_dataframe_an_array_or_records(saved: Path, elasticnet: Any, wine: Any) -> None:
    model = load_model(saved)
    expected = elasticnet.predict(wine.X_test)
    np.testing.assert_array_equal(model.predict(wine.X_test), expected)
    np.testing.assert_array_equal(model.predict(wine.X_test.to_numpy()), expected)
    np.testing.assert_array_equal(model.predict(wine.X_test.to_dict(orient="records")), expected)
    np.testing.assert_array_equal(model(wine.X_test), expected)  # the crate, called as is


def test_predict_refuses_input_that_does_not_fit_the_signature(saved: Path, wine: Any) -> None:
    model = load_model(saved)
    with pytest.raises(SchemaError, match="missing columns 'alcohol'"):
        model.predict(wine.X_test.drop(columns="alcohol"))
    with pytest.raises(SchemaError, match="column 'pH' holds string values but double was expected"):
        model.predict(wine.X_test.assign(pH="acid"))


def test_integer_columns_are_widened_to_double(saved: Path, wine: Any) -> None:
    model = load_model(saved)
    rounded = wine.X_test.round().astype("int64")
    assert len(model.predict(rounded)) == len(rounded)


def test_a_plain_function_and_an_estimator_are_wrapped(tmp_path: Path, elasticnet: Any, wine: Any) -> None:
    save_model(lambda x: len(x), tmp_path / "fn")
    assert load_model(tmp_path / "fn")([1, 2, 3]) == 3
    save_model(elasticnet, tmp_path / "est", input_example=wine.X_train.head(2))
    np.testing.assert_array_equal(load_model(tmp_path / "est").predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_a_numpy_example_gives_a_tensor_signature(tmp_path: Path) -> None:
    save_model(crate(lambda x: x.sum(axis=1)), tmp_path / "m", input_example=np.ones((2, 3)))
    model = load_model(tmp_path / "m")
    assert model.signature is not None and model.signature.inputs is not None
    assert model.signature.inputs.tensor is not None and model.signature.inputs.tensor.shape == (-1, 3)
    np.testing.assert_array_equal(model.predict([[1, 2, 3]]), [6.0])
    with pytest.raises(SchemaError, match=r"shape \(any, 3\)"):
        model.predict(np.ones((2, 4)))


def test_a_requirement_mismatch_warns_naming_the_differences(saved: Path) -> None:
    mlmodel = yaml.safe_load((saved / "MLmodel").read_text())
    requirements = mlmodel["flavors"]["tracklet"]["requirements"]
    requirements["scikit-learn"] = "0.0.1"
    requirements["no-such-package-xyz"] = "1.0"
    (saved / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.warns(RequirementsMismatchWarning) as caught:
        load_model(saved)
    message = str(caught[0].message)
    assert "scikit-learn==0.0.1 (installed " in message
    assert "no-such-package-xyz==1.0 (not installed)" in message


def test_a_matching_environment_loads_without_warning(saved: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RequirementsMismatchWarning)
        load_model(saved)


def test_a_tracklet_model_loads_with_mlflow_pyfunc(saved: Path, elasticnet: Any, wine: Any) -> None:
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(saved))
    np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))
    assert model.metadata.get_input_schema().input_names() == list(wine.X_test.columns)


def test_an_mlflow_sklearn_model_loads_with_tracklet(tmp_path: Path, elasticnet: Any, wine: Any) -> None:
    import mlflow.sklearn

    mlflow.sklearn.save_model(elasticnet, str(tmp_path / "sk"), input_example=wine.X_train.head(2))
    model = load_model(tmp_path / "sk")
    np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_an_mlflow_model_without_mlflow_installed_says_so(tmp_path: Path, elasticnet: Any) -> None:
    import mlflow.sklearn

    mlflow.sklearn.save_model(elasticnet, str(tmp_path / "sk"))
    script = (
        "import sys; sys.modules['mlflow'] = None\n"  # as if mlflow were not installed
        "from tracklet.models import load_model\n"
        f"load_model({str(tmp_path / 'sk')!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=subprocess_env()
    )
    assert result.returncode != 0
    assert "was saved by MLflow (loader mlflow.sklearn); loading it needs mlflow: pip install mlflow" in result.stderr


class Doubler:
    def __call__(self, x: Any) -> Any:
        return [2 * v for v in x]


def test_a_callable_object_is_wrapped(tmp_path: Path) -> None:
    save_model(Doubler(), tmp_path / "obj")
    assert load_model(tmp_path / "obj")([1, 2]) == [2, 4]
