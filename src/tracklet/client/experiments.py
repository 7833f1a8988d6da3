"""Experiments for `TrackletClient`: create, read, search, rename, delete and restore, and their tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from tracklet import entities, errors
from tracklet.client.paging import filter_arg, order_by_arg, post_pages, view_type_name
from tracklet.client.runs import API, kv
from tracklet.client.transport import Transport

__all__ = ["ExperimentsMixin"]


class ExperimentsMixin:
    """`TrackletClient`'s experiments."""

    transport: Transport

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, str] | None = None
    ) -> str:
        body: dict[str, Any] = {"name": name}
        if artifact_location:
            body["artifact_location"] = artifact_location
        if tags:
            body["tags"] = kv(tags)
        return str(self.transport.post(f"{API}/experiments/create", body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> entities.Experiment:
        body = self.transport.get(f"{API}/experiments/get", experiment_id=experiment_id)
        return msgspec.convert(body["experiment"], entities.Experiment)

    def get_experiment_by_name(self, name: str) -> entities.Experiment | None:
        try:
            body = self.transport.get(f"{API}/experiments/get-by-name", experiment_name=name)
        except errors.ResourceDoesNotExist:
            return None
        return msgspec.convert(body["experiment"], entities.Experiment)

    def get_or_create_experiment(self, name: str) -> str:
        """The id of the active experiment called `name`, creating it when needed (race-safe)."""
        exp = self.get_experiment_by_name(name)
        if exp is None:
            try:
                return self.create_experiment(name)
            except errors.ResourceAlreadyExists:
                exp = self.get_experiment_by_name(name)
                assert exp is not None
        if exp.lifecycle_stage == "deleted":
            raise errors.InvalidState(f"Experiment {name!r} is deleted; restore it or choose another name.")
        return exp.experiment_id

    def search_experiments(
        self,
        view_type: str | int = "ACTIVE_ONLY",
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
    ) -> list[entities.Experiment]:
        """Experiments matching `filter_string` (MLflow's grammar: `name LIKE 'wine%'`, `tags.team = 'nlp'`),
        up to `max_results` (None: all of them), following the pages; most recently updated first unless
        `order_by` (e.g. `["name"]`, `["creation_time DESC"]`). `view_type`: "ACTIVE_ONLY", "DELETED_ONLY"
        or "ALL" (MLflow's `ViewType` numbers too)."""
        base: dict[str, Any] = {
            "view_type": view_type_name(view_type),
            "filter": filter_arg(filter_string),
            "order_by": order_by_arg(order_by),
        }
        return post_pages(
            self.transport.post, f"{API}/experiments/search", base, "experiments", entities.Experiment, max_results
        )

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment (and its runs) deleted; `restore_experiment` brings it back."""
        self.transport.post(f"{API}/experiments/delete", {"experiment_id": str(experiment_id)})

    def restore_experiment(self, experiment_id: str) -> None:
        self.transport.post(f"{API}/experiments/restore", {"experiment_id": str(experiment_id)})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.transport.post(f"{API}/experiments/update", {"experiment_id": str(experiment_id), "new_name": new_name})

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        body = {"experiment_id": str(experiment_id), "key": key, "value": str(value)}
        self.transport.post(f"{API}/experiments/set-experiment-tag", body)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.transport.post(
            f"{API}/experiments/delete-experiment-tag", {"experiment_id": str(experiment_id), "key": key}
        )
