"""A saved model loads in a brand-new virtual environment that holds only tracklet and the
requirements the model recorded (no mlflow, nothing else from this one)."""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tracklet.models import crate, save_model

REPO = Path(__file__).resolve().parents[2]

SCORE = """
import json, sys
import numpy as np, pandas as pd
import tracklet
model = tracklet.load_model(sys.argv[1])
X_test = pd.read_json(sys.argv[2], orient="split")
try:
    import mlflow  # noqa: F401
    has_mlflow = True
except ImportError:
    has_mlflow = False
print(json.dumps({"predictions": np.asarray(model.predict(X_test)).tolist(), "has_mlflow": has_mlflow}))
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_saved_model_loads_where_only_tracklet_and_its_requirements_are_installed(
    tmp_path: Path, elasticnet: Any, wine: Any
) -> None:
    path = tmp_path / "model"
    save_model(
        crate(lambda x, model: model.predict(x), model=elasticnet), str(path), input_example=wine.X_train.head(3)
    )
    requirements = [
        line.strip()
        for line in (path / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "tracklet"))  # tracklet comes from this checkout
    ]
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(REPO), *requirements],
        capture_output=True, text=True, timeout=800,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]

    data = tmp_path / "x_test.json"
    wine.X_test.to_json(data, orient="split", double_precision=15)
    scored = subprocess.run(
        [str(python), "-c", SCORE, str(path), str(data)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert scored.returncode == 0, scored.stderr
    answer = json.loads(scored.stdout.strip().splitlines()[-1])
    assert answer["has_mlflow"] is False
    # The inputs crossed a JSON file (pandas keeps 15 digits), hence 1e-9 rather than exact equality.
    np.testing.assert_allclose(answer["predictions"], elasticnet.predict(wine.X_test), rtol=0, atol=1e-9)
