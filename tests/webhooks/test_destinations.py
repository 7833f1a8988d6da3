"""Where webhooks may send, per `TRACKLET_WEBHOOK_DESTINATIONS` (no address here is ever connected to)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from tracklet.errors import InvalidParameterValue
from tracklet.webhooks.destinations import DestinationRefused, addresses, check_url, refusal

ALLOWED = {
    # address: (private, public, loopback)
    "127.0.0.1": (True, False, True),
    "::1": (True, False, True),
    "::ffff:127.0.0.1": (True, False, True),
    "10.1.2.3": (True, False, False),
    "192.168.0.10": (True, False, False),
    "172.16.5.4": (True, False, False),
    "100.64.0.1": (True, False, False),  # shared address space (Tailscale, carrier NAT)
    "fd12::1": (True, False, False),
    "8.8.8.8": (True, True, False),
    "2001:4860:4860::8888": (True, True, False),
    "169.254.169.254": (False, False, False),  # cloud metadata
    "fe80::1": (False, False, False),
    "fd00:ec2::254": (False, False, False),  # AWS metadata over IPv6
    "100.100.100.200": (False, False, False),  # Alibaba metadata
    "::ffff:169.254.169.254": (False, False, False),  # wrapped: unwrapped first
    "64:ff9b::a9fe:a9fe": (False, False, False),  # NAT64 of 169.254.169.254
    "0.0.0.0": (False, False, False),
    "224.0.0.1": (False, False, False),
    "240.0.0.1": (False, False, False),
}


@pytest.mark.parametrize("address", list(ALLOWED))
def test_each_policy_allows_what_it_says(address: str) -> None:
    ip = ipaddress.ip_address(address)
    allowed = tuple(refusal(ip, policy) is None for policy in ("private", "public", "loopback"))
    assert allowed == ALLOWED[address]


def test_loopback_resolves_no_name_but_localhost() -> None:
    assert asyncio.run(addresses("localhost", 80, "loopback"))
    with pytest.raises(DestinationRefused, match="not localhost or a loopback address"):
        asyncio.run(addresses("no-such-host.invalid", 80, "loopback"))


def test_a_name_that_does_not_resolve_is_refused_as_mlflow_does(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_such_name(self: object, host: str, *args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # (no query leaves this machine: the resolver's answer is made up)
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", no_such_name)
    with pytest.raises(InvalidParameterValue, match="Cannot resolve Webhook URL hostname 'ci.example'"):
        asyncio.run(check_url("http://ci.example/x", "private"))


def test_every_address_a_name_resolves_to_must_be_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def rebinding(self: object, host: str, port: int, **kwargs: object) -> list[object]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ("10.0.0.5", "169.254.169.254")]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", rebinding)
    with pytest.raises(DestinationRefused, match="'ci.example' resolves to 169.254.169.254"):
        asyncio.run(addresses("ci.example", 80, "private"))


def test_urls_are_checked_before_any_address() -> None:
    for url, message in [
        ("gopher://127.0.0.1/", "Invalid webhook URL scheme: 'gopher'"),
        ("http://0177.0.0.1/", "not a canonical IP address literal"),
        ("https://[fe80::1]/", "link-local or cloud metadata"),
    ]:
        with pytest.raises(InvalidParameterValue, match=message):
            asyncio.run(check_url(url, "private"))
