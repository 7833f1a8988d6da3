"""Writing what `MlflowSource` reads into a tracklet store and artifact store, in-process.

Runs and logged models keep their ids; every experiment's logged models are copied before any run (runs
link to the models they produced), each model's files before its row. A run is copied in this order: its metric histories (page by page, through the
store's ingestion path), its artifacts, and last its `runs` row with params, tags and dataset inputs
in one transaction (`RunStore.import_run`). A run whose row exists is therefore complete and is
skipped by a later import; a copy interrupted earlier left only rows no reader sees (histories under
an id without a run, files under its artifact folder), which the next import discards
(`discard_partial_run`) or overwrites before copying that run again.

After the traces come MLflow 3's evaluation datasets linked to the copied experiments (each under its id,
its records read page by page and then written with the dataset in one transaction: a dataset is held
whole while it is written) and the registered scorers of each active experiment, every version under its
number.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import anyio
import msgspec

from tracklet.artifacts.base import ArtifactStore
from tracklet.artifacts.paths import proxy_path
from tracklet.client.traces import span_from_wire
from tracklet.entities import LoggedModel, LoggedModelData, LoggedModelInfo, ModelMetric, ModelVersion, RunInfo
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.migrate.mlflow_source import (
    TRACES_PER_BATCH,
    MlflowSource,
    SourceDataset,
    SourceError,
    SourceExperiment,
    SourceMetric,
    SourceModelRef,
    SourceModelVersion,
    SourceRun,
    metric_value,
)
from tracklet.store._util import now_ms
from tracklet.store.eval_datasets import EvaluationDataset
from tracklet.store.scorers import ScorerVersion
from tracklet.store.spans import StoredSpan
from tracklet.store.store import Store
from tracklet.store.traces import ARTIFACT_LOCATION_TAG, MAX_TRACE_LINKS, SPANS_LOCATION_TAG, NewTrace
from tracklet.timestamps import parse_duration, parse_timestamp

FETCHING = 4  # metric histories of a run fetched at once (an MLflow server answers requests concurrently)
# Where the source kept a trace's spans: tracklet keeps copied spans as rows and says so itself.
_WHERE_SPANS_ARE = frozenset({ARTIFACT_LOCATION_TAG, SPANS_LOCATION_TAG})
RUNS_AT_ONCE = 4  # runs copied at once: a run of a few short histories is a handful of round trips
RUNS_AHEAD = 2_000  # runs listed ahead of the copies: two of the source's pages
_PAGES_AHEAD = 2
_FILE_CHUNK = 1024 * 1024

# `progress(label, n_runs)` gives a context whose value is called with the number of runs just done.
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


def _no_progress(label: str, length: int) -> AbstractContextManager[Callable[[int], None]]:
    return nullcontext(lambda n: None)


@dataclass
class ImportSummary:
    """What an import copied; `line()` is the command's last line."""

    experiments: int = 0
    experiments_created: int = 0
    runs_copied: int = 0
    runs_skipped: int = 0
    metric_points: int = 0
    artifact_files: int = 0
    artifact_bytes: int = 0
    traces: int = 0
    trace_links: int = 0  # traces linked to runs after they were recorded
    logged_models: int = 0
    registered_models: int = 0
    model_versions: int = 0
    evaluation_datasets: int = 0
    dataset_records: int = 0
    dataset_links: int = 0  # links of datasets copied before to experiments copied now
    datasets_synced: int = 0  # datasets copied before that the source changed since
    dataset_records_updated: int = 0  # records of those changed at the source since
    scorer_versions: int = 0
    warnings: list[str] = field(default_factory=list)

    def _links(self) -> str:
        return f" ({_n(self.trace_links, 'link')} to runs)" if self.trace_links else ""

    def _datasets(self) -> str:
        details = [_n(self.dataset_records, "record")]
        if self.datasets_synced:
            synced = _n(self.datasets_synced, "dataset")
            details.append(
                f"{synced} there brought up to date, {self.dataset_records_updated} of their records updated"
            )
        if self.dataset_links:
            details.append(f"{_n(self.dataset_links, 'new link')} of those there")
        return f"{_n(self.evaluation_datasets, 'evaluation dataset')} ({', '.join(details)})"

    def line(self) -> str:
        return (
            f"{_n(self.experiments, 'experiment')} ({self.experiments_created} new), "
            f"{_n(self.runs_copied, 'run')} copied, {self.runs_skipped} already there, "
            f"{_n(self.metric_points, 'metric point')}, {_n(self.artifact_files, 'artifact file')} "
            f"({_size(self.artifact_bytes)}), {_n(self.traces, 'trace')}{self._links()}, "
            f"{_n(self.logged_models, 'logged model')}, "
            f"{_n(self.registered_models, 'registered model')}, {_n(self.model_versions, 'model version')}, "
            f"{self._datasets()}, {_n(self.scorer_versions, 'scorer version')}, "
            f"{_n(len(self.warnings), 'warning')}"
        )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


async def import_mlflow(
    source: MlflowSource,
    store: Store,
    artifacts: ArtifactStore,
    *,
    experiment_names: Sequence[str] = (),
    copy_artifacts: bool = True,
    copy_registry: bool = True,
    fetching: int = FETCHING,
    runs_at_once: int = RUNS_AT_ONCE,
    progress: Progress = _no_progress,
    warn: Callable[[str], None] = lambda message: None,
) -> ImportSummary:
    """Copy the source's experiments (all, or those named) with their logged models, runs and traces,
    and the model registry, into `store`; what is already there (runs, logged models and traces by id,
    registered versions by number) is left as it is."""
    summary = ImportSummary()

    def warning(message: str) -> None:
        summary.warnings.append(message)
        warn(message)

    copier = _Copier(source, store, artifacts, summary, warning, copy_artifacts, fetching, runs_at_once)
    experiments = await _chosen_experiments(source, experiment_names)
    targets = [(experiment, copier.experiment(experiment)) for experiment in experiments]
    # Logged models first: runs link to the models they produced, which may be in another experiment.
    for experiment, experiment_id in targets:
        await copier.logged_models(experiment, experiment_id)
    for experiment, experiment_id in targets:
        await copier.runs(experiment, experiment_id, progress)
    for experiment, experiment_id in targets:
        await copier.traces(experiment, experiment_id)
    await copier.datasets({e.experiment_id: experiment_id for e, experiment_id in targets}, not experiment_names)
    for experiment, experiment_id in targets:
        await copier.scorers(experiment, experiment_id)
    if copy_registry:
        await copier.registry()
    store.db.refresh_statistics()
    return summary


@dataclass
class ImportPlan:
    """What an import would copy (`plan_import`); `line()` is `--dry-run`'s answer."""

    experiments: int = 0
    experiments_new: int = 0
    runs_new: int = 0
    runs_there: int = 0
    traces_new: int = 0
    logged_models_new: int = 0
    registered_models_new: int = 0
    model_versions_new: int = 0
    datasets_new: int = 0
    scorer_versions_new: int = 0

    def line(self) -> str:
        return (
            f"Would copy {_n(self.experiments, 'experiment')} ({self.experiments_new} new), "
            f"{_n(self.runs_new, 'run')} ({self.runs_there} already there), {_n(self.traces_new, 'trace')}, "
            f"{_n(self.logged_models_new, 'logged model')}, {_n(self.registered_models_new, 'registered model')}, "
            f"{_n(self.model_versions_new, 'model version')}, {_n(self.datasets_new, 'evaluation dataset')}, "
            f"{_n(self.scorer_versions_new, 'scorer version')} (a dry run: nothing copied)"
        )


async def plan_import(
    source: MlflowSource, store: Store, *, experiment_names: Sequence[str] = (), copy_registry: bool = True
) -> ImportPlan:
    """What `import_mlflow` would copy, found by listing the source (no history, no file is read) and
    writing nothing."""
    plan = ImportPlan()
    chosen = await _chosen_experiments(source, experiment_names)
    for experiment in chosen:
        plan.experiments += 1
        there: int | None = None
        try:
            there = int(store.get_experiment_by_name(experiment.name).experiment_id)
        except ResourceDoesNotExist:
            plan.experiments_new += 1
        if experiment.lifecycle_stage == "active":
            for scorer in await source.scorers(experiment.experiment_id):
                numbers = set() if there is None else store.scorer_version_numbers(there, scorer.scorer_name)
                plan.scorer_versions_new += scorer.scorer_version not in numbers
        for run_id in await source.run_ids(experiment.experiment_id):
            there = store.run_exists(run_id)
            plan.runs_there += there
            plan.runs_new += not there
        plan.traces_new += sum(not store.trace_exists(t) for t in await source.trace_ids(experiment.experiment_id))
        models = await source.logged_models(experiment.experiment_id)
        plan.logged_models_new += sum(not store.logged_model_exists(m.info.model_id) for m in models)
    datasets = await _datasets_to_copy(source, [e.experiment_id for e in chosen], not experiment_names)
    plan.datasets_new += sum(not store.dataset_exists(dataset.dataset_id) for dataset, _ in datasets)
    if copy_registry:
        for model in await source.registered_models() or []:
            try:
                store.get_registered_model(model.name)
            except ResourceDoesNotExist:
                plan.registered_models_new += 1
            for version in await source.model_versions(model.name):
                try:
                    store.get_model_version(model.name, int(version.version))
                except ResourceDoesNotExist:
                    plan.model_versions_new += 1
    return plan


async def _chosen_experiments(source: MlflowSource, names: Sequence[str]) -> list[SourceExperiment]:
    """The source's experiments, or those named (a name missing there is an error)."""
    experiments = await source.experiments()
    if not names:
        return experiments
    by_name = {e.name: e for e in experiments}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise SourceError(f"No experiment named {', '.join(map(repr, missing))} in the MLflow server at {source.url}")
    return [by_name[name] for name in dict.fromkeys(names)]


async def _datasets_to_copy(
    source: MlflowSource, experiment_ids: Sequence[str], everything: bool
) -> list[tuple[SourceDataset, list[str]]]:
    """The source's evaluation datasets that go with these experiments (the source's ids), each with the
    ones among them it is linked to. A dataset linked only to experiments not copied is left out; when
    every experiment is copied (`everything`), so are those linked to none."""
    chosen = set(experiment_ids)
    found = []
    for dataset in await source.datasets(None if everything else experiment_ids):
        linked = await source.dataset_experiment_ids(dataset.dataset_id)
        kept = [e for e in linked if e in chosen]
        if kept or (everything and not linked):
            found.append((dataset, kept))
    return found


class _Copier:
    def __init__(
        self,
        source: MlflowSource,
        store: Store,
        artifacts: ArtifactStore,
        summary: ImportSummary,
        warning: Callable[[str], None],
        copy_artifacts: bool,
        fetching: int,
        runs_at_once: int,
    ) -> None:
        self.source, self.store, self.artifacts = source, store, artifacts
        self.summary, self.warning, self.copy_artifacts = summary, warning, copy_artifacts
        self.fetching = max(1, fetching)
        self.runs_at_once = max(1, runs_at_once)
        # run id -> (artifact URI in the source, in tracklet): rewrites registry sources into imported runs
        self.artifact_uris: dict[str, tuple[str, str]] = {}
        self.run_ids: dict[str, list[str]] = {}  # the source's experiment id -> its runs' ids

    # -- experiments and runs -----------------------------------------------------------------

    def experiment(self, experiment: SourceExperiment) -> int:
        """The experiment in tracklet (found by name, or created); its id."""
        experiment_id, created = self.store.import_experiment(
            experiment.name,
            experiment.tags,
            experiment.lifecycle_stage,
            experiment.creation_time,
            experiment.last_update_time,
        )
        self.summary.experiments += 1
        self.summary.experiments_created += created
        return experiment_id

    async def logged_models(self, experiment: SourceExperiment, experiment_id: int) -> None:
        """The experiment's logged models under their own ids, each with its artifacts (copied first, as
        a run's are: a model whose row exists is complete)."""
        for model in await self.source.logged_models(experiment.experiment_id):
            info = model.info
            if self.store.logged_model_exists(info.model_id):
                continue
            if self.copy_artifacts:
                target = self.store.logged_model_location(experiment_id, info.model_id)
                await self.artifact_tree(f"logged model {info.model_id}", info.artifact_uri, target)
            copied = LoggedModel(
                info=LoggedModelInfo(
                    model_id=info.model_id,
                    experiment_id=str(experiment_id),
                    name=info.name,
                    artifact_uri="",
                    status=info.status,
                    model_type=info.model_type,
                    creation_timestamp_ms=info.creation_timestamp_ms or 0,
                    last_updated_timestamp_ms=info.last_updated_timestamp_ms or info.creation_timestamp_ms or 0,
                    source_run_id=info.source_run_id,
                    tags=info.tags,
                ),
                data=LoggedModelData(
                    params=model.data.params,
                    metrics=[
                        ModelMetric(m.key, metric_value(m.value), m.timestamp, m.step, info.model_id, m.run_id,
                                    m.dataset_name, m.dataset_digest)
                        for m in model.data.metrics
                    ],
                ),
            )  # fmt: skip
            self.summary.logged_models += self.store.import_logged_model(copied, experiment_id)

    async def traces(self, experiment: SourceExperiment, experiment_id: int) -> None:
        """The experiment's traces (MLflow 3) under their ids, each whole in one transaction: info, tags,
        metadata (their run included), spans and assessments. Traces already there are skipped."""
        every = await self.source.trace_ids(experiment.experiment_id)
        new = [t for t in every if not self.store.trace_exists(t)]
        for start in range(0, len(new), TRACES_PER_BATCH):
            for trace in await self.source.traces(new[start : start + TRACES_PER_BATCH]):
                self.summary.traces += self.store.import_trace(*_copied_trace(trace, experiment_id))
        if every:
            await self.trace_links(experiment)

    async def trace_links(self, experiment: SourceExperiment) -> None:
        """Links made after a trace was recorded (`mlflow.genai.evaluate` links the traces it judged to its
        run): the REST API lists them only per run, so each run of an experiment that has traces is asked."""
        for run_id in self.run_ids.get(experiment.experiment_id, []):
            linked = await self.source.traces_linked_to_run(experiment.experiment_id, run_id)
            new = [t for t in linked if self.store.trace_exists(t) and run_id not in self.store.trace_run_ids(t)]
            for start in range(0, len(new), MAX_TRACE_LINKS):
                self.store.link_traces_to_run(new[start : start + MAX_TRACE_LINKS], run_id)
            self.summary.trace_links += len(new)

    async def runs(self, experiment: SourceExperiment, experiment_id: int, progress: Progress) -> None:
        """The experiment's runs, `runs_at_once` at a time, as the source's pages arrive (a page or two
        ahead: an experiment of 100,000 runs is never held whole). If one fails, the others stop where they
        are: what they wrote has no run row yet, and the next import discards it and copies them again."""
        run_ids = await self.source.run_ids(experiment.experiment_id)  # for the progress bar and trace links
        self.run_ids[experiment.experiment_id] = run_ids
        waiting: asyncio.Queue[SourceRun | None] = asyncio.Queue(maxsize=RUNS_AHEAD)
        with progress(experiment.name, len(run_ids)) as advance:

            async def list_runs() -> None:
                async for page in self.source.runs(experiment.experiment_id):
                    for run in page:
                        await waiting.put(run)
                for _ in range(self.runs_at_once):
                    await waiting.put(None)  # one "no more" for each copier

            async def copy_while_runs_wait() -> None:
                while (run := await waiting.get()) is not None:
                    await self.run(run, experiment_id)
                    advance(1)

            tasks = [asyncio.create_task(list_runs())]
            tasks += [asyncio.create_task(copy_while_runs_wait()) for _ in range(self.runs_at_once)]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                if not task.cancelled() and (error := task.exception()) is not None:
                    raise error

    async def run(self, run: SourceRun, experiment_id: int) -> None:
        run_id = run.run_id
        if self.store.run_exists(run_id):
            self.summary.runs_skipped += 1
            return
        self.store.discard_partial_run(run_id)  # what an interrupted copy of this run left
        await self.histories(run_id, [metric.key for metric in run.data.metrics])
        target_uri = self.store.artifact_uri_for(experiment_id, run_id)
        if self.copy_artifacts:
            await self.artifact_tree(f"run {run_id}", run.info.artifact_uri, target_uri)
        info = RunInfo(
            run_id=run_id,
            run_uuid=run_id,
            experiment_id=str(experiment_id),
            run_name=run.info.run_name,
            user_id=run.info.user_id,
            status=run.info.status,
            start_time=run.info.start_time,
            end_time=run.info.end_time,
            artifact_uri=target_uri,
            lifecycle_stage=run.info.lifecycle_stage,
        )
        # MLflow's REST API does not tell when a run was deleted: the import's time stands in for it, so
        # `tracklet gc --older-than` waits at least as long as the user asked (a run's end could be years old).
        deleted_time = now_ms() if run.info.lifecycle_stage == "deleted" else None
        datasets = list({(d.dataset.name, d.dataset.digest): d for d in run.inputs.dataset_inputs}.values())
        self.artifact_uris[run_id] = (run.info.artifact_uri, target_uri)
        inputs, outputs = (
            self.model_links(run_id, refs) for refs in (run.inputs.model_inputs, run.outputs.model_outputs)
        )
        if self.store.import_run(
            info, experiment_id, run.data.params, run.data.tags, datasets, deleted_time, inputs, outputs
        ):
            self.summary.runs_copied += 1
        else:  # another import stored it meanwhile
            self.summary.runs_skipped += 1

    def model_links(self, run_id: str, refs: Sequence[SourceModelRef]) -> list[tuple[str, int]]:
        """(model id, step) of the logged models a run took or produced that tracklet has."""
        links = []
        for ref in refs:
            if self.store.logged_model_exists(ref.model_id):
                links.append((ref.model_id, ref.step))
            else:
                self.warning(f"run {run_id}: its link to logged model {ref.model_id} not copied (not copied itself)")
        return links

    async def histories(self, run_id: str, keys: list[str]) -> None:
        """Every history of a run, written page by page in order, while the next histories are already
        being fetched (the source's answers, not tracklet's writes, take most of an import's time). At
        most `fetching` histories are in flight, each at most `_PAGES_AHEAD` pages ahead of the writes."""
        queues: list[asyncio.Queue[list[SourceMetric] | Exception | None]] = []
        tasks: list[asyncio.Task[None]] = []

        async def fetch(key: str, queue: asyncio.Queue[list[SourceMetric] | Exception | None]) -> None:
            try:
                async for page in self.source.history(run_id, key):
                    await queue.put(page)
            except Exception as err:  # noqa: BLE001 - raised again by the writer, in order
                await queue.put(err)
                return
            await queue.put(None)

        def start(i: int) -> None:
            if i < len(keys):
                queues.append(asyncio.Queue(maxsize=_PAGES_AHEAD))
                tasks.append(asyncio.create_task(fetch(keys[i], queues[i])))

        try:
            for i in range(self.fetching):
                start(i)
            for i, key in enumerate(keys):
                while (page := await queues[i].get()) is not None:
                    if isinstance(page, Exception):
                        raise page
                    self.store.import_points(
                        run_id,
                        [key] * len(page),
                        [metric_value(p.value) for p in page],
                        [p.timestamp for p in page],
                        [p.step for p in page],
                    )
                    self.summary.metric_points += len(page)
                start(i + self.fetching)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- evaluation datasets and registered scorers (MLflow 3) ---------------------------------

    async def datasets(self, experiment_ids: dict[str, int], everything: bool) -> None:
        """The evaluation datasets of the copied experiments (`experiment_ids`: the source's id -> tracklet's)
        under their ids, linked to those experiments in tracklet. A dataset there already gains the links it
        lacks and, when either side changed it since, what it lacks of the source's records and tags
        (`sync_imported_dataset`: the later change of a record wins; nothing there is deleted)."""
        for dataset, linked in await _datasets_to_copy(self.source, list(experiment_ids), everything):
            links = sorted({experiment_ids[e] for e in linked})
            if self.store.dataset_exists(dataset.dataset_id):
                self.summary.dataset_links += self.store.link_imported_dataset(dataset.dataset_id, links)
                await self._sync_dataset(dataset)
                continue
            records = [record async for page in self.source.dataset_records(dataset.dataset_id) for record in page]
            copied = _copied_dataset(dataset)
            if self.store.import_dataset(copied, _dataset_tags(dataset), records, links):
                self.summary.evaluation_datasets += 1
                self.summary.dataset_records += len(records)

    async def _sync_dataset(self, dataset: SourceDataset) -> None:
        stored = self.store.get_dataset(dataset.dataset_id)
        tags = _dataset_tags(dataset)
        # A merge on either side since the last import changes the digest; tags are set without one.
        merged = (dataset.digest, dataset.last_update_time) != (stored.digest, stored.last_update_time)
        retagged = not tags.items() <= json.loads(stored.tags or "{}").items()
        if not merged and not retagged:
            return
        records = []
        if merged:
            records = [record async for page in self.source.dataset_records(dataset.dataset_id) for record in page]
        added, updated = self.store.sync_imported_dataset(_copied_dataset(dataset), tags, records)
        self.summary.datasets_synced += bool(added or updated or retagged)
        self.summary.dataset_records += added
        self.summary.dataset_records_updated += updated

    async def scorers(self, experiment: SourceExperiment, experiment_id: int) -> None:
        """The experiment's registered scorers, every version under its number. MLflow's API refuses to
        list a deleted experiment's scorers, so those stay in the source."""
        if experiment.lifecycle_stage != "active":
            return
        by_name: dict[str, list[ScorerVersion]] = {}
        scorer_ids: dict[str, str] = {}
        for v in await self.source.scorers(experiment.experiment_id):
            copied = ScorerVersion(
                experiment_id, v.scorer_name, v.scorer_version, v.serialized_scorer, v.creation_time, v.scorer_id
            )
            by_name.setdefault(v.scorer_name, []).append(copied)
            scorer_ids.setdefault(v.scorer_name, v.scorer_id)
        for name, versions in by_name.items():
            self.summary.scorer_versions += self.store.import_scorer_versions(
                experiment_id, scorer_ids[name] or None, versions
            )

    # -- artifacts ----------------------------------------------------------------------------

    async def artifact_tree(self, owner: str, uri: str, target_uri: str) -> None:
        """Every file under the source's artifact URI `uri` (of a run or logged model: `owner`), to the
        same relative paths under `target_uri` in tracklet's artifact store."""
        target_root = proxy_path(target_uri)
        if target_root is None:
            self.warning(f"{owner}: artifacts not copied: its tracklet artifact root {target_uri} is not served")
            return
        root = proxy_path(uri)
        if root is not None:
            async for relative, _ in self.source.walk_artifacts(root):
                await self.copy_file(target_root, relative, self.source.download(f"{root}/{relative}"))
            return
        local = _local_path(uri)
        if local is None:
            self.warning(f"{owner}: artifacts at {uri} not copied (only mlflow-artifacts:/ and local paths are)")
            return
        if not local.is_dir():
            if local.exists() or uri.startswith("file:"):
                self.warning(f"{owner}: artifacts at {uri} not copied: no such folder on this machine")
            return
        for file in sorted(p for p in local.rglob("*") if p.is_file()):
            await self.copy_file(target_root, file.relative_to(local).as_posix(), _read_file(file))

    async def copy_file(self, target_root: str, relative: str, chunks: AsyncIterator[bytes]) -> None:
        try:
            size = await self.artifacts.write(posixpath.join(target_root, relative), chunks)
        except InvalidParameterValue as err:  # a name tracklet's artifact store refuses (e.g. `..`)
            self.warning(f"artifact {target_root}/{relative} not copied: {err.message}")
            return
        self.summary.artifact_files += 1
        self.summary.artifact_bytes += size

    # -- model registry -----------------------------------------------------------------------

    async def registry(self) -> None:
        models = await self.source.registered_models()
        if models is None:
            return
        for model in models:
            created = self.store.import_registered_model(
                model.name, model.description, model.tags, model.creation_timestamp, model.last_updated_timestamp
            )
            self.summary.registered_models += created
            for version in await self.source.model_versions(model.name):
                if self.store.import_model_version(*await self.model_version(version)):
                    self.summary.model_versions += 1
            existing = set(self.store.get_registered_model(model.name).aliases)
            for alias in model.aliases:
                if alias.alias in existing:
                    continue
                try:
                    self.store.set_registered_model_alias(model.name, alias.alias, int(alias.version))
                except ResourceDoesNotExist:
                    self.warning(f"model {model.name}: alias {alias.alias} names version {alias.version}, not copied")

    async def model_version(self, v: SourceModelVersion) -> tuple[ModelVersion, str, str | None]:
        """The version as tracklet stores it, where its files are downloaded from, and the logged model
        it was registered from: a source inside an imported run's artifacts points into that run's
        artifacts in tracklet, one of an imported logged model to that model's."""
        source, storage = v.source, v.source
        model_id = v.model_id or (v.source.removeprefix("models:/") if v.source.startswith("models:/m-") else None)
        if model_id:
            try:
                storage = self.store.get_logged_model(model_id).info.artifact_uri
            except ResourceDoesNotExist:
                self.warning(
                    f"model {v.name} version {v.version}: comes from logged model {model_id}, which is not in "
                    "tracklet (not in the experiments copied); its files stay in the source"
                )
                model_id = None
        elif v.run_id and (uris := await self._run_uris(v.run_id)):
            source_uri, target_uri = uris
            if v.source.startswith("runs:/"):
                path = v.source[len("runs:/") :].split("/", 1)[1] if "/" in v.source[len("runs:/") :] else ""
                storage = posixpath.join(target_uri, path) if path else target_uri
            elif source_uri and v.source.startswith(source_uri.rstrip("/")):
                source = storage = target_uri + v.source[len(source_uri.rstrip("/")) :]
        version = ModelVersion(
            name=v.name,
            version=v.version,
            creation_timestamp=v.creation_timestamp or 0,
            last_updated_timestamp=v.last_updated_timestamp or 0,
            current_stage=v.current_stage,
            source=source,
            status=v.status,
            description=v.description,
            run_id=v.run_id,
            run_link=v.run_link,
            tag_list=v.tags,
        )
        return version, storage, model_id

    async def _run_uris(self, run_id: str) -> tuple[str, str] | None:
        if run_id in self.artifact_uris:
            return self.artifact_uris[run_id]
        try:  # a run copied by an earlier import
            target = self.store.get_run(run_id).info.artifact_uri
        except ResourceDoesNotExist:
            return None
        try:
            source_uri = (await self.source.run(run_id)).info.artifact_uri
        except SourceError:
            source_uri = ""
        self.artifact_uris[run_id] = (source_uri, target)
        return self.artifact_uris[run_id]


def _copied_trace(trace: dict[str, Any], experiment_id: int) -> tuple[NewTrace, list[StoredSpan], list[Any]]:
    """A trace as `traces/batchGet` sends it, as tracklet's store takes it: its info, its spans in the
    layout of `traces.json` and its assessments (MLflow's JSON)."""
    info = trace["trace_info"]
    duration = info.get("execution_duration")
    tags = {k: v for k, v in (info.get("tags") or {}).items() if k not in _WHERE_SPANS_ARE}
    new = NewTrace(
        trace_id=info["trace_id"],
        experiment_id=experiment_id,
        request_time=parse_timestamp(info["request_time"], "request_time"),
        state=info.get("state") or "STATE_UNSPECIFIED",
        execution_duration=parse_duration(duration, "execution_duration") if duration else None,
        client_request_id=info.get("client_request_id"),
        request_preview=info.get("request_preview"),
        response_preview=info.get("response_preview"),
        metadata=dict(info.get("trace_metadata") or {}),
        tags=tags,
    )
    spans = []
    for raw in trace.get("spans", []):
        span = span_from_wire(raw)
        spans.append(StoredSpan(span.span_id, span.start_time_ns, msgspec.json.encode(span.to_dict()).decode()))
    return new, spans, list(info.get("assessments") or [])


def _copied_dataset(dataset: SourceDataset) -> EvaluationDataset:
    """The source's dataset as tracklet stores it (its tags go apart: `_dataset_tags`)."""
    return EvaluationDataset(
        dataset_id=dataset.dataset_id,
        name=dataset.name,
        tags="",
        digest=dataset.digest,
        created_time=dataset.created_time,
        last_update_time=dataset.last_update_time,
        schema=dataset.schema,
        profile=dataset.profile,
        created_by=dataset.created_by,
        last_updated_by=dataset.last_updated_by,
    )


def _dataset_tags(dataset: SourceDataset) -> dict[str, str]:
    """A dataset's tags from their JSON text (values as text, as MLflow's `str(value)`; null ones left out)."""
    try:
        tags = json.loads(dataset.tags) if dataset.tags else {}
    except ValueError:
        raise SourceError(f"evaluation dataset {dataset.dataset_id}: its tags are not JSON") from None
    if not isinstance(tags, dict):
        raise SourceError(f"evaluation dataset {dataset.dataset_id}: its tags are not a JSON object")
    return {key: value if isinstance(value, str) else str(value) for key, value in tags.items() if value is not None}


def _local_path(uri: str) -> Path | None:
    if uri.startswith("file:"):
        return Path(unquote(urlparse(uri).path))
    if uri.startswith("/"):
        return Path(uri)
    return None


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as f:
        while chunk := await f.read(_FILE_CHUNK):
            yield chunk


__all__ = ["ImportPlan", "ImportSummary", "Progress", "import_mlflow", "plan_import"]
