"""Each stage's IAM policy grants exactly what the test suite's AWS calls needed.

``make test`` runs the whole suite with ``JUPITER_RECORD_AWS_ACTIONS`` naming a
directory, so every client of the service records the IAM action and resource
each of its calls needed (:mod:`chalicelib.aws_actions`): the in-process tests'
processes into the directory, the local stack of the e2e tests into its
``local-stack`` subdirectory. Then it runs this module on its own (pytest's
``addopts`` leave ``tests/policy`` out of every other run), which maps each
recorded table, queue and parameter to the deployed stage's own and fails if
the stage's policy does not allow a recorded call, or allows anything that
neither a recorded call nor one of the platform's calls below needed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

import pytest

from chalicelib.aws_actions import RECORD_VARIABLE, Permission
from infrastructure.provision import QUEUE, TABLE, Resolver, load_template
from ops.stages import STAGES
from tests.e2e.conftest import STACK_RECORDING
from tests.support.policy import ACCOUNT, DEPLOYED, ROOT, allows, policy, stage_config

RECORDING = Path(os.environ.get(RECORD_VARIABLE) or ROOT / "dist" / "aws-actions")
# Any API id and connection id: the policies scope @connections by stage only.
CONNECTION = "abc123/{stage}/{method}/@connections/Q2xpZW50"


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


def _read(directory: Path) -> set[Permission]:
    return {
        Permission(**json.loads(line))
        for path in sorted(directory.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }


@cache
def recorded() -> dict[str, frozenset[Permission]]:
    """The recording, by where it was made: ``tests`` and ``local-stack``."""
    return {
        "tests": frozenset(_read(RECORDING)),
        "local-stack": frozenset(_read(RECORDING / STACK_RECORDING)),
    }


def all_recorded() -> frozenset[Permission]:
    return frozenset().union(*recorded().values())


@cache
def _logical_names() -> dict[str, str]:
    """Map every stage's table, queue and parameter name to a stage-free name."""
    template = load_template()
    names: dict[str, str] = {}
    for stage in STAGES:
        resolver = Resolver(template, stage, region="us-east-1")
        for logical_id, resource in template["Resources"].items():
            field = {TABLE: "TableName", QUEUE: "QueueName"}.get(resource["Type"])
            if field is not None:
                name = resolver.value(resource["Properties"][field])
                names[str(name)] = logical_id
    for stage in DEPLOYED:
        parameter = _parameter(stage)
        names[parameter.lstrip("/")] = "ServerSecretParameter"
    return names


@cache
def _stage_names(stage: str) -> dict[str, str]:
    """Map each stage-free name to the stage's table, queue or parameter name."""
    template = load_template()
    resolver = Resolver(template, stage, region="us-east-1")
    names = {"ServerSecretParameter": _parameter(stage).lstrip("/")}
    for logical_id, resource in template["Resources"].items():
        field = {TABLE: "TableName", QUEUE: "QueueName"}.get(resource["Type"])
        if field is not None:
            names[logical_id] = str(resolver.value(resource["Properties"][field]))
    return names


def _parameter(stage: str) -> str:
    variables = stage_config(stage)["environment_variables"]
    return str(variables["JUPITER_SERVER_SECRET_PARAMETER"])


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
    if service == "ssm" and kind == "parameter":
        mapped = _in_stage(stage, name)
        return None if mapped is None else f"arn:aws:ssm:{ACCOUNT}:parameter/{mapped}"
    if service == "sqs":
        mapped = _in_stage(stage, permission.resource)
        return None if mapped is None else f"arn:aws:sqs:{ACCOUNT}:{mapped}"
    return None


def _in_stage(stage: str, name: str) -> str | None:
    logical = _logical_names().get(name)
    return None if logical is None else _stage_names(stage)[logical]


def exercised(stage: str) -> set[tuple[str, str]]:
    """Every (action, ARN) the stage's role needs: the recorded and the platform's."""
    calls = {(p.action, stage_arn(stage, p)) for p in all_recorded()}
    platform = {(c.action, _platform_arn(c, stage)) for c in PLATFORM_CALLS}
    return {(action, arn) for action, arn in calls if arn is not None} | platform


def _platform_arn(call: PlatformCall, stage: str) -> str:
    if call.arn == "*":
        return "*"
    service, _, resource = call.arn.format(stage=stage).partition(":")
    return f"arn:aws:{service}:{ACCOUNT}:{resource}"


def test_recording_comes_from_the_in_process_tests_and_the_local_stack() -> None:
    for origin, permissions in recorded().items():
        assert permissions, (
            f"no AWS call recorded by the {origin} in {RECORDING}: run the whole "
            f"suite first with {RECORD_VARIABLE} set (make test does)"
        )


def test_every_recorded_resource_is_declared_for_every_stage() -> None:
    unknown = sorted(
        p for p in all_recorded() if any(stage_arn(s, p) is None for s in DEPLOYED)
    )

    assert all_recorded()
    assert not unknown, "calls on resources no stage declares"


@pytest.mark.parametrize("stage", DEPLOYED)
def test_policy_allows_every_recorded_call(stage: str) -> None:
    denied = sorted(
        (p.action, arn)
        for p in all_recorded()
        if (arn := stage_arn(stage, p)) is not None and not allows(stage, p.action, arn)
    )

    assert all_recorded()
    assert not denied, f"{stage}'s policy denies calls the code makes"


@pytest.mark.parametrize("stage", DEPLOYED)
def test_policy_grants_no_action_or_resource_no_call_needed(stage: str) -> None:
    needed = exercised(stage)
    unused = []
    for statement in policy(stage):
        actions, patterns = statement["Action"], statement["Resource"]
        for action in actions:
            if not any(a == action and _matches(arn, patterns) for a, arn in needed):
                unused.append((statement["Sid"], action))
        for pattern in patterns:
            if not any(a in actions and fnmatchcase(arn, pattern) for a, arn in needed):
                unused.append((statement["Sid"], pattern))

    assert all_recorded()
    assert not unused, f"{stage}'s policy grants what no call needed"


def _matches(arn: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(arn, pattern) for pattern in patterns)


@pytest.mark.parametrize("stage", DEPLOYED)
def test_policy_allows_the_platforms_calls(stage: str) -> None:
    denied = [
        (call.action, call.reason)
        for call in PLATFORM_CALLS
        if not allows(stage, call.action, _platform_arn(call, stage))
    ]

    assert not denied


def test_the_code_itself_makes_none_of_the_platforms_calls() -> None:
    platform = {call.action for call in PLATFORM_CALLS}
    made = sorted(p for p in all_recorded() if p.action in platform)

    assert all_recorded()
    assert not made, "move these out of PLATFORM_CALLS: the code makes them"
