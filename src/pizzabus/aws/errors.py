"""Errors of the AWS deploy.

PizzabusError
├── MissingExtraError   the CDK is not installed (also an ImportError)
└── DeployError         the AWS CDK CLI could not run, or AWS refused the deploy
"""

from __future__ import annotations

from pizzabus.errors import PizzabusError

#: The exact command that installs what the AWS deploy needs.
INSTALL_COMMAND = 'pip install "pizzabus[aws]"'


class MissingExtraError(PizzabusError, ImportError):
    """The AWS part of pizzabus was imported without the ``aws`` extra installed."""

    code = "MissingDependency"

    def __init__(self, missing: str) -> None:
        super().__init__(
            f"The AWS deploy needs the AWS CDK for Python ({missing}), which is not installed. "
            f"Install it with: {INSTALL_COMMAND}"
        )


class DeployError(PizzabusError):
    """The AWS CDK CLI failed; the message says what was wrong and what to run."""

    code = "DeployFailed"
