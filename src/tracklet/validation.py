"""MLflow's limits and key rules (reference §d.2), as plain functions raising InvalidParameterValue."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from tracklet.entities import DatasetInput
from tracklet.errors import InvalidParameterValue

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_TOTAL = 1000
MAX_SEARCH_RESULTS = 50000
MAX_BULK_INTERVAL_RUNS = 100  # metrics/get-history-bulk-interval: run_ids per request
MAX_BULK_INTERVAL_RESULTS = 2500  # ... and points per run (also the default)
# Datasets of runs/log-inputs.
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_LENGTH = 65535
MAX_DATASET_SCHEMA_LENGTH = 1024 * 1024 - 1
MAX_DATASET_PROFILE_LENGTH = 16 * 1024 * 1024 - 1
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500
# Stored instead of ±inf, as MLflow's SQL store does.
DOUBLE_MAX = 1.7976931348623157e308

_KEY_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")


def missing(field: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Missing value for required parameter '{field}'. "
        "See the API docs for more information about request parameters."
    )


def _see_docs(message: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"{message} See the API docs for more information about request parameters.")


def parse_query_int(value: str | None, field: str) -> int | None:
    """An integer query parameter, with MLflow's message for one that is not (an int64 here)."""
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not -(2**63) <= number < 2**63:
        raise _see_docs(f"Invalid value \"{value}\" for parameter '{field}' supplied:  Hint: Value was of type 'str'.")
    return number


class BulkInterval(NamedTuple):
    max_results: int
    start_step: int | None
    end_step: int | None


def validate_bulk_interval(
    run_ids: list[str], metric_key: str | None, start_step: str | None, end_step: str | None, max_results: str | None
) -> BulkInterval:
    """The checks of MLflow's get-history-bulk-interval on its query parameters, in its order and words."""
    if not run_ids:
        raise missing("run_ids")
    if len(run_ids) > MAX_BULK_INTERVAL_RUNS:
        raise _see_docs(
            f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_INTERVAL_RUNS} run_ids. "
            f"Received {len(run_ids)} run_ids."
        )
    require(metric_key, "metric_key")
    start, end = parse_query_int(start_step, "start_step"), parse_query_int(end_step, "end_step")
    limit = parse_query_int(max_results, "max_results")
    if limit is None:
        limit = MAX_BULK_INTERVAL_RESULTS
    elif not 1 <= limit <= MAX_BULK_INTERVAL_RESULTS:
        raise _see_docs(f"max_results must be between 1 and {MAX_BULK_INTERVAL_RESULTS}.")
    if start is not None and end is not None:
        if start > end:
            raise InvalidParameterValue(
                f"end_step must be greater than start_step. Found start_step={start} and end_step={end}."
            )
    elif start is not None or end is not None:
        raise InvalidParameterValue("If either start step or end step are specified, both must be specified.")
    return BulkInterval(limit, start, end)


def require(value: object, field: str) -> None:
    if value is None or value == "":
        raise missing(field)


def validate_key(key: str | None, what: str, field: str = "key") -> str:
    if key is None or key == "":
        raise missing(field)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterValue(
            f"{what} '{key[:50]}…' for parameter '{field}' had length {len(key)}, which exceeded length limit "
            f"of {MAX_KEY_LENGTH}"
        )
    if not _KEY_RE.match(key):
        raise InvalidParameterValue(
            f"Invalid {what.lower()} name '{key}' for parameter '{field}'. Names may only contain alphanumerics, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )
    # Only a "/" or a leading "." can make a name resolve to another path (most names have neither).
    if "/" not in key and not key.startswith("."):
        return key
    normalized = posixpath.normpath(key)
    if normalized != key or normalized.startswith(("/", "..")) or key == ".":
        raise InvalidParameterValue(
            f"Invalid {what.lower()} name '{key}' for parameter '{field}'. Names may be treated as files in "
            "certain cases, and must not resolve to other names when treated as such. This name would resolve "
            f"to '{normalized}'"
        )
    return key


def validate_metric_keys(keys: Sequence[str | None], field: Callable[[int], str]) -> None:
    """Each distinct metric key of a request checked once; where a bad one sits (`field(index)`) is
    looked up only on failure, so a request of thousands of points costs a set, not a scan per key."""
    for key in set(keys):
        try:
            validate_key(key, "Metric")
        except InvalidParameterValue:
            validate_key(key, "Metric", field(keys.index(key)))


def negative_timestamp(value: int, field: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Metric timestamp must be non-negative, got {value} in '{field}'")


def check_length(value: str | None, limit: int, field: str) -> None:
    if value is not None and len(value) > limit:
        raise InvalidParameterValue(f"'{field}' exceeds the maximum length of {limit} characters (got {len(value)})")


def validate_dataset_input(dataset_input: DatasetInput, where: str) -> None:
    """Required fields and length limits of one `datasets[i]` entry of runs/log-inputs."""
    d = dataset_input.dataset
    for name in ("name", "digest", "source_type", "source"):
        require(getattr(d, name), f"{where}.dataset.{name}")
    check_length(d.name, MAX_DATASET_NAME_LENGTH, f"{where}.dataset.name")
    check_length(d.digest, MAX_DATASET_DIGEST_LENGTH, f"{where}.dataset.digest")
    check_length(d.source, MAX_DATASET_SOURCE_LENGTH, f"{where}.dataset.source")
    check_length(d.schema, MAX_DATASET_SCHEMA_LENGTH, f"{where}.dataset.schema")
    check_length(d.profile, MAX_DATASET_PROFILE_LENGTH, f"{where}.dataset.profile")
    for j, tag in enumerate(dataset_input.tags):
        require(tag.key, f"{where}.tags[{j}].key")
        check_length(tag.key, MAX_INPUT_TAG_KEY_LENGTH, f"{where}.tags[{j}].key")
        check_length(tag.value, MAX_INPUT_TAG_VALUE_LENGTH, f"{where}.tags[{j}].value")


def truncate(value: str | None, limit: int) -> str:
    """Long param and tag values are cut silently, as MLflow does by default."""
    if value is None:
        return ""
    return value if len(value) <= limit else value[:limit]


def validate_run_id(run_id: str | None, field: str = "run_id") -> str:
    if not run_id:
        raise missing(field)
    if not _RUN_ID_RE.match(run_id):
        raise InvalidParameterValue(f"Invalid value '{run_id}' for parameter '{field}' supplied.")
    return run_id


def parse_experiment_id(experiment_id: str | int | None, field: str = "experiment_id") -> int:
    if experiment_id is None or experiment_id == "":
        raise missing(field)
    try:
        parsed = int(experiment_id)
        if not -(2**63) <= parsed < 2**63:  # the database's integer range
            raise ValueError(experiment_id)
        return parsed
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Experiment ID must be a valid integer, got {experiment_id!r} for '{field}'"
        ) from None


def validate_experiment_name(name: str | None, field: str = "name") -> str:
    if name is None or name.strip() == "":
        raise missing(field)
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )
    return name


def validate_max_results(value: int | None, default: int | None, field: str = "max_results") -> int:
    if value is None:
        if default is None:
            raise InvalidParameterValue(f"Invalid value 0 for parameter '{field}' supplied: it must be at least 1")
        return default
    if value < 1 or value > MAX_SEARCH_RESULTS:
        raise InvalidParameterValue(
            f"Invalid value {value} for parameter '{field}' supplied. It must be between 1 and {MAX_SEARCH_RESULTS}."
        )
    return value


def decode_metric_value(value: float, is_nan: bool) -> float | str:
    return "NaN" if is_nan else value


# The model registry's rules (MLflow's `_validate_model_name`, `_validate_model_alias_name`, stages).
MAX_MODEL_NAME_LENGTH = 256
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_REGISTERED_MODELS_PAGE = 1000
MAX_MODEL_VERSIONS_PAGE = 200_000
STAGES = ("None", "Staging", "Production", "Archived")
ACTIVE_STAGES = ("Staging", "Production")
_ALIAS_RE = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")


def validate_model_name(name: str | None, field: str = "name") -> str:
    if name is None or name.strip() == "":
        raise missing(field)
    if "/" in name or ":" in name:
        raise InvalidParameterValue(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    normalized = posixpath.normpath(name)
    if normalized != name or normalized == "." or normalized.startswith(("..", "/")):
        raise InvalidParameterValue(
            f"Invalid value \"{name}\" for parameter '{field}' supplied: Names may be treated as files in "
            f"certain cases, and must not resolve to other names when treated as such. This name would "
            f"resolve to '{normalized}'"
        )
    return name


def validate_new_model_name(name: str | None, field: str = "name") -> str:
    """A name for a model being created or renamed: also within the length the database holds."""
    checked = validate_model_name(name, field)
    check_length(checked, MAX_MODEL_NAME_LENGTH, field)
    return checked


def parse_model_version(version: str | int | None, field: str = "version") -> int:
    """A model version number as MLflow reads it (`int(version)`)."""
    if version is None or version == "":
        raise missing(field)
    try:
        return int(version)
    except ValueError:
        raise InvalidParameterValue(f"Parameter '{field}' must be an integer, got '{version}'.") from None


def validate_registry_tag(key: str | None, value: str | None) -> str:
    checked = validate_key(key, "Tag")
    check_length(value, MAX_REGISTRY_TAG_VALUE_LENGTH, "value")
    return checked


def validate_alias(alias: str | None, *, setting: bool = False) -> str:
    """An alias name; `setting` also refuses the names MLflow reserves (`latest`, `v<number>`)."""
    if alias is None or alias == "":
        raise missing("alias")
    if not _ALIAS_RE.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )
    check_length(alias, MAX_ALIAS_LENGTH, "Registered model alias name")
    if setting and alias.lower() == "latest":
        raise InvalidParameterValue("'latest' alias name (case insensitive) is reserved.")
    if setting and _VERSION_ALIAS_RE.match(alias):
        raise InvalidParameterValue(f"Version alias name '{alias}' is reserved.")
    return alias


def canonical_stage(stage: str | None, field: str = "stage") -> str:
    """`production` → `Production`: stages are case-insensitive on input."""
    if stage is None or stage == "":
        raise missing(field)
    for known in STAGES:
        if stage.lower() == known.lower():
            return known
    raise InvalidParameterValue(f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}.")


def validate_page_size(value: int | None, default: int, limit: int, field: str = "max_results") -> int:
    """max_results of the registry searches: MLflow's default and upper bound for each."""
    if value is None:
        return default
    if value < 1:
        raise InvalidParameterValue(f"Invalid value for {field}. It must be a positive integer, but got {value}")
    if value > limit:
        raise InvalidParameterValue(
            f"Invalid value for request parameter {field}. It must be at most {limit}, but got value {value}"
        )
    return value


_MODEL_NAME_FORBIDDEN = ("/", ":", ".", "%", '"', "'")


def validate_logged_model_name(name: str) -> str:
    """MLflow's rule for logged model names: they appear in `models:/` URIs and artifact paths."""
    if any(char in name for char in _MODEL_NAME_FORBIDDEN):
        raise InvalidParameterValue(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string and cannot "
            f"contain the following characters: {_MODEL_NAME_FORBIDDEN}"
        )
    return name
