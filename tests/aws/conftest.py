"""Fixtures of the AWS deploy tests: one synthesis per session, and a moto account.

Synthesis runs once (session fixture) with the CDK's built-in validation off
(``CDK_VALIDATION=false``: cfn-lint validates the template instead) and jsii's Node.js banners
silenced, so the whole suite takes seconds.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from pizzabus.pizza.system import FUNCTIONS_DIR, SYSTEM

from .helpers import Synthesized

QUIET_CDK_ENV = {
    "CDK_VALIDATION": "false",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
}

#: Modules of the handler folder, imported afresh for every test.
HANDLER_MODULES = (
    "pipeline",
    "orders",
    "make_pizza",
    "cook_pizza",
    "deliver_pizza",
    "websocket_connect",
    "websocket_disconnect",
    "receive_events",
    "get_order",
)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    pytest.importorskip("aws_cdk", reason='the AWS tests need pip install "pizzabus[aws]"')
    with pytest.MonkeyPatch.context() as mp:
        for key, value in QUIET_CDK_ENV.items():
            mp.setenv(key, value)
        from pizzabus.aws.app import quiet_jsii, synthesize

        quiet_jsii()  # the end-of-life banner names the Node major version
        outdir = tmp_path_factory.mktemp("cdk.out")
        result = synthesize(SYSTEM, outdir=outdir)
        (path,) = result.templates
        yield Synthesized(json.loads(path.read_text()), path, outdir)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Any:
    """The stack's template as ``aws_cdk.assertions.Template``."""
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized.template)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A moto account in us-east-1 with fake credentials (nothing leaves the process)."""
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """Import a handler module afresh, as a Lambda cold start would, with its environment.

    The environment is the function's own from the system definition (with ``APIGW_ENDPOINT``
    given explicitly), so the handlers run exactly as configured on AWS."""
    monkeypatch.syspath_prepend(str(FUNCTIONS_DIR))

    def forget() -> None:
        for name in HANDLER_MODULES:
            sys.modules.pop(name, None)

    def load(function: str, **extra_env: str) -> ModuleType:
        for key, value in SYSTEM.function(function).environment.items():
            if isinstance(value, str):
                monkeypatch.setenv(key, value)
        for key, value in extra_env.items():
            monkeypatch.setenv(key, value)
        forget()
        return importlib.import_module(SYSTEM.function(function).module)

    yield load
    forget()
