"""The admin token: one secret per running server, required on every control surface.

It is generated at start (``secrets``), unless given by ``--admin-token`` or the environment
(``PIZZABUS_ADMIN_TOKEN``) so scripts and a distributed deployment can share one. It is also the
SigV4 secret of the local credentials (access key id :data:`ACCESS_KEY_ID`).
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping

from pizzabus.errors import ValidationError

#: The environment variable that gives the server its token, and gives clients theirs.
ADMIN_TOKEN_ENV = "PIZZABUS_ADMIN_TOKEN"
#: The header that carries the token (``Authorization: Bearer <token>`` works too).
TOKEN_HEADER = "X-Pizzabus-Token"
#: The HttpOnly cookie the console keeps the token in.
ADMIN_COOKIE = "pizzabus_admin"
#: The access key id of the local AWS credentials; its secret is the admin token.
ACCESS_KEY_ID = "pizzabus"

#: Shorter tokens are guessable; 32 random bytes is what ``generate_token`` makes.
MIN_TOKEN_LENGTH = 16


def generate_token() -> str:
    """A fresh random token (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def resolve_admin_token(given: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The token a server runs with: ``given`` (``--admin-token``), else the environment's,
    else a fresh one. A given token must be printable ASCII without spaces, of at least
    :data:`MIN_TOKEN_LENGTH` characters."""
    env = os.environ if environ is None else environ
    token = given if given is not None else env.get(ADMIN_TOKEN_ENV) or None
    if token is None:
        return generate_token()
    source = "--admin-token" if given is not None else ADMIN_TOKEN_ENV
    if len(token) < MIN_TOKEN_LENGTH or not all(33 <= ord(c) < 127 for c in token):
        raise ValidationError(
            f"the admin token from {source} must be at least {MIN_TOKEN_LENGTH} printable ASCII "
            "characters without spaces; leave it unset to have one generated"
        )
    return token


def tokens_match(presented: str | None, expected: str) -> bool:
    """Whether ``presented`` is the token, compared in constant time."""
    if not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def presented_token(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries: ``X-Pizzabus-Token``, else ``Authorization: Bearer``,
    else the console's cookie. ``headers`` is looked up by lower-case name."""
    token = headers.get(TOKEN_HEADER.lower())
    if token:
        return token.strip()
    scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return cookies.get(ADMIN_COOKIE) or None
