"""Deploy a system definition to AWS with the CDK.

Two steps, as the rest of pizzabus keeps pure work apart from I/O:

- ``specs``    pure: a ``SystemDefinition`` → resource specs (no CDK import, tested without it);
- ``stack``    thin: specs → CDK constructs (needs the ``aws`` extra:
  ``pip install "pizzabus[aws]"``; importing it without the extra raises
  :class:`~pizzabus.aws.errors.MissingExtraError` naming that command);
- ``app``      the CDK app entry (``python -m pizzabus.aws.app``) and in-process synthesis;
- ``cdk_cli``  runs the AWS CDK CLI (npm ``aws-cdk`` through ``npx``) for deploy and destroy,
  with progress, and turns its known failures into what to run.

This package's ``__init__`` imports nothing from the CDK, so the specs stay importable anywhere.
"""

from pizzabus.aws.errors import INSTALL_COMMAND, DeployError, MissingExtraError

__all__ = ["INSTALL_COMMAND", "DeployError", "MissingExtraError"]
