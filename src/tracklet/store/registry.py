"""The model registry: registered models, their numbered versions, stages, tags and aliases.

Semantics follow MLflow 3.17's SQL registry store: versions are numbered 1, 2, 3 ... per model and a
deleted version keeps its row (stage `Deleted_Internal`, fields redacted) so its number is never
reused; deleting a model removes everything of it; `latest_versions` holds the newest version of
each stage. Every write is one transaction: a request that fails writes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, delete, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from tracklet.entities import KeyValue, ModelVersion, RegisteredModel, RegisteredModelAlias
from tracklet.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracklet.store import model_sources as src
from tracklet.store import schema as s
from tracklet.store import search
from tracklet.store._util import now_ms
from tracklet.store.database import Database
from tracklet.store.search_sql import PROMPT_TAG
from tracklet.store.workspaces import DEFAULT_WORKSPACE, current_workspace
from tracklet.validation import ACTIVE_STAGES, STAGES, canonical_stage

DELETED = "Deleted_Internal"
MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # on a logged model: the versions registered from it
_INT32 = 2**31  # versions are INTEGER columns: a larger number names no version

PROMPT_SOURCES = ("dummy-source", "prompt-template")  # the placeholders MLflow's prompt clients send

VersionKey = tuple[int, int]  # (registered_model_id, version)


def is_prompt(tags: list[KeyValue]) -> bool:
    """A prompt version, as MLflow tells: the last `mlflow.prompt.is_prompt` tag says "true"."""
    values = {tag.key: tag.value for tag in tags}
    return values.get(PROMPT_TAG, "false").lower() == "true"


def _workspace() -> str:
    """Registered model names are unique per workspace; without workspaces every model is `default`'s."""
    return current_workspace() or DEFAULT_WORKSPACE


def _IN_WORKSPACE() -> ColumnElement[bool]:  # noqa: N802 - reads as the condition it is
    return s.registered_models.c.workspace == _workspace()


class RegistryStore:
    db: Database

    # -- lookups -------------------------------------------------------------------------------

    def _registered_model_row(self, conn: Connection, name: str, lock: bool = False) -> Row[Any]:
        query = select(s.registered_models).where(s.registered_models.c.name == name, _IN_WORKSPACE())
        if lock:  # PostgreSQL: writers of one model's versions queue here (SQLite has one writer anyway)
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise ResourceDoesNotExist(f"Registered Model with name={name} not found")
        return row

    def _version_row(self, conn: Connection, name: str, version: int, lock: bool = False) -> Row[Any]:
        model = self._registered_model_row(conn, name, lock)
        mv = s.model_versions
        row = None
        if -_INT32 <= version < _INT32:
            row = conn.execute(
                select(mv).where(
                    mv.c.registered_model_id == model.id, mv.c.version == version, mv.c.current_stage != DELETED
                )
            ).first()
        if row is None:
            raise ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")
        return row

    def _load_model_versions(self, conn: Connection, keys: Sequence[VersionKey]) -> list[ModelVersion]:
        if not keys:
            return []
        mv, rm = s.model_versions, s.registered_models
        wanted = tuple_(mv.c.registered_model_id, mv.c.version).in_(list(keys))
        rows = {
            (r.registered_model_id, r.version): r
            for r in conn.execute(select(mv, rm.c.name).join(rm, rm.c.id == mv.c.registered_model_id).where(wanted))
        }
        tags: dict[VersionKey, list[KeyValue]] = defaultdict(list)
        t = s.model_version_tags
        for r in conn.execute(
            select(t).where(tuple_(t.c.registered_model_id, t.c.version).in_(list(keys))).order_by(t.c.key)
        ):
            tags[(r.registered_model_id, r.version)].append(KeyValue(key=r.key, value=r.value))
        aliases: dict[VersionKey, list[str]] = defaultdict(list)
        a = s.registered_model_aliases
        model_ids = sorted({k[0] for k in keys})
        for r in conn.execute(select(a).where(a.c.registered_model_id.in_(model_ids)).order_by(a.c.alias)):
            aliases[(r.registered_model_id, r.version)].append(r.alias)
        return [
            ModelVersion(
                name=r.name,
                version=str(r.version),
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                current_stage=r.current_stage,
                source=r.source,
                status=r.status,
                description=r.description,
                run_id=r.run_id,
                run_link=r.run_link,
                tag_list=tags.get(key, []),
                aliases=aliases.get(key, []),
            )
            for key in keys
            if (r := rows.get(key)) is not None  # type: ignore[assignment]
        ]

    def _load_registered_models(self, conn: Connection, ids: Sequence[int]) -> list[RegisteredModel]:
        if not ids:
            return []
        rm, mv = s.registered_models, s.model_versions
        rows = {r.id: r for r in conn.execute(select(rm).where(rm.c.id.in_(list(ids))))}
        latest = conn.execute(
            select(mv.c.registered_model_id, func.max(mv.c.version))
            .where(mv.c.registered_model_id.in_(list(ids)), mv.c.current_stage != DELETED)
            .group_by(mv.c.registered_model_id, mv.c.current_stage)
        ).all()
        versions: dict[int, list[ModelVersion]] = defaultdict(list)
        ordered = sorted((int(m), int(v)) for m, v in latest)
        for key, version in zip(ordered, self._load_model_versions(conn, ordered), strict=True):
            versions[key[0]].append(version)
        tags: dict[int, list[KeyValue]] = defaultdict(list)
        t = s.registered_model_tags
        for r in conn.execute(select(t).where(t.c.registered_model_id.in_(list(ids))).order_by(t.c.key)):
            tags[r.registered_model_id].append(KeyValue(key=r.key, value=r.value))
        aliases: dict[int, list[RegisteredModelAlias]] = defaultdict(list)
        a = s.registered_model_aliases
        for r in conn.execute(select(a).where(a.c.registered_model_id.in_(list(ids))).order_by(a.c.alias)):
            aliases[r.registered_model_id].append(RegisteredModelAlias(alias=r.alias, version=str(r.version)))
        return [
            RegisteredModel(
                name=r.name,
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                description=r.description or None,
                latest_versions=versions.get(r.id, []),
                tag_list=tags.get(r.id, []),
                alias_list=aliases.get(r.id, []),
            )
            for model_id in ids
            if (r := rows.get(model_id)) is not None  # type: ignore[assignment]
        ]

    def _registry_page(
        self, make_select: Callable[[int, int], Select[Any]], load: Callable[[Connection, list[Any]], list[Any]],
        max_results: int, page_token: str | None,
    ) -> tuple[list[Any], str | None]:  # fmt: skip
        offset = search.decode_page_token(page_token)
        with self.db.read() as conn:
            keys = [
                tuple(row) if len(row) > 1 else row[0] for row in conn.execute(make_select(max_results + 1, offset))
            ]
            items = load(conn, keys[:max_results])
        token = search.encode_page_token(offset + max_results) if len(keys) > max_results else None
        return items, token

    # -- import (`tracklet import-mlflow`) -----------------------------------------------------

    def import_registered_model(
        self,
        name: str,
        description: str | None,
        tags: list[KeyValue],
        creation_time: int | None,
        last_updated_time: int | None,
    ) -> bool:
        """A registered model copied from another registry with its times; False (nothing written) when
        one of that name exists."""
        t = now_ms()
        with self.db.write() as conn:
            if conn.execute(
                select(s.registered_models.c.id).where(
                    s.registered_models.c.name == name, s.registered_models.c.workspace == DEFAULT_WORKSPACE
                )
            ).first():
                return False
            model_id = conn.execute(
                s.registered_models.insert()
                .values(
                    name=name,
                    creation_time=creation_time or t,
                    last_updated_time=last_updated_time or creation_time or t,
                    description=description or None,
                )
                .returning(s.registered_models.c.id)
            ).scalar_one()
            self._upsert_registry_tags(conn, s.registered_model_tags, {"registered_model_id": model_id}, tags)
        return True

    def import_model_version(self, version: ModelVersion, storage_location: str, model_id: str | None = None) -> bool:
        """A version copied from another registry under its own number, stage, status and times (the
        source is not checked: it was accepted there), registered from logged model `model_id` if given;
        False when that number exists already."""
        t = now_ms()
        with self.db.write() as conn:
            model = self._registered_model_row(conn, version.name, lock=True)
            mv = s.model_versions
            number = int(version.version)
            taken = conn.execute(
                select(mv.c.version).where(mv.c.registered_model_id == model.id, mv.c.version == number)
            ).first()
            if taken is not None:
                return False
            conn.execute(
                mv.insert().values(
                    registered_model_id=model.id,
                    version=number,
                    creation_time=version.creation_timestamp or t,
                    last_updated_time=version.last_updated_timestamp or version.creation_timestamp or t,
                    description=version.description,
                    current_stage=version.current_stage or "None",
                    source=version.source or "",
                    storage_location=storage_location,
                    run_id=version.run_id,
                    run_link=version.run_link,
                    model_id=model_id,
                    status=version.status or "READY",
                )
            )
            owner = {"registered_model_id": model.id, "version": number}
            self._upsert_registry_tags(conn, s.model_version_tags, owner, version.tag_list)
        return True

    # -- registered models ---------------------------------------------------------------------

    def create_registered_model(self, name: str, tags: list[KeyValue], description: str | None) -> RegisteredModel:
        t, rm = now_ms(), s.registered_models
        try:
            with self.db.write() as conn:
                if conn.execute(select(s.registered_models.c.id).where(rm.c.name == name, _IN_WORKSPACE())).first():
                    raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.")
                model_id = conn.execute(
                    rm.insert()
                    .values(
                        name=name,
                        creation_time=t,
                        last_updated_time=t,
                        description=description or None,
                        workspace=_workspace(),
                    )
                    .returning(s.registered_models.c.id)
                ).scalar_one()
                self._upsert_registry_tags(conn, s.registered_model_tags, {"registered_model_id": model_id}, tags)
                return self._load_registered_models(conn, [model_id])[0]
        except IntegrityError:  # PostgreSQL: another request created it in between
            raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.") from None

    def _upsert_registry_tags(self, conn: Connection, table: Any, owner: dict[str, int], tags: list[KeyValue]) -> None:
        if not tags:
            return
        last = {tag.key: tag.value for tag in tags}  # the last value of a repeated key wins
        stmt = self.db.insert(table)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=[*owner, "key"], set_={"value": stmt.excluded.value}),
            [{**owner, "key": k, "value": v} for k, v in last.items()],
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.db.read() as conn:
            return self._load_registered_models(conn, [self._registered_model_row(conn, name).id])[0]

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        t = now_ms()
        try:
            with self.db.write() as conn:
                model = self._registered_model_row(conn, name, lock=True)
                if (
                    new_name != name
                    and conn.execute(
                        select(s.registered_models.c.id).where(
                            s.registered_models.c.name == new_name, s.registered_models.c.workspace == model.workspace
                        )
                    ).first()
                ):
                    raise ResourceAlreadyExists(f"Registered Model (name={new_name}) already exists.")
                conn.execute(
                    update(s.registered_models)
                    .where(s.registered_models.c.id == model.id)
                    .values(name=new_name, last_updated_time=t)
                )
                conn.execute(
                    update(s.model_versions)
                    .where(s.model_versions.c.registered_model_id == model.id)
                    .values(last_updated_time=t)
                )
                permissions = s.registered_model_permissions
                mine = permissions.c.workspace == model.workspace
                conn.execute(delete(permissions).where(permissions.c.name == new_name, mine))  # left by no model
                conn.execute(update(permissions).where(permissions.c.name == name, mine).values(name=new_name))
                return self._load_registered_models(conn, [model.id])[0]
        except IntegrityError:
            raise ResourceAlreadyExists(f"Registered Model (name={new_name}) already exists.") from None

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        with self.db.write() as conn:
            model = self._registered_model_row(conn, name)
            conn.execute(
                update(s.registered_models)
                .where(s.registered_models.c.id == model.id)
                .values(description=description, last_updated_time=now_ms())
            )
            return self._load_registered_models(conn, [model.id])[0]

    def delete_registered_model(self, name: str) -> None:
        with self.db.write() as conn:
            model = self._registered_model_row(conn, name, lock=True)
            for table in (s.model_version_tags, s.model_versions, s.registered_model_aliases, s.registered_model_tags):
                conn.execute(delete(table).where(table.c.registered_model_id == model.id))
            conn.execute(delete(s.registered_models).where(s.registered_models.c.id == model.id))
            grants = s.registered_model_permissions
            conn.execute(delete(grants).where(grants.c.name == name, grants.c.workspace == model.workspace))

    def search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> tuple[list[RegisteredModel], str | None]:
        from tracklet.store import search_sql

        return self._registry_page(
            lambda limit, offset: search_sql.registered_model_search_select(filter_string, order_by, limit, offset),
            self._load_registered_models,
            max_results,
            page_token,
        )

    def get_latest_versions(self, name: str, stages: list[str]) -> list[ModelVersion]:
        with self.db.read() as conn:
            model = self._load_registered_models(conn, [self._registered_model_row(conn, name).id])[0]
        # After the model lookup, as in MLflow: `models:/<unknown>/<stage>` is "not found", whatever the stage.
        wanted = {canonical_stage(stage, "stages") for stage in stages} or set(STAGES)
        return [mv for mv in model.latest_versions if mv.current_stage in wanted]

    def is_prompt_model(self, name: str) -> bool:
        """Whether registered model `name` is a prompt, as MLflow's server tells (its `mlflow.prompt.is_prompt`
        tag says "true"); False when there is no such model."""
        t, rm = s.registered_model_tags, s.registered_models
        with self.db.read() as conn:
            value = conn.execute(
                select(t.c.value)
                .join(rm, rm.c.id == t.c.registered_model_id)
                .where(rm.c.name == name, _IN_WORKSPACE(), t.c.key == PROMPT_TAG)
            ).scalar()
        return value is not None and str(value).lower() == "true"

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        with self.db.write() as conn:
            model = self._registered_model_row(conn, name)
            self._upsert_registry_tags(
                conn, s.registered_model_tags, {"registered_model_id": model.id}, [KeyValue(key, value)]
            )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        # A missing tag is no error, as in MLflow.
        with self.db.write() as conn:
            model = self._registered_model_row(conn, name)
            t = s.registered_model_tags
            conn.execute(delete(t).where(t.c.registered_model_id == model.id, t.c.key == key))

    # -- aliases -------------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        with self.db.write() as conn:
            row = self._version_row(conn, name, version)
            stmt = self.db.insert(s.registered_model_aliases)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["registered_model_id", "alias"], set_={"version": stmt.excluded.version}
                ),
                {"registered_model_id": row.registered_model_id, "alias": alias, "version": version},
            )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        with self.db.write() as conn:
            model = self._registered_model_row(conn, name)
            a = s.registered_model_aliases
            conn.execute(delete(a).where(a.c.registered_model_id == model.id, a.c.alias == alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self.db.read() as conn:
            model = self._registered_model_row(conn, name)
            mv = s.model_versions
            if alias.lower() == "latest":
                version = conn.execute(
                    select(func.max(mv.c.version)).where(
                        mv.c.registered_model_id == model.id, mv.c.current_stage != DELETED
                    )
                ).scalar()
                if version is None:
                    raise ResourceDoesNotExist(f"Latest version not found for model {name}.")
            else:
                a = s.registered_model_aliases
                version = conn.execute(
                    select(a.c.version).where(a.c.registered_model_id == model.id, a.c.alias == alias)
                ).scalar()
                if version is None:
                    raise InvalidParameterValue(f"Registered model alias {alias} not found.")
            return self._load_model_versions(conn, [(model.id, version)])[0]

    # -- model versions ------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: list[KeyValue],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
    ) -> ModelVersion:
        t = now_ms()
        with self.db.write() as conn:
            if is_prompt(tags):  # MLflow's prompt registry keeps prompt versions as model versions
                if source not in PROMPT_SOURCES:
                    raise InvalidParameterValue(
                        f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder."
                    )
                storage = source
            else:
                source, storage, run_id, model_id = self._resolve_source(conn, source, run_id, model_id)
            if run_id is None and model_id is None:
                run_id = ""  # MLflow answers "run_id": "" for a version registered without a run
            model = self._registered_model_row(conn, name, lock=True)
            mv = s.model_versions
            latest = conn.execute(select(func.max(mv.c.version)).where(mv.c.registered_model_id == model.id)).scalar()
            version = (latest or 0) + 1
            conn.execute(
                mv.insert().values(
                    registered_model_id=model.id,
                    version=version,
                    creation_time=t,
                    last_updated_time=t,
                    description=description,
                    current_stage="None",
                    source=source,
                    storage_location=storage,
                    run_id=run_id,
                    run_link=run_link,
                    model_id=model_id,
                    status="READY",
                )
            )
            owner = {"registered_model_id": model.id, "version": version}
            self._upsert_registry_tags(conn, s.model_version_tags, owner, tags)
            conn.execute(
                update(s.registered_models).where(s.registered_models.c.id == model.id).values(last_updated_time=t)
            )
            if model_id and not is_prompt(tags):
                self._link_logged_model(conn, model_id, name, version)
            return self._load_model_versions(conn, [(model.id, version)])[0]

    def _resolve_source(
        self, conn: Connection, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str, str, str | None, str | None]:
        """MLflow's checks of a new version's source, in its order; gives (source, download location,
        run_id, model_id). A logged-model source downloads from the model's artifact location, a
        registered one from that version's location, anything else from the source itself."""
        logged = self._source_logged_model(conn, model_id) if model_id else None
        if src.is_local(source):
            owner = logged.artifact_location if logged else self._run_artifact_uri(conn, run_id, source)
            if owner is None or not src.local_within(source, owner):
                what = "model_id" if model_id else "run_id"
                raise InvalidParameterValue(
                    f"Invalid model version source: '{source}'. To use a local path as a model version source, "
                    f"the {what} request parameter has to be specified and the local path has to be contained "
                    f"within the artifact directory of the run specified by the {what}."
                )
            return source, source, run_id or (logged.source_run_id if logged else None), model_id
        src.check_no_relative_paths(source)
        scheme = source.split(":", 1)[0].lower()
        if scheme == "models":
            if source[len("models:") :].startswith("//"):
                raise src.invalid_source(source, "model_id")
            uri = src.parse_model_uri(source)
            if uri.model_id is not None:
                if uri.model_id != model_id or logged is None:
                    raise src.invalid_source(source, "model_id")
                return source, logged.artifact_location, run_id or logged.source_run_id, model_id
            return self._registered_source(conn, uri, run_id, model_id)
        if logged is not None:  # a logged model's version whose source is not models:/<model_id>
            if scheme == "runs" or (
                src.is_proxied_artifact(source) and not src.uri_within(source, logged.artifact_location)
            ):
                raise src.invalid_source(source, "model_id")
            return source, source, run_id or logged.source_run_id, model_id
        if scheme == "runs":
            parsed = source[len("runs:") :]
            source_run = parsed.lstrip("/").split("/", 1)[0]
            if parsed.startswith("//") or not run_id or source_run != run_id:
                raise src.invalid_source(source, "run_id")
        elif src.is_proxied_artifact(source):
            root = self._run_artifact_uri(conn, run_id, source)
            if root is None or not src.uri_within(source, root):
                raise src.invalid_source(source, "run_id")
        return source, source, run_id, model_id

    def _registered_source(
        self, conn: Connection, uri: src.ModelUri, run_id: str | None, model_id: str | None
    ) -> tuple[str, str, str | None, str | None]:
        """A version copied from another registered version (`models:/<name>/<version|stage>`, `@alias`)."""
        assert uri.name is not None
        model = self._registered_model_row(conn, uri.name)
        mv = s.model_versions
        live = [mv.c.registered_model_id == model.id, mv.c.current_stage != DELETED]
        version: int | None
        if uri.version is not None:
            version = int(uri.version)
        elif uri.alias is not None:
            a = s.registered_model_aliases
            version = conn.execute(
                select(a.c.version).where(a.c.registered_model_id == model.id, a.c.alias == uri.alias)
            ).scalar()
            if version is None:
                raise InvalidParameterValue(f"Registered model alias {uri.alias} not found.")
        else:
            if uri.stage is not None:
                live.append(mv.c.current_stage == canonical_stage(uri.stage))
            version = conn.execute(select(func.max(mv.c.version)).where(*live)).scalar()
            if version is None:
                raise ResourceDoesNotExist(f"No versions of model with name '{uri.name}' and stage '{uri.stage}' found")
        row = self._version_row(conn, uri.name, version)
        if (run_id is not None and run_id != (row.run_id or "")) or (
            model_id is not None and model_id != (row.model_id or "")
        ):
            raise InvalidParameterValue(
                f"Invalid model version source: 'models:/{uri.name}/{version}'. The run_id and model_id request "
                "parameters must match the referenced model version."
            )
        return (
            f"models:/{uri.name}/{version}",
            row.storage_location,
            row.run_id if run_id is None else run_id,
            row.model_id if model_id is None else model_id,
        )

    def _source_logged_model(self, conn: Connection, model_id: str) -> Any:
        lm = s.logged_models
        row = conn.execute(
            select(lm.c.artifact_location, lm.c.source_run_id, lm.c.lifecycle_stage).where(lm.c.model_id == model_id)
        ).first()
        if row is None or row.lifecycle_stage != "active":
            raise ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")
        return row

    def _run_artifact_uri(self, conn: Connection, run_id: str | None, source: str) -> str | None:
        if not run_id:
            return None
        uri = conn.execute(select(s.runs.c.artifact_uri).where(s.runs.c.run_uuid == run_id)).scalar()
        if uri is None:
            raise src.invalid_source(source, "run_id")
        return str(uri)

    def _link_logged_model(self, conn: Connection, model_id: str, name: str, version: int) -> None:
        """The logged model's `mlflow.modelVersions` tag lists the versions registered from it
        (`[{"name": …, "version": 1}]`, versions as numbers, as MLflow's server writes them)."""
        t = s.logged_model_tags
        current = conn.execute(
            select(t.c.value).where(t.c.model_id == model_id, t.c.key == MODEL_VERSIONS_TAG)
        ).scalar()
        entry = {"name": name, "version": version}
        try:
            listed = json.loads(current) if current else []
        except ValueError:
            listed = []
        if not isinstance(listed, list):
            listed = []
        if entry not in listed:
            listed.append(entry)
        stmt = self.db.insert(t)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["model_id", "key"], set_={"value": stmt.excluded.value}),
            {"model_id": model_id, "key": MODEL_VERSIONS_TAG, "value": json.dumps(listed)},
        )

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        with self.db.read() as conn:
            row = self._version_row(conn, name, version)
            return self._load_model_versions(conn, [(row.registered_model_id, version)])[0]

    def get_model_version_download_uri(self, name: str, version: int) -> str:
        with self.db.read() as conn:
            return str(self._version_row(conn, name, version).storage_location)

    def update_model_version(self, name: str, version: int, description: str | None) -> ModelVersion:
        with self.db.write() as conn:
            row = self._version_row(conn, name, version)
            mv = s.model_versions
            values: dict[str, Any] = {"last_updated_time": now_ms()}
            if description is not None:
                values["description"] = description
            conn.execute(
                update(mv)
                .where(mv.c.registered_model_id == row.registered_model_id, mv.c.version == version)
                .values(**values)
            )
            return self._load_model_versions(conn, [(row.registered_model_id, version)])[0]

    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing: bool
    ) -> ModelVersion:
        stage = canonical_stage(stage)
        if archive_existing and stage not in ACTIVE_STAGES:
            raise InvalidParameterValue(
                f"Model version transition cannot archive existing model versions because '{stage}' is not an "
                f"Active stage. Valid stages are {list(ACTIVE_STAGES)}"
            )
        t = now_ms()
        with self.db.write() as conn:
            row = self._version_row(conn, name, version, lock=True)
            mv = s.model_versions
            of_model = mv.c.registered_model_id == row.registered_model_id
            if archive_existing:
                conn.execute(
                    update(mv)
                    .where(of_model, mv.c.version != version, mv.c.current_stage == stage)
                    .values(current_stage="Archived", last_updated_time=t)
                )
            conn.execute(
                update(mv).where(of_model, mv.c.version == version).values(current_stage=stage, last_updated_time=t)
            )
            conn.execute(
                update(s.registered_models)
                .where(s.registered_models.c.id == row.registered_model_id)
                .values(last_updated_time=t)
            )
            return self._load_model_versions(conn, [(row.registered_model_id, version)])[0]

    def delete_model_version(self, name: str, version: int) -> None:
        t = now_ms()
        with self.db.write() as conn:
            row = self._version_row(conn, name, version, lock=True)
            model_id = row.registered_model_id
            a, mv = s.registered_model_aliases, s.model_versions
            conn.execute(delete(a).where(a.c.registered_model_id == model_id, a.c.version == version))
            conn.execute(
                update(mv)
                .where(mv.c.registered_model_id == model_id, mv.c.version == version)
                .values(
                    current_stage=DELETED,
                    last_updated_time=t,
                    description=None,
                    source="REDACTED-SOURCE-PATH",
                    storage_location="REDACTED-SOURCE-PATH",
                    run_id="REDACTED-RUN-ID",
                    run_link="REDACTED-RUN-LINK",
                )
            )
            conn.execute(
                update(s.registered_models).where(s.registered_models.c.id == model_id).values(last_updated_time=t)
            )

    def search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> tuple[list[ModelVersion], str | None]:
        from tracklet.store import search_sql

        return self._registry_page(
            lambda limit, offset: search_sql.model_version_search_select(filter_string, order_by, limit, offset),
            self._load_model_versions,
            max_results,
            page_token,
        )

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        with self.db.write() as conn:
            row = self._version_row(conn, name, version)
            owner = {"registered_model_id": row.registered_model_id, "version": version}
            self._upsert_registry_tags(conn, s.model_version_tags, owner, [KeyValue(key, value)])

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        with self.db.write() as conn:
            row = self._version_row(conn, name, version)
            t = s.model_version_tags
            conn.execute(
                delete(t).where(
                    t.c.registered_model_id == row.registered_model_id, t.c.version == version, t.c.key == key
                )
            )
