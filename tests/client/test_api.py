"""The public surface of `tracklet` is what `__all__` says, and all of it exists."""

import types

import tracklet

EXPECTED = {
    "__version__", "ActiveRun", "Run", "RunData", "TrackletClient",
    "set_tracking_uri", "get_tracking_uri",
    "set_experiment", "create_experiment", "get_experiment", "get_experiment_by_name",
    "start_run", "end_run", "active_run", "last_active_run",
    "log_param", "log_params", "log_metric", "log_metrics", "set_tag", "set_tags",
    "log_artifact", "log_artifacts", "log_text", "log_dict", "log_figure", "log_image", "log_input",
    "get_run", "search_runs", "get_metric_history", "list_artifacts", "download_artifacts",
    "param", "flush",
    "enable_system_metrics_logging", "disable_system_metrics_logging", "set_system_metrics_sampling_interval",
    "set_system_metrics_samples_before_logging",
    "crate", "Crate", "CrateError", "save_model", "log_model", "register_model", "ModelInfo",
    "load_model", "LoadedModel", "RequirementsMismatchWarning", "SchemaError",
    "trace", "start_span", "update_current_trace", "get_current_active_span", "get_last_active_trace_id",
    "get_trace", "search_traces", "Span", "Trace", "TraceSpan", "log_feedback", "log_expectation",
    "Assessment", "AssessmentSource", "get_assessment", "update_assessment", "override_feedback",
    "delete_assessment",
    "search_experiments", "delete_experiment", "restore_experiment", "set_experiment_tag", "set_experiment_tags",
    "delete_experiment_tag", "delete_run", "restore_run", "delete_tag", "get_parent_run", "log_table", "load_table",
    "search_registered_models", "search_model_versions", "search_logged_models", "get_logged_model",
}  # fmt: skip


def test_all_lists_the_public_api() -> None:
    assert set(tracklet.__all__) == EXPECTED
    assert len(tracklet.__all__) == len(set(tracklet.__all__))


def test_every_name_in_all_exists_and_public_functions_are_documented() -> None:
    for name in tracklet.__all__:
        obj = getattr(tracklet, name)
        if callable(obj) and not name.startswith("_"):
            assert obj.__doc__, f"tracklet.{name} has no docstring"


def test_no_public_name_outside_all() -> None:
    # Submodules (tracklet.cli, tracklet.store, ...) become attributes once imported: they are not API names.
    public = {n for n, v in vars(tracklet).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert public <= set(tracklet.__all__), public - set(tracklet.__all__)
