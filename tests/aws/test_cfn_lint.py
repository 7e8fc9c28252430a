"""cfn-lint passes on the synthesized template (the CDK's own validation is off in tests)."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Synthesized

pytestmark = pytest.mark.aws

#: Checks whose findings are accepted, each with the reason.
IGNORED_CHECKS = {
    # The CDK's Lambda construct adds an explicit DependsOn on its role and the role's default
    # policy, and also references the role by GetAtt. The DependsOn on the role is redundant,
    # not wrong; the one on the policy is what makes the permissions exist before first use.
    "W3005": "redundant DependsOn emitted by aws_lambda.Function",
}


@pytest.fixture(scope="module")
def findings(synthesized: Synthesized) -> list[Any]:
    """Every cfn-lint finding on the template, in two regions (one run: loading rules is slow)."""
    from cfnlint.api import ManualArgs, lint_file

    return list(
        lint_file(synthesized.template_path, ManualArgs(regions=["us-east-1", "eu-west-1"]))
    )


def test_cfn_lint_finds_nothing_beyond_the_accepted_checks(findings: list[Any]) -> None:
    assert [str(f) for f in findings if f.rule.id not in IGNORED_CHECKS] == []


def test_each_accepted_check_still_fires_so_the_list_stays_honest(findings: list[Any]) -> None:
    assert {f.rule.id for f in findings} == set(IGNORED_CHECKS)
