"""The scoring server: each input format answered, each kind of bad input a 400 that says what was expected."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.models.helpers import ServerProcess, free_port, start_server, subprocess_env
from tracklet.models import crate, load_model, save_model
from tracklet.models.scoring import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory, elasticnet: Any, wine: Any) -> Path:
    predictor = crate(lambda x, model: model.predict(x), model=elasticnet)
    return save_model(predictor, tmp_path_factory.mktemp("scoring") / "model", input_example=wine.X_train.head(3))


@pytest.fixture(scope="module")
def http(model_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(load_model(model_path))) as c:
        yield c


@pytest.fixture
def rows(wine: Any) -> pd.DataFrame:
    return wine.X_test.head(5)


@pytest.fixture
def expected(elasticnet: Any, rows: pd.DataFrame) -> list[float]:
    return list(elasticnet.predict(rows))


def predictions(response: httpx.Response) -> list[float]:
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


def test_ping_and_health(http: TestClient) -> None:
    assert http.get("/ping").status_code == 200
    assert http.get("/health").status_code == 200


def test_dataframe_split(http: TestClient, rows: pd.DataFrame, expected: list[float]) -> None:
    body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}
    assert predictions(http.post("/invocations", json=body)) == expected


def test_dataframe_records(http: TestClient, rows: pd.DataFrame, expected: list[float]) -> None:
    body = {"dataframe_records": rows.to_dict(orient="records")}
    assert predictions(http.post("/invocations", json=body)) == expected


def test_instances(http: TestClient, rows: pd.DataFrame, expected: list[float]) -> None:
    assert predictions(http.post("/invocations", json={"instances": rows.to_dict(orient="records")})) == expected


def test_inputs_as_rows_and_as_columns(http: TestClient, rows: pd.DataFrame, expected: list[float]) -> None:
    assert predictions(http.post("/invocations", json={"inputs": rows.to_numpy().tolist()})) == expected
    assert predictions(http.post("/invocations", json={"inputs": rows.to_dict(orient="list")})) == expected


def test_csv(http: TestClient, rows: pd.DataFrame, expected: list[float]) -> None:
    response = http.post("/invocations", content=rows.to_csv(index=False), headers={"content-type": "text/csv"})
    np.testing.assert_allclose(predictions(response), expected, rtol=1e-12)


def assert_400_naming_the_signature(response: httpx.Response, *fragments: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'alcohol': double" in body["message"]  # what the signature expects
    for fragment in fragments:
        assert fragment in body["message"]


def test_wrong_columns_get_a_400(http: TestClient, rows: pd.DataFrame) -> None:
    body = {"dataframe_records": rows.rename(columns={"alcohol": "alcool"}).to_dict(orient="records")}
    assert_400_naming_the_signature(http.post("/invocations", json=body), "missing columns 'alcohol'")


def test_wrong_types_get_a_400(http: TestClient, rows: pd.DataFrame) -> None:
    body = {"dataframe_records": rows.assign(pH="low").to_dict(orient="records")}
    assert_400_naming_the_signature(http.post("/invocations", json=body), "column 'pH' holds string values")


def test_malformed_json_gets_a_400(http: TestClient) -> None:
    response = http.post("/invocations", content=b'{"dataframe_split": [', headers={"content-type": "application/json"})
    assert_400_naming_the_signature(response, "not valid JSON")


def test_json_without_a_known_key_gets_a_400(http: TestClient, rows: pd.DataFrame) -> None:
    response = http.post("/invocations", json={"data": rows.to_numpy().tolist()})
    assert_400_naming_the_signature(response, "exactly one of dataframe_split, dataframe_records, instances, inputs")


def test_a_malformed_dataframe_split_gets_a_400(http: TestClient) -> None:
    response = http.post("/invocations", json={"dataframe_split": {"columns": ["a"], "data": 3}})
    assert_400_naming_the_signature(response, "dataframe_split could not be read")


def test_unsupported_content_type_gets_a_400(http: TestClient, rows: pd.DataFrame) -> None:
    response = http.post("/invocations", content=rows.to_csv(), headers={"content-type": "text/plain"})
    assert_400_naming_the_signature(response, "unsupported content type 'text/plain'")


def test_csv_with_wrong_columns_gets_a_400(http: TestClient, rows: pd.DataFrame) -> None:
    body = rows.drop(columns="density").to_csv(index=False)
    response = http.post("/invocations", content=body, headers={"content-type": "text/csv"})
    assert_400_naming_the_signature(response, "missing columns 'density'")


@pytest.fixture(scope="module")
def serving(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`tracklet models serve` as a real process on a free port."""
    port = free_port()
    cmd = [sys.executable, "-m", "tracklet.models.cli", "serve", "-m", str(model_path), "--port", str(port)]
    server = start_server(cmd, port, tmp_path_factory.mktemp("serve") / "serve.log", ready_path="/ping", timeout=60)
    yield server
    server.stop()


def test_the_served_model_scores_10000_rows_well_under_a_second(
    serving: ServerProcess, wine: Any, elasticnet: Any
) -> None:
    data = pd.concat([wine.X_test] * 9, ignore_index=True).head(10_000)
    body = json.dumps({"dataframe_split": {"columns": list(data.columns), "data": data.to_numpy().tolist()}})
    headers = {"content-type": "application/json"}
    with httpx.Client(base_url=serving.url, timeout=30) as http:
        http.post("/invocations", content=body, headers=headers)  # warm up
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            response = http.post("/invocations", content=body, headers=headers)
            timings.append(time.perf_counter() - started)
    got = predictions(response)
    assert len(got) == 10_000
    np.testing.assert_array_equal(got, elasticnet.predict(data))
    print(f"10,000 rows: best {min(timings) * 1000:.0f} ms, worst {max(timings) * 1000:.0f} ms")
    assert min(timings) < 0.5


def test_predict_command_scores_a_csv_file(model_path: Path, tmp_path: Path, wine: Any, elasticnet: Any) -> None:
    source, out = tmp_path / "in.csv", tmp_path / "out.json"
    wine.X_test.to_csv(source, index=False)
    cmd = [
        sys.executable,
        "-m",
        "tracklet.models.cli",
        "predict",
        "-m",
        str(model_path),
        "-i",
        str(source),
        "-o",
        str(out),
    ]
    subprocess.run(cmd, check=True, env=subprocess_env(), capture_output=True)
    np.testing.assert_allclose(json.loads(out.read_text())["predictions"], elasticnet.predict(wine.X_test), rtol=1e-12)


def test_predict_command_reports_bad_input(model_path: Path, tmp_path: Path, wine: Any) -> None:
    source = tmp_path / "in.csv"
    wine.X_test.drop(columns="pH").to_csv(source, index=False)
    cmd = [sys.executable, "-m", "tracklet.models.cli", "predict", "-m", str(model_path), "-i", str(source)]
    result = subprocess.run(cmd, check=False, env=subprocess_env(), capture_output=True, text=True)
    assert result.returncode == 1
    assert "missing columns 'pH'" in result.stderr and "Traceback" not in result.stderr
