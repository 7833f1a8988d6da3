"""Which metric/param/tag names are accepted: names that could resolve to another path are refused
(MLflow treats names as file paths in places). A table, checked through the validator itself."""

from __future__ import annotations

import pytest

from tracklet.errors import InvalidParameterValue
from tracklet.validation import validate_key

ACCEPTED = ["a", "a/b", "loss", ".hidden", "a b:c-d_e.f", "train/loss/epoch", "x..y"]
REFUSED = ["a//b", "./a", "a/./b", "a/../b", "..", ".", "..a", "...", "/a", "a/", "a\\b"]


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_names(name: str) -> None:
    assert validate_key(name, "Metric") == name


@pytest.mark.parametrize("name", REFUSED)
def test_refused_names(name: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid metric name"):
        validate_key(name, "Metric")
