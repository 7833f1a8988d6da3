"""Tracklet's Python client.

fluent.py    module-level API (tracklet.start_run, tracklet.log_metric, …): the run stack
client.py    TrackletClient: one method per tracking operation, no I/O of its own; one mixin per resource:
  experiments.py    experiments and their tags
  runs.py           runs, their params, metrics, tags and traces; Run and the wire helpers
  artifacts.py      artifacts of runs, and by URI (runs and logged models)
  logged_models.py  logged models and the model registry
paging.py    searches that follow pages, and the checks of their arguments
registry.py  module-level search_registered_models, search_model_versions, search/get_logged_model(s)
tables.py    log_table, load_table: JSON tables in MLflow's layout
batching.py  BatchLogger: the non-blocking queue and its sender thread
tracing.py   @tracklet.trace, start_span: spans recorded in-process, traces sent in the background (OTLP)
traces.py    Trace, TraceSpan: traces read back (get_trace, search_traces)
transport.py Transport: httpx (remote) or the in-process app (local store); retries, error mapping
run_cli.py   `tracklet run script.py -P k=v`
"""

from tracklet.client.client import Run, RunData, TrackletClient

__all__ = ["Run", "RunData", "TrackletClient"]
