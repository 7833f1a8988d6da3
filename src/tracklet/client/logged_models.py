"""Logged models (MLflow 3) and the model registry for `TrackletClient`.

They come back as tracklet's entities (`entities.LoggedModel`, `ModelVersion`, `RegisteredModel`): MLflow's
JSON as typed objects, read with MLflow's attribute names (`model.model_id`, `version.version`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from tracklet import entities, errors
from tracklet.client.paging import all_pages, filter_arg, logged_model_order_by, order_by_arg, post_pages
from tracklet.client.runs import API, kv
from tracklet.client.transport import Transport

__all__ = ["LoggedModelsMixin"]

T = TypeVar("T")


class LoggedModelsMixin:
    """`TrackletClient`'s logged models and model registry."""

    transport: Transport

    # -- logged models (MLflow 3) ----------------------------------------------------------------

    def create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        model_type: str = "",
    ) -> entities.LoggedModel:
        """Create a logged model (status LOGGED_MODEL_PENDING: `.status == "PENDING"`); upload its files under
        its `artifact_location`, then `finalize_logged_model`."""
        body: dict[str, Any] = {"experiment_id": experiment_id, "name": name, "model_type": model_type}
        if source_run_id:
            body["source_run_id"] = source_run_id
        if params:
            body["params"] = kv(params)
        if tags:
            body["tags"] = kv(tags)
        return _logged_model(self.transport.post(f"{API}/logged-models", body))

    def get_logged_model(self, model_id: str) -> entities.LoggedModel:
        """The logged model with this id; raises ResourceDoesNotExist."""
        return _logged_model(self.transport.get(f"{API}/logged-models/{model_id}"))

    def finalize_logged_model(self, model_id: str, status: str = "LOGGED_MODEL_READY") -> entities.LoggedModel:
        """Set the model's final status: "LOGGED_MODEL_READY" or "LOGGED_MODEL_UPLOAD_FAILED" (MLflow's JSON names)."""
        body = {"model_id": model_id, "status": status}
        return _logged_model(self.transport.request("PATCH", f"{API}/logged-models/{model_id}", json=body))

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = "",
        max_results: int | None = 100,
        order_by: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[entities.LoggedModel]:
        """Logged models of the experiments matching `filter_string` (`name = 'model'`, `metrics.rmse < 1`,
        `params.alpha = '0.5'`), up to `max_results` (None: all), following the pages;
        `order_by` as MLflow's dicts: `[{"field_name": "metrics.rmse", "ascending": True}]`."""
        base: dict[str, Any] = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_arg(filter_string),
            "order_by": logged_model_order_by(order_by),
        }
        return post_pages(
            self.transport.post, f"{API}/logged-models/search", base, "models", entities.LoggedModel, max_results
        )

    def log_outputs(self, run_id: str, model_ids: list[str]) -> None:
        """Record logged models as outputs of a run (`runs/outputs`)."""
        body = {"run_id": run_id, "models": [{"model_id": m, "step": 0} for m in model_ids]}
        self.transport.post(f"{API}/runs/outputs", body)

    # -- model registry ------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        model_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> entities.ModelVersion:
        """A new version of the registered model `name` (created first if it does not exist) whose files
        are at `source`; `run_id` / `model_id` name the run or logged model owning them (the server
        checks that they do). `tracklet.register_model` works out these from a model URI."""
        try:
            self.transport.post(f"{API}/registered-models/create", {"name": name})
        except errors.ResourceAlreadyExists:
            pass
        body: dict[str, Any] = {"name": name, "source": source}
        if run_id:
            body["run_id"] = run_id
        if model_id:
            body["model_id"] = model_id
        if tags:
            body["tags"] = kv(tags)
        return _model_version(self.transport.post(f"{API}/model-versions/create", body))

    def get_model_version(self, name: str, version: str | int) -> entities.ModelVersion:
        return _model_version(self.transport.get(f"{API}/model-versions/get", name=name, version=str(version)))

    def get_model_version_by_alias(self, name: str, alias: str) -> entities.ModelVersion:
        return _model_version(self.transport.get(f"{API}/registered-models/alias", name=name, alias=alias))

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        body = {"name": name, "alias": alias, "version": str(version)}
        self.transport.post(f"{API}/registered-models/alias", body)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.transport.request("DELETE", f"{API}/registered-models/alias", json={"name": name, "alias": alias})

    def search_registered_models(
        self, max_results: int | None = None, filter_string: str | None = None, order_by: Sequence[str] | None = None
    ) -> list[entities.RegisteredModel]:
        """Registered models matching `filter_string` (`name LIKE 'wine%'`, `tags.team = 'nlp'`), up to
        `max_results` (None: all), following the pages; by name unless `order_by` (`["name DESC"]`,
        `["last_updated_timestamp DESC"]`)."""
        return self._search_registry(
            "registered-models", "registered_models", entities.RegisteredModel, max_results, filter_string, order_by
        )

    def search_model_versions(
        self, max_results: int | None = None, filter_string: str | None = None, order_by: Sequence[str] | None = None
    ) -> list[entities.ModelVersion]:
        """Model versions matching `filter_string` (`name = 'wine'`, `run_id = '…'`, `tags.validated = 'yes'`),
        up to `max_results` (None: all), following the pages; `order_by` e.g. `["version_number DESC"]`."""
        return self._search_registry(
            "model-versions", "model_versions", entities.ModelVersion, max_results, filter_string, order_by
        )

    def _search_registry(
        self,
        resource: str,
        field: str,
        entity: type[T],
        max_results: int | None,
        filter_string: str | None,
        order_by: Sequence[str] | None,
    ) -> list[T]:
        """The pages of `<resource>/search`, whose answers list `field`."""

        def page(size: int, token: str | None) -> tuple[list[T], str | None]:
            body = self.transport.get(
                f"{API}/{resource}/search", filter=filter_arg(filter_string) or None, max_results=size,
                order_by=order_by_arg(order_by) or None, page_token=token,
            )  # fmt: skip
            return [msgspec.convert(item, entity) for item in body.get(field, [])], body.get("next_page_token")

        return all_pages(page, max_results)

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[entities.ModelVersion]:
        """The newest version in each of `stages` (every stage when empty), as MLflow answers it."""
        body = {"name": name, "stages": list(stages)}
        found = self.transport.post(f"{API}/registered-models/get-latest-versions", body).get("model_versions", [])
        return [msgspec.convert(v, entities.ModelVersion) for v in found]

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        found = self.transport.get(f"{API}/model-versions/get-download-uri", name=name, version=str(version))
        return str(found["artifact_uri"])


def _logged_model(answer: dict[str, Any]) -> entities.LoggedModel:
    return msgspec.convert(answer["model"], entities.LoggedModel)


def _model_version(answer: dict[str, Any]) -> entities.ModelVersion:
    return msgspec.convert(answer["model_version"], entities.ModelVersion)
