"""A delivery's request, signature and retry schedule as MLflow's, and https to a checked address under
the URL's name (a receiver on this machine with a certificate made here)."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from mlflow.webhooks.delivery import _generate_hmac_signature

from tracklet.webhooks.delivery import Request, Webhooks, backoff, prepare, retry_after, sign
from tracklet.webhooks.events import MODEL_VERSION_CREATED
from tracklet.webhooks.secrets import SecretBox


def test_the_signature_is_mlflows() -> None:
    assert sign("k", "id", "1700000000", '{"a": 1}') == _generate_hmac_signature("k", "id", "1700000000", '{"a": 1}')
    request = prepare("http://127.0.0.1/x", MODEL_VERSION_CREATED, {"name": "m"}, "k")
    headers = request.headers
    assert headers["X-MLflow-Signature"] == sign(
        "k", headers["X-MLflow-Delivery-Id"], headers["X-MLflow-Timestamp"], request.body
    )
    assert "X-MLflow-Signature" not in prepare("http://127.0.0.1/x", MODEL_VERSION_CREATED, {}, None).headers


def test_retries_wait_as_urllib3_does_for_mlflow() -> None:
    assert backoff(1) == 0.0
    assert 2.0 <= backoff(2) < 3.0 and 4.0 <= backoff(3) < 5.0
    assert retry_after(httpx.Headers({"Retry-After": "7"})) == 7.0
    assert retry_after(httpx.Headers({"Retry-After": "86400"})) == 60.0  # capped
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after(httpx.Headers({"Retry-After": later})) or 0) <= 31
    assert retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after(httpx.Headers()) is None


@pytest.fixture(scope="module")
def tls_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, ssl.SSLContext, list[str]]]:
    """An https receiver on 127.0.0.1 whose certificate names `localhost` only; a context trusting it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server.socket = serving.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trusting = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    yield server.server_address[1], trusting, hosts
    server.shutdown()


def _post(url: str, trusting: ssl.SSLContext, policy: str = "loopback") -> int:
    async def go() -> int:
        hooks = Webhooks(None, SecretBox([]), policy, 5.0)  # type: ignore[arg-type]  # no store needed to send
        hooks._client = httpx.AsyncClient(verify=trusting, limits=httpx.Limits(max_keepalive_connections=0))
        try:
            return (await hooks.post(Request(url, "{}", {"Content-Type": "application/json"}))).status
        finally:
            await hooks.close()

    return asyncio.run(go())


def test_https_goes_to_the_checked_address_and_verifies_the_name(tls_receiver) -> None:  # type: ignore[no-untyped-def]
    port, trusting, hosts = tls_receiver
    assert _post(f"https://localhost:{port}/hook", trusting) == 204
    assert hosts[-1] == f"localhost:{port}"  # the name, though the connection went to 127.0.0.1
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|IP address mismatch"):
        _post(f"https://127.0.0.1:{port}/hook", trusting)  # the certificate does not name the address
