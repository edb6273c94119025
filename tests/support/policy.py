"""The stages' Chalice configuration and IAM policies, read as the tests need them."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHALICE = ROOT / ".chalice"
DEPLOYED = ("dev", "prod")
# The account and region the tests build ARNs in; the policies name neither.
ACCOUNT = "us-east-1:123456789012"


def chalice_config() -> dict[str, Any]:
    return dict(json.loads((CHALICE / "config.json").read_text()))


def stage_config(stage: str) -> dict[str, Any]:
    return dict(chalice_config()["stages"][stage])


def policy(stage: str) -> list[dict[str, Any]]:
    """Return the statements of the stage's IAM policy file."""
    path = CHALICE / stage_config(stage)["iam_policy_file"]
    return list(json.loads(path.read_text())["Statement"])


def allows(stage: str, action: str, resource: str) -> bool:
    """Tell whether the stage's policy allows ``action`` on the ARN ``resource``."""
    return any(
        statement["Effect"] == "Allow"
        and action in statement["Action"]
        and any(fnmatchcase(resource, pattern) for pattern in statement["Resource"])
        for statement in policy(stage)
    )
