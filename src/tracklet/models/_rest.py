"""A stand-in for the parts of `tracklet.client.client.TrackletClient` that models use.

TO BE REPLACED BY TrackletClient AT MERGE: the client branch implements the same methods with the
same signatures and return values (the JSON objects MLflow's REST API answers). Only what
`tracklet.models.logging` calls lives here; it speaks the tracking and artifact-proxy protocols
of docs/mlflow-wire.md sections a and c with httpx.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

import httpx

from tracklet.errors import InvalidParameterValue, from_error_code

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class RestClient:
    def __init__(self, tracking_uri: str, *, timeout: float = 120.0) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self._http = httpx.Client(base_url=self.tracking_uri, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    # --- tracking ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(method, API + path, **kwargs)
        return self._json(response)

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        if response.is_error:
            code = body.get("error_code") if isinstance(body, dict) else None
            message = body.get("message") if isinstance(body, dict) else None
            raise from_error_code(
                code or "INTERNAL_ERROR", message or f"{response.status_code} from {response.request.url}"
            )
        return body if isinstance(body, dict) else {}

    def get_run(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self._call("GET", "/runs/get", params={"run_id": run_id})["run"]
        return run

    def create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        model_type: str = "",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"experiment_id": experiment_id, "name": name, "model_type": model_type}
        if source_run_id:
            body["source_run_id"] = source_run_id
        if params:
            body["params"] = [{"key": k, "value": str(v)} for k, v in params.items()]
        if tags:
            body["tags"] = [{"key": k, "value": str(v)} for k, v in tags.items()]
        model: dict[str, Any] = self._call("POST", "/logged-models", json=body)["model"]
        return model

    def get_logged_model(self, model_id: str) -> dict[str, Any]:
        model: dict[str, Any] = self._call("GET", f"/logged-models/{model_id}")["model"]
        return model

    def finalize_logged_model(self, model_id: str, status: str = "LOGGED_MODEL_READY") -> dict[str, Any]:
        body = {"model_id": model_id, "status": status}
        model: dict[str, Any] = self._call("PATCH", f"/logged-models/{model_id}", json=body)["model"]
        return model

    def search_logged_models(
        self, experiment_ids: list[str], filter_string: str = "", max_results: int = 100
    ) -> list[dict[str, Any]]:
        models: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"experiment_ids": experiment_ids, "max_results": max_results}
            if filter_string:
                body["filter"] = filter_string
            if token:
                body["page_token"] = token
            page = self._call("POST", "/logged-models/search", json=body)
            models.extend(page.get("models", []))
            token = page.get("next_page_token")
            if not token or len(models) >= max_results:
                return models[:max_results]

    def log_outputs(self, run_id: str, model_ids: list[str]) -> None:
        body = {"run_id": run_id, "models": [{"model_id": m, "step": 0} for m in model_ids]}
        self._call("POST", "/runs/outputs", json=body)

    # --- artifacts ---------------------------------------------------------------------------

    def _artifact_url(self, artifact_uri: str, path: str = "") -> tuple[str, str]:
        """(base URL of the artifact proxy, path under it) for a proxied artifact URI."""
        parsed = urlparse(artifact_uri)
        if parsed.scheme == "mlflow-artifacts":
            base = f"http://{parsed.netloc}" if parsed.netloc else self.tracking_uri
            root = parsed.path
        elif parsed.scheme in ("http", "https") and ARTIFACTS in parsed.path:
            before, _, root = parsed.path.partition(ARTIFACTS)
            base = f"{parsed.scheme}://{parsed.netloc}{before}"
        else:
            raise InvalidParameterValue(f"unsupported artifact URI {artifact_uri!r}")
        joined = "/".join(p for p in (root.strip("/"), path.strip("/")) if p)
        return base + ARTIFACTS, joined

    @staticmethod
    def _local_root(artifact_uri: str) -> Path | None:
        parsed = urlparse(artifact_uri)
        if parsed.scheme == "file":
            return Path(unquote(parsed.path))
        if parsed.scheme == "" or (len(parsed.scheme) == 1 and artifact_uri[1:3] == ":\\"):
            return Path(artifact_uri)
        return None

    def upload_artifacts_to(
        self, artifact_uri: str, local_dir_or_file: str | Path, artifact_path: str | None = None
    ) -> None:
        source = Path(local_dir_or_file)
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        local_root = self._local_root(artifact_uri)
        for file in files:
            rel = file.name if source.is_file() else file.relative_to(source).as_posix()
            rel = f"{artifact_path.strip('/')}/{rel}" if artifact_path else rel
            if local_root is not None:
                target = local_root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target)
                continue
            base, path = self._artifact_url(artifact_uri, rel)
            with open(file, "rb") as f:
                self._json(self._http.put(f"{base}/{quote(path)}", content=f.read()))

    def download_artifacts_from(self, artifact_uri: str, path: str, dst_path: str | Path) -> str:
        dst = Path(dst_path)
        target = dst / path if path else dst
        local_root = self._local_root(artifact_uri)
        if local_root is not None:
            source = local_root / path
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
            return str(target)
        base, root = self._artifact_url(artifact_uri, path)
        self._download(base, root, target)
        return str(target)

    def _download(self, base: str, remote: str, target: Path) -> None:
        listing = self._json(self._http.get(base, params={"path": remote}))
        files = listing.get("files", [])
        if not files:  # a file, or nothing: the proxy answers {} for both
            response = self._http.get(f"{base}/{quote(remote)}")
            if response.is_error:
                self._json(response)  # raises the server's error
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(response.content)
            return
        target.mkdir(parents=True, exist_ok=True)
        for entry in files:
            name = entry["path"].rsplit("/", 1)[-1]
            child = f"{remote}/{name}" if remote else name
            if entry.get("is_dir"):
                self._download(base, child, target / name)
            else:
                response = self._http.get(f"{base}/{quote(child)}")
                if response.is_error:
                    self._json(response)
                (target / name).write_bytes(response.content)
