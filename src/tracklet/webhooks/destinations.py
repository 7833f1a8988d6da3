"""Where webhooks may send (`TRACKLET_WEBHOOK_DESTINATIONS`): MLflow's stance against server-side request
forgery, fitted to a server that usually runs inside the network its receivers are in.

- `private` (the default): any address but those no receiver has and an attacker wants: link-local
  addresses (169.254.0.0/16 and fe80::/10, where clouds answer instance metadata and credentials), the
  metadata addresses outside them (fd00:ec2::254, 100.100.100.200), unspecified, multicast and reserved
  ones. CI servers on the same network or machine are reachable.
- `public`: public addresses only, MLflow's default (`MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS` lifts it there).
- `loopback`: this machine only: `localhost` or a loopback address; no other name is even resolved (the
  test suite's setting).

Schemes are http and https (MLflow allows https only unless `MLFLOW_WEBHOOK_ALLOWED_SCHEMES` says more):
receivers inside a network often have no certificate, and the signature, not the channel, is what tells
a receiver a delivery is genuine. The check runs when a webhook is created or changed (with MLflow's
messages) and again at every delivery on the addresses it connects to: the name is resolved once, every
address is checked and the connection goes to a checked address (TLS still verifies the name), so a name
that resolves elsewhere by then (DNS rebinding) cannot divert a delivery.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from tracklet.errors import InvalidParameterValue, TrackletError

POLICIES = ("private", "public", "loopback")
SCHEMES = ("http", "https")
RESOLVE_TIMEOUT = 5.0  # seconds

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCALHOST = ("localhost", "localhost.")


def policy(name: str) -> str:
    """A policy's name, checked (a bad `TRACKLET_WEBHOOK_DESTINATIONS` stops the server at its start)."""
    if name not in POLICIES:
        raise TrackletError(f"TRACKLET_WEBHOOK_DESTINATIONS must be one of {', '.join(POLICIES)}, not {name!r}")
    return name


class DestinationRefused(Exception):
    """A webhook URL whose host resolves to an address the policy refuses (or does not resolve)."""


def _embedded(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 transition address carries (mapped, 6to4, NAT64), as MLflow unwraps them:
    a wrapped private address must not pass for a public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return inner
    return ip


def refusal(ip: IPAddress, policy: str) -> str | None:
    """Why `policy` refuses to send to `ip` ("a link-local address"), or None when it may."""
    ip = _embedded(ip)
    if policy == "loopback":
        return None if ip.is_loopback else "an address outside this machine"
    if ip.is_loopback:
        return "a loopback address" if policy == "public" else None
    if ip.is_link_local or ip in _METADATA:
        return "a link-local or cloud metadata address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "an unspecified, multicast or reserved address"
    if policy == "public" and not ip.is_global:
        return "a non-public address"
    return None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL, with MLflow's messages for one it refuses."""
    if not url.strip():
        raise InvalidParameterValue(f"Webhook URL cannot be empty or just whitespace: {url!r}")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as err:
        raise InvalidParameterValue(f"Invalid webhook URL {url!r}: {err!r}") from None
    if parts.scheme not in SCHEMES:
        raise InvalidParameterValue(
            f"Invalid webhook URL scheme: {parts.scheme!r}. Allowed schemes are: {', '.join(SCHEMES)}."
        )
    if not host:
        raise InvalidParameterValue(f"Webhook URL must include a hostname: {url!r}")
    if (":" in host or host.replace(".", "").isdigit()) and _ip_literal(host) is None:
        # `127.1` or `0177.0.0.1` reach an address other checks would not see
        raise InvalidParameterValue(f"Webhook URL host {host!r} is not a canonical IP address literal.")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


async def addresses(host: str, port: int, policy: str) -> list[str]:
    """The addresses to connect to for `host`, all allowed by `policy`; raises DestinationRefused."""
    literal = _ip_literal(host)
    if literal is not None:
        found = [literal]
    elif policy == "loopback" and host.lower() not in _LOCALHOST:
        raise DestinationRefused(
            f"Webhook URL host {host!r} is not localhost or a loopback address (TRACKLET_WEBHOOK_DESTINATIONS=loopback)."
        )
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT)
        except (OSError, UnicodeError, TimeoutError) as err:
            raise DestinationRefused(f"Cannot resolve Webhook URL hostname {host!r}: {err or 'timed out'}") from None
        found = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in found:
                found.append(ip)
    for ip in found:
        reason = refusal(ip, policy)
        if reason is not None:
            shown = "" if literal is not None else f" {host!r} resolves to {ip}."
            raise DestinationRefused(
                f"Webhook URL must not resolve to {reason} (TRACKLET_WEBHOOK_DESTINATIONS={policy}).{shown}"
            )
    return [str(ip) for ip in found]


async def check_url(url: str, policy: str) -> None:
    """A new or changed webhook's URL: a scheme, a host, and addresses the policy allows (resolved now, as
    MLflow does: a name that does not resolve is refused)."""
    _, host, port = split_url(url)
    try:
        await addresses(host, port, policy)
    except DestinationRefused as err:
        raise InvalidParameterValue(str(err)) from None
