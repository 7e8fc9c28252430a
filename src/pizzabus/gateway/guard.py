"""The door of the control surfaces: the admin API needs the admin token, and the admin and
management routes answer only to the names the server is bound to (DNS rebinding).

A web page the user visits can make the browser send requests to ``127.0.0.1``; with a DNS name
that resolves to 127.0.0.1 it can even read the answers (DNS rebinding). The token stops the
first, the ``Host`` check the second: a rebound page sends its own name as ``Host``.

The token is accepted from ``X-Pizzabus-Token``, ``Authorization: Bearer``, the console's
``pizzabus_admin`` cookie, or a ``token`` query parameter (the console's URL printed at start
carries it once, as Jupyter's does).
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import HTTPConnection
from starlette.types import Scope

from pizzabus.access import ADMIN_COOKIE, TOKEN_HEADER, presented_token, tokens_match

#: Where the admin API (and the console) live.
ADMIN_PREFIX = "/_pizzabus/"

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def allowed_hosts(base_url: str) -> frozenset[str]:
    """The ``Host`` values the control routes accept for a server at ``base_url``: its own
    host and port; for a loopback server, every loopback name with the port. (IP literals are
    accepted anyway: a rebinding attack needs a DNS name.)"""
    parts = urlsplit(base_url)
    port = parts.port or 80
    host = (parts.hostname or "localhost").lower()
    shown = f"[{host}]" if ":" in host else host
    hosts = {f"{shown}:{port}"}
    if port == 80:
        hosts.add(shown)
    if _is_loopback(host) or host in {"0.0.0.0", "::"}:
        hosts.update(f"{name}:{port}" for name in _LOOPBACK_NAMES)
        if port == 80:
            hosts.update(_LOOPBACK_NAMES)
    return frozenset(hosts)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip_literal(host: str) -> bool:
    if host.startswith("["):
        name = host[1 : host.find("]")]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class ControlGuard:
    """Decides whether a request may reach a control route; the refusal, if not."""

    def __init__(self, token: str, hosts: frozenset[str]) -> None:
        self._token = token
        self._hosts = hosts

    def host_refusal(self, scope: Scope) -> tuple[int, dict[str, str]] | None:
        """None if the request's ``Host`` names this server, else (status, JSON body)."""
        host = HTTPConnection(scope).headers.get("host", "").lower()
        if host in self._hosts or _is_ip_literal(host):
            return None
        return 421, {
            "message": f"Host {host!r} is not a name of this server; use "
            f"{sorted(self._hosts)[0]} (control routes refuse other names against DNS "
            "rebinding)",
            "code": "MisdirectedRequest",
        }

    def token_refusal(self, scope: Scope) -> tuple[int, dict[str, str]] | None:
        """None if the request carries the admin token, else (401, JSON body)."""
        connection = HTTPConnection(scope)
        presented = presented_token(connection.headers, connection.cookies)
        if presented is None and scope.get("query_string"):
            presented = dict(parse_qsl(scope["query_string"].decode("latin-1"))).get("token")
        if tokens_match(presented, self._token):
            return None
        return 401, {
            "message": "The admin API needs the admin token: send it as "
            f"'{TOKEN_HEADER}: <token>' or 'Authorization: Bearer <token>' (or the "
            f"{ADMIN_COOKIE} cookie). pizzabus commands on the server's machine find it by "
            "themselves; elsewhere pass --token or set PIZZABUS_ADMIN_TOKEN.",
            "code": "Unauthorized",
        }


def json_refusal(status: int, body: dict[str, str]) -> tuple[dict[str, object], bytes]:
    """The ASGI start message and body of a refusal."""
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="pizzabus"'))
    return {"type": "http.response.start", "status": status, "headers": headers}, payload
