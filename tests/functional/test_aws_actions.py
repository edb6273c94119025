"""Recording the AWS calls the service's own code makes (chalicelib.aws_actions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.aws_actions import RECORD_VARIABLE
from chalicelib.config import load_settings, server_secret
from chalicelib.policy import Scope
from chalicelib.realtime.management import ManagementApi
from chalicelib.webhooks.queue import DeliveryMessage, DeliveryQueue
from tests.functional.conftest import make_key

MESSAGE = DeliveryMessage("wh_1", "dl_1", attempt=1, step=0, due_ms=0)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Record into a fresh directory, with clients created from now on."""
    monkeypatch.setenv(RECORD_VARIABLE, str(tmp_path))
    aws.reset_clients()
    yield tmp_path
    aws.reset_clients()


def recorded(directory: Path) -> list[tuple[str, str]]:
    return sorted(
        (entry["action"], entry["resource"])
        for path in directory.glob("*.jsonl")
        for entry in map(json.loads, path.read_text().splitlines())
    )


def test_a_service_call_is_recorded_with_its_action_and_table(
    recording: Path, aws_env: dict[str, str], client: Client
) -> None:
    assert client.http.get("/api/health").status_code == 200

    assert recorded(recording) == [
        ("dynamodb:DescribeTable", f"table/{aws_env['JUPITER_KEYS_TABLE']}")
    ]


def test_a_transaction_is_recorded_as_the_actions_of_its_items(
    recording: Path, svc: services_module.Services
) -> None:
    make_key(svc, [Scope.READ_THREATS])

    actions = {action for action, _ in recorded(recording)}
    tables = {resource for action, resource in recorded(recording)}
    assert "dynamodb:PutItem" in actions
    assert "dynamodb:TransactWriteItems" not in actions
    assert f"table/{svc.settings.keys_table}" in tables
    assert f"table/{svc.settings.audit_table}" in tables


def test_a_queue_send_is_recorded_on_the_queues_name(
    recording: Path, aws_env: dict[str, str]
) -> None:
    queue = DeliveryQueue(
        aws.sqs(),
        aws_env["JUPITER_WEBHOOK_QUEUE_URL"],
        aws_env["JUPITER_WEBHOOK_DLQ_URL"],
    )

    queue.send(MESSAGE)

    assert recorded(recording) == [
        ("sqs:SendMessage", "jupiter-local-webhook-deliveries")
    ]


def test_the_server_secret_read_is_recorded(
    recording: Path, aws_env: dict[str, str]
) -> None:
    name = "jupiter-dev-server-secret"
    boto3.client("secretsmanager").create_secret(Name=name, SecretString="s" * 64)
    env = {k: v for k, v in aws_env.items() if k != "JUPITER_SERVER_SECRET"}

    server_secret(load_settings({**env, "JUPITER_SERVER_SECRET_ID": name}))

    assert recorded(recording) == [
        ("secretsmanager:GetSecretValue", "secret:jupiter-dev-server-secret")
    ]


def test_a_connections_post_is_recorded_as_manage_connections(
    recording: Path, aws_env: dict[str, str]
) -> None:
    client = aws.management("https://abc123.execute-api.us-east-1.amazonaws.com/local")
    with Stubber(client) as stub:
        stub.add_response(
            "post_to_connection", {}, {"ConnectionId": "c1", "Data": b"x"}
        )
        ManagementApi(client).post("c1", "x")

    assert recorded(recording) == [
        ("execute-api:ManageConnections", "POST/@connections")
    ]


def test_a_call_the_test_makes_through_the_service_client_is_not_recorded(
    recording: Path, aws_env: dict[str, str]
) -> None:
    aws.dynamodb().scan(TableName=aws_env["JUPITER_KEYS_TABLE"])
    aws.sqs().purge_queue(QueueUrl=aws_env["JUPITER_WEBHOOK_QUEUE_URL"])

    assert recorded(recording) == []


def test_service_code_on_a_client_the_test_made_is_not_recorded(
    recording: Path, aws_env: dict[str, str]
) -> None:
    queue = DeliveryQueue(
        boto3.client("sqs"),
        aws_env["JUPITER_WEBHOOK_QUEUE_URL"],
        aws_env["JUPITER_WEBHOOK_DLQ_URL"],
    )

    queue.send(MESSAGE)

    assert recorded(recording) == []


def test_a_client_made_while_the_variable_was_unset_records_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: dict[str, str]
) -> None:
    monkeypatch.delenv(RECORD_VARIABLE, raising=False)
    aws.reset_clients()
    queue = DeliveryQueue(
        aws.sqs(),
        aws_env["JUPITER_WEBHOOK_QUEUE_URL"],
        aws_env["JUPITER_WEBHOOK_DLQ_URL"],
    )
    monkeypatch.setenv(RECORD_VARIABLE, str(tmp_path))

    queue.send(MESSAGE)

    assert list(tmp_path.iterdir()) == []
