"""Reading a synthesized template by the names the lab uses, not CDK's logical ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Synthesized:
    """The synthesized stack: its template as a dict, and the cloud assembly directory."""

    template: dict[str, Any]
    template_path: Path
    outdir: Path


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Logical id → properties of every resource of one type."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def logical_id(template: dict[str, Any], kind: str, name_property: str, name: str) -> str:
    """The logical id of the resource of ``kind`` whose ``name_property`` is ``name``."""
    (found,) = [
        lid for lid, props in resources(template, kind).items() if props.get(name_property) == name
    ]
    return found


def function_id(template: dict[str, Any], name: str) -> str:
    return logical_id(template, "AWS::Lambda::Function", "FunctionName", name)


def table_id(template: dict[str, Any], name: str) -> str:
    return logical_id(template, "AWS::DynamoDB::Table", "TableName", name)


def role_statements(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every IAM statement attached to a role (its policies and inline policies)."""
    statements: list[dict[str, Any]] = []
    for props in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in props["Roles"]:
            statements += props["PolicyDocument"]["Statement"]
    role = template["Resources"][role_logical_id]["Properties"]
    for policy in role.get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
