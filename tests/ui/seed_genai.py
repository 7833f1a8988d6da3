"""Seed MLflow 3 evaluation datasets and registered scorers with the official client:
`python -m tests.ui.seed_genai <server url>`.

Runs in its own process (the client keeps its tracking URI and active experiment in module globals) and
prints one JSON object: {"experiment_id", "other_experiment_id", "datasets": {name: dataset id}}.

- 'qa-golden': 120 records (three pages of 50 in the UI), tags team=ml and stage=gold; record 1 has a
  long context (clipped in the table), record 2 outputs and a human source, record 3 a trace as its source.
- 'smoke-set': 3 records (one with a NaN), linked to 'ui-genai' and 'ui-genai-other'.
- 'empty-set': no records.
- Scorers of 'ui-genai': 'polite' (Guidelines, versions 1 and 2) and 'correctness' (make_judge, a model).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

EXPERIMENT = "ui-genai"
LONG_CONTEXT = "The quick brown fox jumps over the lazy dog. " * 40  # 1,800 characters
JUDGE_INSTRUCTIONS = "Is the answer in {{ outputs }} correct given {{ expectations }}? Answer yes or no."


def seed(url: str) -> dict[str, Any]:
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow
    from mlflow.genai.datasets import add_dataset_to_experiments, create_dataset
    from mlflow.genai.judges import make_judge
    from mlflow.genai.scorers import Guidelines

    mlflow.set_tracking_uri(url)
    experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
    other_id = mlflow.MlflowClient().create_experiment(EXPERIMENT + "-other")

    golden = create_dataset(name="qa-golden", experiment_id=experiment_id, tags={"team": "ml", "stage": "gold"})
    first = [
        {
            "inputs": {"question": "What does the fox do?", "context": LONG_CONTEXT},
            "expectations": {"answer": "jumps"},
        },
        {
            "inputs": {"question": "2+2?"},
            "outputs": {"answer": "4", "confidence": 0.99},
            "expectations": {"answer": "4"},
            "tags": {"difficulty": "easy"},
            "source": {"source_type": "HUMAN", "source_data": {"source_id": "ada"}},
        },
        {
            "inputs": {"question": "capital of France?"},
            "expectations": {"answer": "Paris", "facts": ["Paris is in France", "It is the capital"]},
            "source": {"source_type": "TRACE", "source_data": {"trace_id": "tr-0123456789abcdef"}},
        },
    ]
    golden.merge_records(first)
    golden.merge_records(
        [{"inputs": {"question": f"question number {i}?"}, "expectations": {"answer": str(i)}} for i in range(4, 121)]
    )

    smoke = create_dataset(name="smoke-set", experiment_id=experiment_id, tags={"team": "qa"})
    smoke.merge_records(
        [
            {"inputs": {"q": "hello"}},
            {"inputs": {"q": "bye"}, "expectations": {"polite": True}},
            {"inputs": {"q": "unknown", "score": float("nan")}},  # pandas' missing value: NaN is not JSON
        ]
    )
    add_dataset_to_experiments(smoke.dataset_id, [other_id])
    empty = create_dataset(name="empty-set", experiment_id=experiment_id)

    Guidelines(name="polite", guidelines="Be polite.").register(experiment_id=experiment_id)
    Guidelines(name="polite", guidelines="Be polite and brief.").register(experiment_id=experiment_id)
    make_judge(
        name="correctness", instructions=JUDGE_INSTRUCTIONS, model="openai:/gpt-4o-mini", feedback_value_type=bool
    ).register(experiment_id=experiment_id)
    return {
        "experiment_id": experiment_id,
        "other_experiment_id": other_id,
        "datasets": {"qa-golden": golden.dataset_id, "smoke-set": smoke.dataset_id, "empty-set": empty.dataset_id},
    }


if __name__ == "__main__":
    print(json.dumps(seed(sys.argv[1])))
