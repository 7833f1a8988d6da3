"""Delivering webhook events as MLflow's server does, so that receivers written for MLflow take tracklet's.

A delivery is a POST of `{"entity", "action", "timestamp", "data"}` (`json.dumps`, as MLflow) with the
headers `X-MLflow-Delivery-Id` (a UUID, the same for every attempt), `X-MLflow-Timestamp` (Unix seconds)
and, when the webhook has a secret, `X-MLflow-Signature: v1,<base64 HMAC-SHA256 of
"<delivery id>.<timestamp>.<body>">`. A failed attempt is retried as MLflow's urllib3 policy does: 3
retries on connection errors, timeouts and the statuses 429, 500, 502, 503, 504, the first at once, then
after 2 and 4 seconds plus up to a second of jitter, or after the receiver's Retry-After (429, 503; at
most 60 s here). Redirects are not followed (a redirect could lead anywhere the destination check
refused), and proxies from the environment are not used (the checked address must be the one reached).

`Webhooks.emit` is called by an endpoint after its change is committed and returns at once: looking up
the subscribers, signing and sending happen in an asyncio task of the worker that served the request,
at most 16 sends at a time, with a timeout per attempt (`--webhook-timeout`, 30 s as MLflow). Nothing a
receiver does (hang, fail, refuse) reaches the request, which has its answer already. Subscribers are
read from the database for each event, so every worker sees a webhook created, changed or disabled
through another at once. A delivery is not kept anywhere: one still pending when its worker stops gets
a few seconds to finish (then it is logged and dropped), as MLflow's in-memory thread pool drops them.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tracklet._version import __version__
from tracklet.entities import WebhookTestResult
from tracklet.server.protocol import run_sync
from tracklet.store.store import Store
from tracklet.store.webhooks import Subscriber
from tracklet.webhooks.destinations import DestinationRefused, addresses, policy, split_url
from tracklet.webhooks.events import EXAMPLES, Event, Occurrence
from tracklet.webhooks.secrets import SecretBox, SecretUnavailable

log = logging.getLogger("tracklet.webhooks")

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"

MAX_RETRIES = 3
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_WAIT = 60.0  # seconds: MLflow's backoff_max, also the cap of a Retry-After here
MAX_CONCURRENT_SENDS = 16
MAX_PENDING_EVENTS = 10_000  # beyond this a worker drops new events (logged) rather than grow without bound
ANSWER_LIMIT = 64 * 1024  # bytes of a receiver's answer kept (shown by `test`)
SHUTDOWN_GRACE = 5.0  # seconds a stopping worker waits for deliveries under way


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """MLflow's signature (`mlflow.webhooks.delivery._generate_hmac_signature`): `v1,` and the base64
    HMAC-SHA256, keyed by the secret, of `<delivery id>.<timestamp>.<body>`."""
    signed = f"{delivery_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


@dataclass(frozen=True)
class Request:
    """One delivery, ready to send (and to send again: every attempt carries the same id and signature)."""

    url: str
    body: str
    headers: dict[str, str]


def prepare(url: str, event: Event, data: dict[str, Any], secret: str | None) -> Request:
    body = json.dumps(
        {"entity": event.entity, "action": event.action, "timestamp": datetime.now(UTC).isoformat(), "data": data}
    )
    delivery_id = str(uuid.uuid4())
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", DELIVERY_ID_HEADER: delivery_id, TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, delivery_id, timestamp, body)
    return Request(url, body, headers)


def backoff(retry: int) -> float:
    """Seconds before retry number `retry` (1, 2, 3): urllib3's `backoff_factor=1` with jitter."""
    if retry <= 1:
        return 0.0
    return min(MAX_WAIT, 2.0 ** (retry - 1) + random.random())


def retry_after(response_headers: httpx.Headers) -> float | None:
    value = response_headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        when = email.utils.parsedate_tz(value)
        if when is None:
            return None
        seconds = email.utils.mktime_tz(when) - time.time()
    return max(0.0, min(MAX_WAIT, seconds))


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: str  # the first `ANSWER_LIMIT` bytes, decoded


class Webhooks:
    """The webhooks of one server process (`app.state.webhooks`): emits events, tests webhooks."""

    def __init__(self, store: Store, secrets: SecretBox, destinations: str, timeout: float) -> None:
        self.store = store
        self.secrets = secrets
        self.destinations = policy(destinations)
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- sending -------------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                # A connection is made to a checked address under its name's certificate: never reused
                # for another name that happens to resolve to the same address.
                limits=httpx.Limits(max_keepalive_connections=0),
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": f"tracklet/{__version__}"},
            )
        return self._client

    async def post(self, request: Request) -> Answer:
        """One attempt: to each checked address of the URL's host in turn until one connects. Raises
        DestinationRefused, or httpx's errors (connection, timeout)."""
        scheme, host, port = split_url(request.url)
        target = httpx.URL(request.url)
        headers = {**request.headers, "Host": target.netloc.decode("ascii")}
        # TLS verifies the certificate against the name, though the connection goes to an address.
        named = scheme == "https" and not target.raw_host.replace(b".", b"").isdigit() and b":" not in target.raw_host
        extensions = {"sni_hostname": target.raw_host.decode("ascii")} if named else {}
        failure: Exception | None = None
        for ip in await addresses(host, port, self.destinations):
            outgoing = self._http().build_request(
                "POST", target.copy_with(host=ip), content=request.body.encode(), headers=headers, extensions=extensions
            )
            try:
                response = await self._http().send(outgoing, stream=True)
            except httpx.ConnectError as err:
                failure = err
                continue
            try:
                kept = bytearray()
                async for chunk in response.aiter_bytes():
                    kept += chunk
                    if len(kept) >= ANSWER_LIMIT:
                        break
            finally:
                await response.aclose()
            text = bytes(kept[:ANSWER_LIMIT]).decode(response.encoding or "utf-8", errors="replace")
            return Answer(response.status_code, response.headers, text)
        assert failure is not None
        raise failure

    async def _deliver(self, hook: Subscriber, event: Event, data: dict[str, Any]) -> None:
        try:
            secret = self.secrets.open(hook.secret)
        except SecretUnavailable as err:
            log.error("Webhook %s: %s not sent, unsigned: %s", hook.webhook_id, event, err)
            return
        request = prepare(hook.url, event, data, secret)
        assert self._slots is not None
        for attempt in range(MAX_RETRIES + 1):
            wait: float | None = None
            try:
                async with self._slots:  # held while sending, not while waiting to retry
                    answer = await self.post(request)
            except DestinationRefused as err:  # not retried, as MLflow's SSRF refusal
                log.error("Webhook %s: %s not sent to %s: %s", hook.webhook_id, event, hook.url, err)
                return
            except httpx.HTTPError as err:
                failure = repr(err)
            else:
                if answer.status not in RETRY_STATUSES:
                    if answer.status >= 400:
                        log.warning("Webhook %s: %s to %s answered %d", hook.webhook_id, event, hook.url, answer.status)
                    return
                failure = f"HTTP {answer.status}"
                if answer.status in RETRY_AFTER_STATUSES:
                    wait = retry_after(answer.headers)
            if attempt == MAX_RETRIES:
                log.error(
                    "Webhook %s: %s to %s failed after %d retries: %s",
                    hook.webhook_id, event, hook.url, MAX_RETRIES, failure,
                )  # fmt: skip
                return
            await asyncio.sleep(backoff(attempt + 1) if wait is None else wait)

    async def _handle(self, occurrence: Occurrence) -> None:
        candidates = occurrence.candidates
        hooks = await run_sync(self.store.subscribers, [(e.entity, e.action) for e in candidates])
        if not hooks:
            return
        event = occurrence.event
        if occurrence.model is not None and occurrence.prompt_event is not None:
            if await run_sync(self.store.is_prompt_model, occurrence.model):
                event = occurrence.prompt_event
        if event is None:
            return
        key = (event.entity, event.action)
        await asyncio.gather(*(self._deliver(h, event, occurrence.data) for h in hooks if key in h.events))

    # -- the process's tasks -------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a delivery must never take the server down
                log.exception("Webhooks: delivering %s failed", what)

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def emit(self, occurrence: Occurrence) -> None:
        """Deliver what happened to the webhooks subscribed to it, in the background (call it once the
        change is committed). Returns at once."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        what = " or ".join(str(e) for e in occurrence.candidates)
        if len(self._tasks) >= MAX_PENDING_EVENTS:
            log.error("Webhooks: %d events still being delivered; %s dropped", len(self._tasks), what)
            return
        self._spawn(self._handle(occurrence), what)

    async def test(self, url: str, stored_secret: str | None, event: Event) -> WebhookTestResult:
        """Send MLflow's example payload of `event` once, now, and say what the receiver answered."""
        try:
            secret = self.secrets.open(stored_secret)
            answer = await self.post(prepare(url, event, EXAMPLES[event], secret))
        except Exception as err:  # noqa: BLE001 - reported to the caller, as MLflow's test does
            return WebhookTestResult(success=False, error_message=f"Failed to test webhook: {err!r}")
        return WebhookTestResult(success=answer.status < 400, response_status=answer.status, response_body=answer.body)

    async def close(self) -> None:
        """Give deliveries under way a few seconds, then drop them (logged)."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("Webhooks: %d deliveries dropped as the server stopped", len(pending))
        if self._client is not None:
            await self._client.aclose()
            self._client = None
