"""Tracklet: experiment tracking that speaks MLflow's protocol.

The module-level functions log to the run that `start_run` made active; `log_param`, `log_metric`
and `set_tag` (and their plural forms) never block: they queue, and a background thread sends.
"""

from tracklet._version import __version__
from tracklet.client.assessments import (
    delete_assessment,
    get_assessment,
    log_expectation,
    log_feedback,
    override_feedback,
    update_assessment,
)
from tracklet.client.client import Run, RunData, TrackletClient
from tracklet.client.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    download_artifacts,
    end_run,
    flush,
    get_experiment,
    get_experiment_by_name,
    get_metric_history,
    get_run,
    get_tracking_uri,
    last_active_run,
    list_artifacts,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    param,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from tracklet.client.traces import Assessment, AssessmentSource, Trace, TraceSpan
from tracklet.client.tracing import (
    Span,
    get_current_active_span,
    get_last_active_trace_id,
    get_trace,
    search_traces,
    start_span,
    trace,
    update_current_trace,
)

# Models pull in numpy and pandas: imported on first use, so `import tracklet` and the server stay light.
_MODEL_NAMES = frozenset(
    {"Crate", "CrateError", "LoadedModel", "ModelInfo", "RequirementsMismatchWarning", "SchemaError",
     "crate", "load_model", "log_model", "register_model", "save_model"}
)  # fmt: skip


def __getattr__(name: str) -> object:
    if name in _MODEL_NAMES:
        import tracklet.models

        return getattr(tracklet.models, name)
    raise AttributeError(f"module 'tracklet' has no attribute {name!r}")


__all__ = [
    "__version__",
    "ActiveRun",
    "Assessment",
    "AssessmentSource",
    "Crate",
    "CrateError",
    "LoadedModel",
    "ModelInfo",
    "RequirementsMismatchWarning",
    "SchemaError",
    "crate",
    "load_model",
    "log_model",
    "register_model",
    "save_model",
    "Run",
    "RunData",
    "Span",
    "Trace",
    "TraceSpan",
    "TrackletClient",
    "active_run",
    "create_experiment",
    "delete_assessment",
    "download_artifacts",
    "end_run",
    "flush",
    "get_assessment",
    "get_experiment",
    "get_current_active_span",
    "get_experiment_by_name",
    "get_last_active_trace_id",
    "get_metric_history",
    "get_run",
    "get_trace",
    "get_tracking_uri",
    "last_active_run",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_expectation",
    "log_feedback",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "override_feedback",
    "param",
    "search_runs",
    "search_traces",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_span",
    "start_run",
    "trace",
    "update_assessment",
    "update_current_trace",
]
