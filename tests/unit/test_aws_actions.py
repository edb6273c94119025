"""The IAM action and resource each AWS call needs (chalicelib.aws_actions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.aws_actions import Permission, Recorder, needed


def test_a_write_transaction_needs_each_of_its_items_actions() -> None:
    items = [
        {"Put": {"TableName": "keys", "Item": {}}},
        {"Update": {"TableName": "keys", "Key": {}, "UpdateExpression": "SET a = :a"}},
        {"Delete": {"TableName": "audit", "Key": {}}},
        {"ConditionCheck": {"TableName": "events", "Key": {}}},
    ]

    assert needed("dynamodb", "TransactWriteItems", {"TransactItems": items}) == [
        Permission("dynamodb:PutItem", "table/keys"),
        Permission("dynamodb:UpdateItem", "table/keys"),
        Permission("dynamodb:DeleteItem", "table/audit"),
        Permission("dynamodb:ConditionCheckItem", "table/events"),
    ]


def test_a_read_transaction_needs_get_item_on_each_table() -> None:
    items = [{"Get": {"TableName": "keys", "Key": {}}}]

    assert needed("dynamodb", "TransactGetItems", {"TransactItems": items}) == [
        Permission("dynamodb:GetItem", "table/keys")
    ]


def test_a_batch_needs_its_own_action_on_every_table_it_names() -> None:
    params = {"RequestItems": {"keys": [], "audit": []}}

    assert needed("dynamodb", "BatchWriteItem", params) == [
        Permission("dynamodb:BatchWriteItem", "table/keys"),
        Permission("dynamodb:BatchWriteItem", "table/audit"),
    ]


def test_an_index_query_needs_query_on_the_index() -> None:
    params = {"TableName": "keys", "IndexName": "by_owner"}

    assert needed("dynamodb", "Query", params) == [
        Permission("dynamodb:Query", "table/keys/index/by_owner")
    ]


def test_a_queue_call_is_on_the_queue_its_url_names() -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/jupiter-dev-webhooks"

    assert needed("sqs", "SendMessage", {"QueueUrl": url}) == [
        Permission("sqs:SendMessage", "jupiter-dev-webhooks")
    ]


def test_a_secret_read_is_on_the_secrets_name() -> None:
    params = {"SecretId": "jupiter-dev-server-secret"}

    assert needed("secretsmanager", "GetSecretValue", params) == [
        Permission("secretsmanager:GetSecretValue", "secret:jupiter-dev-server-secret")
    ]


def test_a_secret_read_by_arn_is_on_what_follows_secret() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jupiter-dev-s-AbCdEf"

    assert needed("secretsmanager", "GetSecretValue", {"SecretId": arn}) == [
        Permission("secretsmanager:GetSecretValue", "secret:jupiter-dev-s-AbCdEf")
    ]


@pytest.mark.parametrize(
    ("operation", "method"),
    [
        ("PostToConnection", "POST"),
        ("GetConnection", "GET"),
        ("DeleteConnection", "DELETE"),
    ],
)
def test_every_connections_call_needs_manage_connections(
    operation: str, method: str
) -> None:
    assert needed("execute-api", operation, {"ConnectionId": "Q2xpZW50"}) == [
        Permission("execute-api:ManageConnections", f"{method}/@connections")
    ]


def test_a_call_naming_no_resource_is_on_every_resource() -> None:
    assert needed("dynamodb", "ListTables", {}) == [
        Permission("dynamodb:ListTables", "*")
    ]


def test_the_recorder_writes_each_permission_once(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "calls" / "1.jsonl")
    permission = Permission("dynamodb:GetItem", "table/keys")

    recorder.record(permission)
    recorder.record(permission)
    recorder.record(Permission("dynamodb:PutItem", "table/keys"))

    assert recorder.path.read_text().splitlines() == [
        '{"action": "dynamodb:GetItem", "resource": "table/keys"}',
        '{"action": "dynamodb:PutItem", "resource": "table/keys"}',
    ]
