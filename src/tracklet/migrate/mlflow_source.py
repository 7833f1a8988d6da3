"""Reading an MLflow-protocol server (MLflow's own, or tracklet) over its REST API only.

Every list is read page by page (`experiments/search`, `runs/search`, `metrics/get-history`, the
registry searches, an evaluation dataset's records) so that nothing bigger than a page is held here. Errors of the source are translated
here, where they enter: a source that cannot be reached, refuses access or does not speak MLflow's
protocol raises `SourceError`, which the command prints as one line.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from tracklet.entities import DatasetInput, KeyValue
from tracklet.errors import TrackletError

API = "/api/2.0/mlflow"
TRACES_API = "/api/3.0/mlflow/traces"
DATASETS_API = "/api/3.0/mlflow/datasets"
SCORERS_API = "/api/3.0/mlflow/scorers"
RECORDS_PAGE = 1000  # records per `datasets/{id}/records` page (MLflow's default and its client's)
# What a source answers for an API it does not offer (an older MLflow, a registry turned off): then there
# is nothing of that kind to copy.
NOT_OFFERED = ("ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED", "FEATURE_DISABLED")
TRACES_PER_BATCH = 10  # MLflow's server serves at most 10 traces with their spans a request
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
HISTORY_PAGE = 25_000  # points per metrics/get-history page (the MLflow client's own page size)
_RETRY_STATUSES = (429, 500, 502, 503, 504)
_RETRIES = 4
_CHUNK = 1024 * 1024


class SourceError(TrackletError):
    """The source server cannot be read: unreachable, access refused, not an MLflow server, or it
    answered an error. Raised by the command only (never served): `error_code` is the source's own."""

    def __init__(self, message: str, error_code: str = "SOURCE_ERROR") -> None:
        super().__init__(message)
        self.error_code = error_code


# What the source sends, decoded leniently: MLflow omits empty and default fields.
class SourceExperiment(msgspec.Struct):
    experiment_id: str
    name: str
    lifecycle_stage: str = "active"
    creation_time: int | None = None
    last_update_time: int | None = None
    artifact_location: str = ""
    tags: list[KeyValue] = []


class SourceRunInfo(msgspec.Struct):
    run_id: str = ""
    run_uuid: str = ""
    run_name: str = ""
    experiment_id: str = ""
    user_id: str = ""
    status: str = "FINISHED"
    start_time: int = 0
    end_time: int | None = None
    artifact_uri: str = ""
    lifecycle_stage: str = "active"


class SourceMetric(msgspec.Struct):
    key: str
    value: float | str = 0.0
    timestamp: int = 0
    step: int = 0


class SourceRunData(msgspec.Struct):
    metrics: list[SourceMetric] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class SourceModelRef(msgspec.Struct):
    """A logged model a run took as input or produced (MLflow 3)."""

    model_id: str
    step: int = 0


class SourceRunInputs(msgspec.Struct):
    dataset_inputs: list[DatasetInput] = []
    model_inputs: list[SourceModelRef] = []


class SourceRunOutputs(msgspec.Struct):
    model_outputs: list[SourceModelRef] = []


class SourceRun(msgspec.Struct):
    info: SourceRunInfo
    data: SourceRunData = msgspec.field(default_factory=SourceRunData)
    inputs: SourceRunInputs = msgspec.field(default_factory=SourceRunInputs)
    outputs: SourceRunOutputs = msgspec.field(default_factory=SourceRunOutputs)

    @property
    def run_id(self) -> str:
        return self.info.run_id or self.info.run_uuid


class SourceLoggedModelInfo(msgspec.Struct):
    model_id: str
    name: str = ""
    artifact_uri: str = ""
    status: str = "LOGGED_MODEL_READY"
    model_type: str = ""
    source_run_id: str | None = None
    creation_timestamp_ms: int | None = None
    last_updated_timestamp_ms: int | None = None
    tags: list[KeyValue] = []


class SourceModelMetric(msgspec.Struct):
    key: str
    value: float | str = 0.0
    timestamp: int = 0
    step: int = 0
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class SourceLoggedModelData(msgspec.Struct):
    params: list[KeyValue] = []
    metrics: list[SourceModelMetric] = []


class SourceLoggedModel(msgspec.Struct):
    """A logged model (MLflow 3: what `log_model` records, `models:/m-…`)."""

    info: SourceLoggedModelInfo
    data: SourceLoggedModelData = msgspec.field(default_factory=SourceLoggedModelData)


class SourceFile(msgspec.Struct):
    path: str
    is_dir: bool = False
    file_size: int | None = None


class SourceAlias(msgspec.Struct):
    alias: str
    version: str


class SourceRegisteredModel(msgspec.Struct):
    name: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    tags: list[KeyValue] = []
    aliases: list[SourceAlias] = []


class SourceModelVersion(msgspec.Struct):
    name: str
    version: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    current_stage: str = "None"
    description: str | None = None
    source: str = ""
    run_id: str | None = None
    run_link: str | None = None
    status: str = "READY"
    tags: list[KeyValue] = []
    model_id: str | None = None


class SourceDataset(msgspec.Struct):
    """An evaluation dataset (MLflow 3, `datasets/search`): `tags` is JSON text, as on the wire."""

    dataset_id: str
    name: str
    digest: str = ""
    created_time: int = 0
    last_update_time: int = 0
    tags: str | None = None
    schema: str | None = None
    profile: str | None = None
    created_by: str | None = None
    last_updated_by: str | None = None


class SourceScorerVersion(msgspec.Struct):
    """One version of a registered scorer (MLflow 3): the client's serialized scorer, as stored."""

    scorer_name: str
    scorer_version: int
    serialized_scorer: str
    creation_time: int = 0
    scorer_id: str = ""


class _Experiments(msgspec.Struct):
    experiments: list[SourceExperiment] = []
    next_page_token: str | None = None


class _Runs(msgspec.Struct):
    runs: list[SourceRun] = []
    next_page_token: str | None = None


class _RunId(msgspec.Struct):
    info: SourceRunInfo


class _RunIds(msgspec.Struct):
    """A `runs/search` page decoded for the runs' ids only: the rest of each run is never built."""

    runs: list[_RunId] = []
    next_page_token: str | None = None


class _Page(Protocol):
    next_page_token: str | None


_AnyPage = TypeVar("_AnyPage", bound=_Page)
_Listed = TypeVar("_Listed")


class _History(msgspec.Struct):
    metrics: list[SourceMetric] = []
    next_page_token: str | None = None


class _GotRun(msgspec.Struct):
    run: SourceRun


class _TraceInfos(msgspec.Struct):
    traces: list[dict[str, Any]] = []
    next_page_token: str | None = None


class _Files(msgspec.Struct):
    files: list[SourceFile] = []


class _LoggedModels(msgspec.Struct):
    models: list[SourceLoggedModel] = []
    next_page_token: str | None = None


class _Datasets(msgspec.Struct):
    datasets: list[SourceDataset] = []
    next_page_token: str | None = None


class _DatasetExperiments(msgspec.Struct):
    experiment_ids: list[str] = []


class _Records(msgspec.Struct):
    records: str = "[]"  # JSON text of a list (Python's JSON: NaN is a pandas' missing value)
    next_page_token: str | None = None


class _Scorers(msgspec.Struct):
    scorers: list[SourceScorerVersion] = []


class _RegisteredModels(msgspec.Struct):
    registered_models: list[SourceRegisteredModel] = []
    next_page_token: str | None = None


class _ModelVersions(msgspec.Struct):
    model_versions: list[SourceModelVersion] = []
    next_page_token: str | None = None


def metric_value(value: float | str) -> float:
    """A metric value as sent: a number, or "NaN"/"Infinity"/"-Infinity"."""
    if isinstance(value, str):
        return float(value)  # float() reads "NaN", "Infinity" and "-Infinity"
    return value


def client_auth() -> tuple[dict[str, str], httpx.Auth | None, bool | str]:
    """Headers, auth and TLS verification from MLflow's client variables: basic auth when a user name
    and password are set, else a bearer token; MLFLOW_TRACKING_INSECURE_TLS and _SERVER_CERT_PATH."""
    headers = {"User-Agent": "tracklet-import-mlflow"}
    auth: httpx.Auth | None = None
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if user and password:
        auth = httpx.BasicAuth(user, password)
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    verify: bool | str = True
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        verify = False
    elif os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        verify = os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    return headers, auth, verify


class MlflowSource:
    """An MLflow tracking server read through its REST API. Use as an async context manager."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 120.0,
        history_page: int = HISTORY_PAGE,
        records_page: int = RECORDS_PAGE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise SourceError(f"The source must be an http:// or https:// URL of an MLflow server, not {url!r}")
        self.url = url.rstrip("/")
        self.history_page = history_page
        self.records_page = records_page
        headers, auth, verify = client_auth()
        self.http = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
        )

    async def __aenter__(self) -> MlflowSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    # -- transport ----------------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, retried on a transient failure (429/5xx, a dropped connection) with backoff."""
        for attempt in range(_RETRIES + 1):
            try:
                response = await self.http.request(method, path, **kwargs)
            except httpx.ConnectError as err:
                raise SourceError(f"Cannot reach the MLflow server at {self.url}: {err}") from None
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.TimeoutException) as err:
                if attempt == _RETRIES:
                    raise SourceError(f"The MLflow server at {self.url} stopped answering: {err!r}") from None
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == _RETRIES:
                    return response
            await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    async def call(self, method: str, endpoint: str, into: type[Any], *, api: str = API, **kwargs: Any) -> Any:
        """`endpoint` under `api` (/api/2.0/mlflow), its JSON answer decoded into `into`."""
        response = await self._send(method, api + endpoint, **kwargs)
        self._check(response, endpoint)
        try:
            return msgspec.json.decode(response.content or b"{}", type=into, strict=False)
        except msgspec.DecodeError as err:
            raise SourceError(
                f"{self.url} does not look like an MLflow server: {endpoint} answered something else ({err})"
            ) from None

    def _check(self, response: httpx.Response, endpoint: str) -> None:
        status = response.status_code
        if status in (401, 403):
            raise SourceError(
                f"The MLflow server at {self.url} refused access ({status}): set MLFLOW_TRACKING_TOKEN, or "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
                "UNAUTHENTICATED" if status == 401 else "PERMISSION_DENIED",
            )
        if status < 400:
            return
        try:
            body = msgspec.json.decode(response.content)
            code, message = body["error_code"], body.get("message", "")
        except (msgspec.DecodeError, KeyError, TypeError):
            if status == 404:
                raise SourceError(
                    f"{self.url} does not look like an MLflow server: {endpoint} answered 404", "ENDPOINT_NOT_FOUND"
                ) from None
            raise SourceError(f"The server at {self.url} answered {status} to {endpoint}") from None
        raise SourceError(f"The MLflow server at {self.url} answered {code} to {endpoint}: {message}", code)

    async def _pages(
        self, method: str, endpoint: str, shape: type[_AnyPage], fields: dict[str, Any], *, api: str = API
    ) -> AsyncIterator[_AnyPage]:
        """Every page of a listing, following `next_page_token`: a GET sends `fields` (and the token) as its
        query, a POST as its JSON body."""
        token: str | None = None
        while True:
            request = {**fields, "page_token": token} if token else fields
            sent = {"params": request} if method == "GET" else {"json": request}
            page = await self.call(method, endpoint, shape, api=api, **sent)
            yield page
            token = page.next_page_token
            if not token:
                return

    @staticmethod
    async def _if_offered(listing: Awaitable[_Listed], otherwise: _Listed) -> _Listed:
        """`listing`, or `otherwise` when the source does not offer that API (an older MLflow, a registry
        turned off): then there is nothing of that kind to copy."""
        try:
            return await listing
        except SourceError as err:
            if err.error_code in NOT_OFFERED:
                return otherwise
            raise

    # -- experiments and runs -----------------------------------------------------------------

    async def experiments(self) -> list[SourceExperiment]:
        """Every experiment, deleted ones included."""
        fields = {"max_results": 1000, "view_type": "ALL"}
        pages = self._pages("POST", "/experiments/search", _Experiments, fields)
        return await _gathered(pages, lambda page: page.experiments)

    async def runs(self, experiment_id: str) -> AsyncIterator[list[SourceRun]]:
        """The experiment's runs, deleted ones included, a page at a time (oldest first)."""
        async for page in self._run_pages(experiment_id, _Runs):
            if page.runs:
                yield page.runs

    async def run_ids(self, experiment_id: str) -> list[str]:
        """The ids of the experiment's runs, deleted ones included (oldest first): a listing that holds
        no run's params, tags or metrics, however many runs there are."""
        return [
            run.info.run_id or run.info.run_uuid
            async for page in self._run_pages(experiment_id, _RunIds)
            for run in page.runs
        ]

    def _run_pages(self, experiment_id: str, shape: type[_AnyPage]) -> AsyncIterator[_AnyPage]:
        fields = {
            "experiment_ids": [experiment_id],
            "run_view_type": "ALL",
            "max_results": 1000,
            "order_by": ["attributes.start_time ASC"],
        }
        return self._pages("POST", "/runs/search", shape, fields)

    async def run(self, run_id: str) -> SourceRun:
        got: _GotRun = await self.call("GET", "/runs/get", _GotRun, params={"run_id": run_id})
        return got.run

    async def history(self, run_id: str, key: str) -> AsyncIterator[list[SourceMetric]]:
        """Every point of one metric, a page at a time."""
        fields = {"run_id": run_id, "metric_key": key, "max_results": self.history_page}
        async for page in self._pages("GET", "/metrics/get-history", _History, fields):
            if page.metrics:
                yield page.metrics

    # -- artifacts (the proxy: mlflow-artifacts:/ URIs) ------------------------------------------

    async def walk_artifacts(self, root: str) -> AsyncIterator[tuple[str, int | None]]:
        """(path relative to `root`, size) of every file under the proxied folder `root`."""
        folders = [""]
        while folders:
            folder = folders.pop()
            path = f"{root}/{folder}".rstrip("/")
            response = await self._send("GET", ARTIFACTS_API, params={"path": path})
            self._check(response, ARTIFACTS_API)
            listing = msgspec.json.decode(response.content or b"{}", type=_Files, strict=False)
            for file in listing.files:
                relative = f"{folder}/{file.path.rsplit('/', 1)[-1]}".lstrip("/")
                if file.is_dir:
                    folders.append(relative)
                else:
                    yield relative, file.file_size

    async def download(self, path: str) -> AsyncIterator[bytes]:
        """A proxied file's bytes, streamed."""
        url = f"{ARTIFACTS_API}/{quote(path)}"
        for attempt in range(_RETRIES + 1):
            try:
                async with self.http.stream("GET", url) as response:
                    if response.status_code in _RETRY_STATUSES and attempt < _RETRIES:
                        await asyncio.sleep(0.5 * 2**attempt)
                        continue
                    if response.status_code >= 400:
                        await response.aread()
                        self._check(response, url)
                    async for chunk in response.aiter_bytes(_CHUNK):
                        yield chunk
                    return
            except httpx.ConnectError as err:
                raise SourceError(f"Cannot reach the MLflow server at {self.url}: {err}") from None

    # -- logged models (MLflow 3) -------------------------------------------------------------

    async def logged_models(self, experiment_id: str) -> list[SourceLoggedModel]:
        """The experiment's logged models (none from a server older than MLflow 3, which has none)."""
        pages = self._pages(
            "POST", "/logged-models/search", _LoggedModels, {"experiment_ids": [experiment_id], "max_results": 100}
        )
        return await self._if_offered(_gathered(pages, lambda page: page.models), [])

    # -- traces (MLflow 3) -------------------------------------------------------------------

    async def trace_ids(self, experiment_id: str) -> list[str]:
        """The ids of the experiment's traces (none from a server without MLflow 3's trace API)."""
        return [trace["trace_id"] for trace in await self._trace_infos(experiment_id)]

    async def traces_linked_to_run(self, experiment_id: str, run_id: str) -> list[str]:
        """The ids of the experiment's traces linked to the run after they were recorded (an evaluation's,
        `link_traces_to_run`), not those recorded in it: MLflow's `attribute.run_id` filter finds both."""
        infos = await self._trace_infos(experiment_id, f"attribute.run_id = '{run_id}'")
        return [t["trace_id"] for t in infos if t.get("trace_metadata", {}).get("mlflow.sourceRun") != run_id]

    async def _trace_infos(self, experiment_id: str, filter_string: str | None = None) -> list[dict[str, Any]]:
        location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
        fields = {"locations": [location], "filter": filter_string, "max_results": 500}
        pages = self._pages("POST", "/search", _TraceInfos, fields, api=TRACES_API)
        return await self._if_offered(_gathered(pages, lambda page: page.traces), [])

    async def traces(self, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
        """These traces whole (`trace_info` and `spans`, as MLflow 3's `traces/batchGet` sends them)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(trace_ids), TRACES_PER_BATCH):
            part = list(trace_ids[start : start + TRACES_PER_BATCH])
            page = await self.call("GET", "/batchGet", dict[str, Any], api=TRACES_API, params={"trace_ids": part})
            found += page.get("traces", [])
        return found

    # -- evaluation datasets and registered scorers (MLflow 3) ----------------------------------

    async def datasets(self, experiment_ids: Sequence[str] | None) -> list[SourceDataset]:
        """The evaluation datasets linked to any of these experiments (None: every dataset, linked or
        not); none from a server without MLflow 3's dataset API."""
        fields: dict[str, Any] = {"max_results": 1000}
        if experiment_ids is not None:
            fields["experiment_ids"] = list(experiment_ids)
        pages = self._pages("POST", "/search", _Datasets, fields, api=DATASETS_API)
        return await self._if_offered(_gathered(pages, lambda page: page.datasets), [])

    async def dataset_experiment_ids(self, dataset_id: str) -> list[str]:
        endpoint = f"/{quote(dataset_id, safe='')}/experiment-ids"
        answer: _DatasetExperiments = await self.call("GET", endpoint, _DatasetExperiments, api=DATASETS_API)
        return answer.experiment_ids

    async def dataset_records(self, dataset_id: str) -> AsyncIterator[list[dict[str, Any]]]:
        """The dataset's records, a page at a time, each as MLflow's `DatasetRecord.to_dict()` gives it."""
        endpoint = f"/{quote(dataset_id, safe='')}/records"
        async for page in self._pages("GET", endpoint, _Records, {"max_results": self.records_page}, api=DATASETS_API):
            try:
                records = json.loads(page.records or "[]")
            except ValueError:
                raise SourceError(
                    f"The MLflow server at {self.url} sent records of {dataset_id} that are not JSON"
                ) from None
            if records:
                yield records

    async def scorers(self, experiment_id: str) -> list[SourceScorerVersion]:
        """Every version of every scorer registered in the (active) experiment, by name then version; none
        from a server without MLflow 3's scorer API."""
        listing = self.call("GET", "/list", _Scorers, api=SCORERS_API, params={"experiment_id": experiment_id})
        latest = await self._if_offered(listing, _Scorers())
        found: list[SourceScorerVersion] = []
        for name in sorted({s.scorer_name for s in latest.scorers}):
            params = {"experiment_id": experiment_id, "name": name}
            versions: _Scorers = await self.call("GET", "/versions", _Scorers, api=SCORERS_API, params=params)
            found += sorted(versions.scorers, key=lambda v: v.scorer_version)
        return found

    # -- model registry -----------------------------------------------------------------------

    async def registered_models(self) -> list[SourceRegisteredModel] | None:
        """Every registered model, or None when the source has no registry."""
        pages = self._pages("GET", "/registered-models/search", _RegisteredModels, {"max_results": 1000})
        return await self._if_offered(_gathered(pages, lambda page: page.registered_models), None)

    async def model_versions(self, name: str) -> list[SourceModelVersion]:
        quote_char = '"' if "'" in name else "'"
        fields = {"filter": f"name={quote_char}{name}{quote_char}", "max_results": 1000}
        pages = self._pages("GET", "/model-versions/search", _ModelVersions, fields)
        found = await _gathered(pages, lambda page: page.model_versions)
        return sorted(found, key=lambda v: int(v.version))


async def _gathered(pages: AsyncIterator[_AnyPage], items: Callable[[_AnyPage], list[_Listed]]) -> list[_Listed]:
    """The items of every page, in order."""
    return [item async for page in pages for item in items(page)]


__all__ = [
    "HISTORY_PAGE",
    "MlflowSource",
    "SourceDataset",
    "SourceError",
    "SourceExperiment",
    "SourceLoggedModel",
    "SourceMetric",
    "SourceModelRef",
    "SourceModelVersion",
    "SourceRegisteredModel",
    "SourceRun",
    "SourceScorerVersion",
    "client_auth",
    "metric_value",
]
