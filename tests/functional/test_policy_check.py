"""The IAM policy check's verdicts on made-up recordings (tests.support.policy)."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.aws_actions import Permission
from tests.support.policy import (
    STACK_RECORDING,
    denied,
    platform_calls_made,
    read_recording,
    stage_arn,
    undeclared,
    unneeded,
)

KEYS = Permission("dynamodb:GetItem", "table/jupiter-local-keys")


def write(path: Path, *permissions: Permission) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"action": p.action, "resource": p.resource}) for p in permissions
    ]
    path.write_text("".join(line + "\n" for line in lines))


def test_recordings_are_merged_per_origin(tmp_path: Path) -> None:
    put = Permission("dynamodb:PutItem", "table/jupiter-local-keys")
    write(tmp_path / "101.jsonl", KEYS)
    write(tmp_path / "102.jsonl", KEYS, put)
    write(tmp_path / STACK_RECORDING / "103.jsonl", put)

    assert read_recording(tmp_path) == {
        "tests": frozenset({KEYS, put}),
        "local-stack": frozenset({put}),
    }


def test_an_absent_recording_reads_as_empty(tmp_path: Path) -> None:
    assert read_recording(tmp_path / "never-made") == {
        "tests": frozenset(),
        "local-stack": frozenset(),
    }


def test_a_local_table_maps_to_the_stages_own_table() -> None:
    query = Permission("dynamodb:Query", "table/jupiter-local-keys/index/by_owner")

    assert stage_arn("prod", query) == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/jupiter-prod-keys/index/by_owner"
    )


def test_a_call_on_an_undeclared_resource_is_reported() -> None:
    stray = Permission("dynamodb:GetItem", "table/someone-elses-table")

    assert undeclared(frozenset({KEYS, stray})) == [stray]


def test_a_recorded_action_the_policy_lacks_is_denied() -> None:
    scan = Permission("dynamodb:Scan", "table/jupiter-local-keys")

    assert denied("dev", frozenset({KEYS, scan})) == [
        (
            "dynamodb:Scan",
            "arn:aws:dynamodb:us-east-1:123456789012:table/jupiter-dev-keys",
        )
    ]


def test_an_action_on_a_resource_outside_its_grant_is_denied() -> None:
    describe = Permission("dynamodb:DescribeTable", "table/jupiter-local-audit")

    assert denied("dev", frozenset({describe})) != []


def test_grants_no_recorded_call_needed_are_reported() -> None:
    unused = unneeded("dev", frozenset({KEYS}))

    assert ("HealthCheck", "dynamodb:DescribeTable") in unused
    assert ("ServerSecret", "secretsmanager:GetSecretValue") in unused
    assert ("WebSocketConnections", "execute-api:ManageConnections") in unused
    assert not any(action == "dynamodb:GetItem" for _, action in unused)


def test_the_platforms_calls_need_no_recording() -> None:
    unused = {entry for _, entry in unneeded("dev", frozenset({KEYS}))}

    assert "sqs:ReceiveMessage" not in unused
    assert "logs:PutLogEvents" not in unused
    assert "xray:PutTraceSegments" not in unused


def test_the_code_making_a_platform_call_is_reported() -> None:
    receive = Permission("sqs:ReceiveMessage", "jupiter-local-webhook-deliveries")

    assert platform_calls_made(frozenset({KEYS, receive})) == [receive]
