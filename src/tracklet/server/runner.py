"""Running the server: migrate once, bind once, then serve from one or several worker processes.

Workers share the listening socket (bound before forking) and each builds its own app and
database connections after the fork; no configuration travels through environment variables, except
the metrics folder of `--expose-prometheus`, which prometheus_client reads from PROMETHEUS_MULTIPROC_DIR.
"""

from __future__ import annotations

import gc
import importlib
import logging
import multiprocessing
import os
import signal
import socket
import sys

import uvicorn

from tracklet.permissions import Permission
from tracklet.server import monitoring
from tracklet.server.app import TrackletApp, create_app
from tracklet.settings import Settings, admin_credentials, webhook_secret_keys
from tracklet.store.store import Store
from tracklet.webhooks.destinations import policy
from tracklet.webhooks.secrets import SecretBox, seal_stored_secrets

log = logging.getLogger("tracklet.server")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _serve_worker(settings: Settings, sock: socket.socket, app: TrackletApp | None = None) -> None:
    app = app or create_app(settings, store=Store(settings.store_uri, migrate=False))
    # No WebSocket endpoints: `ws="none"` spares each worker loading a WebSocket implementation.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30, ws="none")
    # What exists now (modules, the app, the store) lives as long as the process: keep the collector
    # from scanning it again. A large answer (a runs/search page of 1,000 runs) promotes enough objects
    # to trigger full collections every few requests, and each used to walk these ~80,000 objects.
    gc.freeze()
    uvicorn.Server(config).run(sockets=[sock])


def serve(settings: Settings) -> None:
    store = Store(settings.store_uri)  # apply migrations and create the default experiment once
    try:
        if settings.auth:  # checked before any worker starts: a bad setting stops the server here
            Permission.parse(settings.auth_default_permission, "default permission")
            username, password = admin_credentials()
            if store.ensure_admin(username, password):
                print(f"tracklet server: created the first user, admin '{username}'", file=sys.stderr, flush=True)
        policy(settings.webhook_policy)
        if not settings.enable_workspaces:
            store.refuse_other_workspaces()
        sealed = seal_stored_secrets(store, SecretBox(webhook_secret_keys()))
        if sealed:
            print(
                f"tracklet server: encrypted {sealed} webhook secrets under the first key", file=sys.stderr, flush=True
            )
    finally:
        store.close()
    if settings.expose_prometheus:
        monitoring.prepare(settings.expose_prometheus)
    sock = _bind(settings.host, settings.port)
    print(
        f"tracklet server listening on http://{settings.host}:{settings.port} "
        f"(store {settings.store_uri}, artifacts {settings.artifact_root}, workers {settings.workers}"
        f"{f', users required, default permission {settings.auth_default_permission}' if settings.auth else ''})",
        file=sys.stderr,
        flush=True,
    )
    if settings.workers <= 1:
        _serve_worker(settings, sock)
        return
    # Build the app once (its routes, the artifact store's client: boto3 and its service models for S3)
    # and load uvicorn's HTTP protocol and lifespan, then freeze the collector's view of it before
    # forking: the workers share those pages instead of each building a copy. No connection is open then
    # (the store is closed: its engine opens new ones in each worker), and the app's tasks and clients
    # start in the workers, on first use.
    app = create_app(settings, store=Store(settings.store_uri, migrate=False))
    app.state.store.close()
    for module in ("uvicorn.protocols.http.auto", "uvicorn.lifespan.on"):
        importlib.import_module(module)
    gc.freeze()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_serve_worker, args=(settings, sock, app)) for _ in range(settings.workers)]
    for worker in workers:
        worker.start()

    def stop(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.pid:
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.join()
