"""crate(): a function with the objects it needs, refused when it reaches for anything else."""

from __future__ import annotations

import pickle
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.models.helpers import subprocess_env
from tracklet.models import Crate, CrateError, crate

THRESHOLD = 0.5  # a session variable crates must not reach for


def test_calling_a_crate_calls_the_function_with_its_objects(elasticnet: Any, wine: Any) -> None:
    predictor = crate(lambda x, model: model.predict(x), model=elasticnet)
    np.testing.assert_array_equal(predictor(wine.X_test), elasticnet.predict(wine.X_test))


def test_a_free_variable_is_refused_by_name() -> None:
    def make() -> Crate:
        scale = 2.0
        return crate(lambda x: x * scale)

    with pytest.raises(CrateError, match="scale"):
        make()


def test_a_session_global_is_refused_by_name() -> None:
    with pytest.raises(CrateError, match="THRESHOLD"):
        crate(lambda x: x > THRESHOLD)


def test_a_global_used_in_a_nested_function_is_refused() -> None:
    def predict(x: Any) -> Any:
        def above(v: float) -> bool:
            return v > THRESHOLD

        return [above(v) for v in x]

    with pytest.raises(CrateError, match="THRESHOLD"):
        crate(predict)


def test_imported_modules_and_builtins_are_allowed() -> None:
    root = crate(lambda x: np.sqrt(abs(x)))
    assert root(-16.0) == 4.0


def test_objects_must_match_the_parameters(elasticnet: Any) -> None:
    with pytest.raises(CrateError, match="no parameter named modle"):
        crate(lambda x, model: model.predict(x), modle=elasticnet)
    with pytest.raises(CrateError, match="needs model"):
        crate(lambda x, model: model.predict(x))


def test_a_crate_reports_its_size(elasticnet: Any) -> None:
    predictor = crate(lambda x, model: model.predict(x), model=elasticnet)
    assert predictor.size_bytes <= len(predictor.dumps())  # the pickle also holds the requirements
    assert 500 < predictor.size_bytes < 20_000
    assert "kB" in repr(predictor)


def test_a_crate_records_python_and_the_packages_of_its_objects(elasticnet: Any) -> None:
    import cloudpickle
    import sklearn

    predictor = crate(lambda x, model: model.predict(x), model=elasticnet)
    assert predictor.python_version == platform.python_version()
    assert predictor.requirements["scikit-learn"] == sklearn.__version__
    assert predictor.requirements["numpy"] == np.__version__
    assert predictor.requirements["cloudpickle"] == cloudpickle.__version__
    assert "tracklet" in predictor.requirements
    assert not {"os", "sys", "builtins", "copyreg"} & set(predictor.requirements)


def test_a_crate_survives_pickling(elasticnet: Any, wine: Any) -> None:
    predictor = crate(lambda x, model: model.predict(x), model=elasticnet)
    again = pickle.loads(predictor.dumps())
    np.testing.assert_array_equal(again(wine.X_test), predictor(wine.X_test))
    assert again.requirements == predictor.requirements


def test_a_function_from_the_users_own_module_travels_by_value(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "my_predictors.py").write_text("import math\n\ndef root(x):\n    return math.sqrt(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_predictors  # type: ignore[import-not-found]

    payload = crate(my_predictors.root).dumps()
    (tmp_path / "my_predictors.py").unlink()  # gone, as on another machine
    script = "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read())(16.0))"
    result = subprocess.run(
        [sys.executable, "-c", script], input=payload, capture_output=True, check=True, env=subprocess_env()
    )
    assert result.stdout.strip() == b"4.0"
