"""`tracklet gc`: permanently delete the runs, logged models and experiments that were deleted, rows and
artifacts.

For each batch of runs or logged models (and each experiment) the artifacts go first, then the rows: if
gc stops half-way (Ctrl-C, a storage error), what is left is still marked deleted and the next gc
finishes it; nothing is left that no gc would find again."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tracklet.artifacts import ArtifactStore
from tracklet.artifacts.paths import proxy_path
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store._util import chunks, now_ms
from tracklet.store.purge import PURGE_BATCH, DeletedExperiment, Garbage
from tracklet.store.store import Store

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_AGE = re.compile(rf"^(?:{_NUMBER}d)?(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s)?$")
_AGE_UNITS_MS = (86_400_000, 3_600_000, 60_000, 1_000)
_CONCURRENT_DELETES = 16  # folders removed at once (on S3 each is a listing and a delete)


def parse_age(text: str) -> int:
    """`--older-than` as MLflow's gc spells it (`30d`, `1d2h`, `1.5h`, `90m`, `45s`) → milliseconds."""
    match = _AGE.match(text.strip())
    if not text.strip() or match is None:
        raise InvalidParameterValue(
            f"Invalid --older-than {text!r}: use days, hours, minutes, seconds, as in 30d or 1d12h"
        )
    return round(sum(float(n or 0) * unit for n, unit in zip(match.groups(), _AGE_UNITS_MS, strict=True)))


@dataclass
class GcReport:
    experiments: list[DeletedExperiment] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # purged outside the experiments purged
    models: list[str] = field(default_factory=list)  # logged models, likewise
    folders_removed: int = 0
    left_in_place: list[str] = field(default_factory=list)  # artifact URIs outside tracklet's artifact store
    kept: list[str] = field(default_factory=list)


def find_garbage(
    store: Store,
    older_than: str | None,
    run_ids: Sequence[str] = (),
    experiment_ids: Sequence[str] = (),
    model_ids: Sequence[str] = (),
) -> Garbage:
    deleted_before = now_ms() - parse_age(older_than) if older_than else None
    return store.find_garbage(
        deleted_before, list(run_ids), [_experiment_id(i) for i in experiment_ids], list(model_ids)
    )


def collect_garbage(
    store: Store, artifacts: ArtifactStore, garbage: Garbage, progress: Callable[[int], None] = lambda n: None
) -> GcReport:
    """Purge what `find_garbage` found; `progress` is told how many things each step finished."""
    report = GcReport(kept=list(garbage.kept))
    for experiment in garbage.experiments:
        report.folders_removed += _remove(artifacts, _experiment_folders(store, experiment), report)
        if store.purge_experiment(experiment.experiment_id):
            report.experiments.append(experiment)
        progress(1)
    for found, purge, purged in (
        (garbage.runs, store.purge_runs, report.runs),
        (garbage.models, store.purge_logged_models, report.models),
    ):
        for part in chunks(found, PURGE_BATCH):
            report.folders_removed += _remove(
                artifacts, [_own_folder(item.id, item.artifact_uri) for item in part], report
            )
            purged += purge([item.id for item in part])
            progress(len(part))
    return report


def purge_old_traces(
    store: Store,
    artifacts: ArtifactStore,
    started_before: int,
    report: GcReport,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Delete the traces of every experiment that started before `started_before` (ms since the epoch;
    MLflow 3 tracing keeps every trace until it is deleted), 100 at a time: their uploaded spans first,
    then their rows, as for runs. Returns how many went; the folders removed are added to `report`."""
    purged = 0
    while batch := store.old_traces(started_before, PURGE_BATCH):
        busy_since = time.perf_counter()
        spans = [_own_folder(trace.id, trace.artifact_uri) for trace in batch if trace.artifact_uri]
        report.folders_removed += _remove(artifacts, spans, report)
        purged += store.purge_traces([trace.id for trace in batch])
        progress(len(batch))
        store.db.let_others_write(busy_since)
    return purged


def _experiment_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterValue(f"Invalid experiment id {text!r}") from None


def _own_folder(owner_id: str, uri: str) -> tuple[str, str | None]:
    """The artifact URI of a run (logged model, trace) and the folder of tracklet's artifact store to
    remove for it: its own folder (`…/<id>`, which holds `artifacts/`), or None when the URI is not in
    tracklet's artifact store."""
    path = proxy_path(uri)
    if path is None:
        return uri, None
    own = f"{owner_id}/artifacts"
    return uri, (path.removesuffix("/artifacts") if path == own or path.endswith("/" + own) else path)


def _experiment_folders(store: Store, experiment: DeletedExperiment) -> list[tuple[str, str | None]]:
    """The experiment's folder, unless another experiment keeps its artifacts in it (an artifact
    location chosen at creation may be shared): then the folders of its runs, models and traces."""
    path = proxy_path(experiment.artifact_location)
    others = [p for p in map(proxy_path, store.artifact_locations(experiment.experiment_id)) if p is not None]
    if path and not any(p == path or p.startswith(path + "/") for p in others):
        return [(experiment.artifact_location, path)]
    return [_own_folder(owner, uri) for owner, uri in store.artifact_uris_in(experiment.experiment_id)]


def _remove(artifacts: ArtifactStore, folders: list[tuple[str, str | None]], report: GcReport) -> int:
    report.left_in_place += [uri for uri, path in folders if path is None]
    paths = [path for _, path in folders if path]
    return asyncio.run(_remove_all(artifacts, paths)) if paths else 0


async def _remove_all(artifacts: ArtifactStore, paths: list[str]) -> int:
    limit = asyncio.Semaphore(_CONCURRENT_DELETES)

    async def one(path: str) -> int:
        async with limit:
            try:
                await artifacts.delete(path)
            except ResourceDoesNotExist:  # never written, or removed by a gc that stopped half-way
                return 0
            return 1

    return sum(await asyncio.gather(*(one(path) for path in paths)))
