"""The stages' Chalice configuration and IAM policies, and the recorded AWS calls.

``make test`` runs the whole suite with ``JUPITER_RECORD_AWS_ACTIONS`` naming a
directory, so every client of the service records the IAM action and resource
each call its code made needed (:mod:`chalicelib.aws_actions`): the in-process
tests' processes into the directory, the e2e tests' local stack into its
``local-stack`` subdirectory. The helpers below map each recorded table, queue
and secret to a deployed stage's own and compare them with that stage's
policy; ``tests/policy`` runs them on the suite's recording.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.aws_actions import Permission
from infrastructure.provision import QUEUE, SECRET, TABLE, Resolver, load_template
from ops.stages import STAGES

ROOT = Path(__file__).resolve().parents[2]
CHALICE = ROOT / ".chalice"
DEPLOYED = ("dev", "prod")
# The account and region the tests build ARNs in; the policies name neither.
ACCOUNT = "us-east-1:123456789012"
# Under the suite's recording directory, where the local stack records.
STACK_RECORDING = "local-stack"
# Secrets Manager ends every secret's ARN with a random suffix of six characters.
SECRET_SUFFIX = "-Xy12Ab"
# The property of each named resource type that holds its name.
NAMES = {TABLE: "TableName", QUEUE: "QueueName", SECRET: "Name"}
# Any API id and connection id: the policies scope @connections by stage only.
CONNECTION = "abc123/{stage}/{method}/@connections/Q2xpZW50"


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


@dataclass(frozen=True)
class PlatformCall:
    """A call AWS makes with the functions' role that no line of the code makes."""

    action: str
    arn: str  # with {stage}; the account's part is added
    reason: str


STREAM = "dynamodb:table/jupiter-{stage}-events/stream/2026-01-01T00:00:00.000"
QUEUE_ARN = "sqs:jupiter-{stage}-webhook-deliveries"
# Chalice names the REST function jupiter-api-<stage>, the others after it.
LOG_GROUP = "logs:log-group:/aws/lambda/jupiter-api-{stage}"
PLATFORM_CALLS = (
    # The events_stream handler's event source mapping finds the events
    # table's stream, reads its shards and hands each batch to the handler.
    *(
        PlatformCall(action, STREAM, "events_stream's event source mapping")
        for action in (
            "dynamodb:DescribeStream",
            "dynamodb:GetShardIterator",
            "dynamodb:GetRecords",
        )
    ),
    # ListStreams cannot be scoped to a table in IAM.
    PlatformCall("dynamodb:ListStreams", "*", "events_stream's event source mapping"),
    # The deliver_webhooks handler's SQS event source mapping polls the
    # delivery queue and deletes each message the handler returned without
    # raising; the handler never touches the queue it is fed from.
    *(
        PlatformCall(action, QUEUE_ARN, "deliver_webhooks' event source mapping")
        for action in (
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        )
    ),
    # Lambda sends each function's standard output and error to CloudWatch Logs.
    PlatformCall("logs:CreateLogGroup", LOG_GROUP, "Lambda's logging"),
    *(
        PlatformCall(action, LOG_GROUP + ":log-stream:2026/01/01/x", "Lambda's logging")
        for action in ("logs:CreateLogStream", "logs:PutLogEvents")
    ),
    # With tracing on, the X-Ray SDK hands segments to the daemon Lambda runs
    # beside the function, which sends them with the function's role; neither
    # action can be scoped to a resource.
    *(
        PlatformCall(action, "*", "the X-Ray daemon")
        for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
    ),
)


def _read(directory: Path) -> frozenset[Permission]:
    return frozenset(
        Permission(**json.loads(line))
        for path in sorted(directory.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )


def read_recording(directory: Path) -> dict[str, frozenset[Permission]]:
    """Read a recording, by where it was made: ``tests`` and ``local-stack``."""
    return {
        "tests": _read(directory),
        "local-stack": _read(directory / STACK_RECORDING),
    }


@cache
def _logical_names() -> dict[str, str]:
    """Map every stage's table, queue and secret name to a stage-free name."""
    template = load_template()
    names: dict[str, str] = {}
    for stage in STAGES:
        resolver = Resolver(template, stage, region="us-east-1")
        for logical_id, resource in template["Resources"].items():
            field = NAMES.get(resource["Type"])
            if field is not None:
                name = resolver.value(resource["Properties"][field])
                names[str(name)] = logical_id
    return names


@cache
def _stage_names(stage: str) -> dict[str, str]:
    """Map each stage-free name to the stage's table, queue or secret name."""
    template = load_template()
    resolver = Resolver(template, stage, region="us-east-1")
    names = {}
    for logical_id, resource in template["Resources"].items():
        field = NAMES.get(resource["Type"])
        if field is not None:
            names[logical_id] = str(resolver.value(resource["Properties"][field]))
    return names


def stage_arn(stage: str, permission: Permission) -> str | None:
    """Return the ARN ``permission``'s resource has in ``stage``; None if unknown."""
    service = permission.action.split(":", 1)[0]
    if permission.resource == "*":
        return "*"
    if service == "execute-api":
        method = permission.resource.split("/", 1)[0]
        path = CONNECTION.format(stage=stage, method=method)
        return f"arn:aws:execute-api:{ACCOUNT}:{path}"
    kind, _, name = permission.resource.partition("/")
    if service == "dynamodb" and kind == "table":
        table, _, rest = name.partition("/")
        mapped = _in_stage(stage, table)
        suffix = f"/{rest}" if rest else ""
        return (
            None
            if mapped is None
            else f"arn:aws:dynamodb:{ACCOUNT}:table/{mapped}{suffix}"
        )
    if service == "secretsmanager":
        secret = permission.resource.removeprefix("secret:")
        mapped = _in_stage(stage, secret)
        return (
            None
            if mapped is None
            else f"arn:aws:secretsmanager:{ACCOUNT}:secret:{mapped}{SECRET_SUFFIX}"
        )
    if service == "sqs":
        mapped = _in_stage(stage, permission.resource)
        return None if mapped is None else f"arn:aws:sqs:{ACCOUNT}:{mapped}"
    return None


def _in_stage(stage: str, name: str) -> str | None:
    logical = _logical_names().get(name)
    return None if logical is None else _stage_names(stage)[logical]


def exercised(stage: str, recorded: frozenset[Permission]) -> set[tuple[str, str]]:
    """Every (action, ARN) the stage's role needs: the recorded and the platform's."""
    calls = {(p.action, stage_arn(stage, p)) for p in recorded}
    platform = {(c.action, platform_arn(c, stage)) for c in PLATFORM_CALLS}
    return {(action, arn) for action, arn in calls if arn is not None} | platform


def platform_arn(call: PlatformCall, stage: str) -> str:
    if call.arn == "*":
        return "*"
    service, _, resource = call.arn.format(stage=stage).partition(":")
    return f"arn:aws:{service}:{ACCOUNT}:{resource}"


def undeclared(recorded: frozenset[Permission]) -> list[Permission]:
    """The recorded calls on a resource some deployed stage does not declare."""
    return sorted(p for p in recorded if any(stage_arn(s, p) is None for s in DEPLOYED))


def denied(stage: str, recorded: frozenset[Permission]) -> list[tuple[str, str]]:
    """The recorded calls, on the stage's resources, its policy does not allow."""
    return sorted(
        (p.action, arn)
        for p in recorded
        if (arn := stage_arn(stage, p)) is not None and not allows(stage, p.action, arn)
    )


def unneeded(stage: str, recorded: frozenset[Permission]) -> list[tuple[str, str]]:
    """Each (statement, action or resource pattern) of the policy no call needed."""
    needed = exercised(stage, recorded)
    unused = []
    for statement in policy(stage):
        actions, patterns = statement["Action"], statement["Resource"]
        for action in actions:
            if not any(a == action and _matches(arn, patterns) for a, arn in needed):
                unused.append((statement["Sid"], action))
        for pattern in patterns:
            if not any(a in actions and fnmatchcase(arn, pattern) for a, arn in needed):
                unused.append((statement["Sid"], pattern))
    return unused


def _matches(arn: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(arn, pattern) for pattern in patterns)


def platform_calls_made(recorded: frozenset[Permission]) -> list[Permission]:
    """The recorded calls of an action listed as the platform's alone."""
    platform = {call.action for call in PLATFORM_CALLS}
    return sorted(p for p in recorded if p.action in platform)
