"""The admin token: generated, given, or from the environment; compared in constant time."""

from __future__ import annotations

import pytest

from pizzabus.access import (
    ADMIN_COOKIE,
    ADMIN_TOKEN_ENV,
    generate_token,
    presented_token,
    resolve_admin_token,
    tokens_match,
)
from pizzabus.errors import ValidationError


def test_a_generated_token_is_long_random_and_url_safe() -> None:
    tokens = {generate_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) >= 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


def test_the_given_token_wins_over_the_environment_which_wins_over_a_fresh_one() -> None:
    env = {ADMIN_TOKEN_ENV: "from-the-environment-123"}
    assert resolve_admin_token("given-on-the-command-line", env) == "given-on-the-command-line"
    assert resolve_admin_token(None, env) == "from-the-environment-123"
    assert len(resolve_admin_token(None, {})) >= 43


@pytest.mark.parametrize("token", ["short", "has a space in it ok", "tab\there-and-long-enough"])
def test_a_weak_or_unprintable_token_is_refused_naming_its_source(token: str) -> None:
    with pytest.raises(ValidationError, match="--admin-token"):
        resolve_admin_token(token, {})
    with pytest.raises(ValidationError, match=ADMIN_TOKEN_ENV):
        resolve_admin_token(None, {ADMIN_TOKEN_ENV: token})


def test_tokens_match_only_the_same_token() -> None:
    assert tokens_match("a-token-of-some-length", "a-token-of-some-length")
    assert not tokens_match("a-token-of-some-lengtH", "a-token-of-some-length")
    assert not tokens_match("", "a-token-of-some-length")
    assert not tokens_match(None, "a-token-of-some-length")
    assert not tokens_match("é-unicode", "a-token-of-some-length")


@pytest.mark.parametrize(
    ("headers", "cookies", "expected"),
    [
        ({"x-pizzabus-token": "t1"}, {}, "t1"),
        ({"authorization": "Bearer t2"}, {}, "t2"),
        ({"authorization": "bearer  t3 "}, {}, "t3"),
        ({}, {ADMIN_COOKIE: "t4"}, "t4"),
        ({"x-pizzabus-token": "t5", "authorization": "Bearer other"}, {ADMIN_COOKIE: "c"}, "t5"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, {}, None),
        ({}, {}, None),
    ],
    ids=["header", "bearer", "bearer-spacing", "cookie", "header-first", "basic-ignored", "none"],
)
def test_the_token_is_read_from_header_bearer_or_cookie(
    headers: dict[str, str], cookies: dict[str, str], expected: str | None
) -> None:
    assert presented_token(headers, cookies) == expected
