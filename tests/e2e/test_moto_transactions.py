"""Transactions on the local moto server stay all-or-nothing with its cheap rollback.

``local.moto_rollback`` keeps copies of the items a transaction names instead
of whole tables; these check that a cancelled transaction still leaves no
trace, on tables with and without a sort key and with a stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_moto_journal import MotoProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

SIMPLE = "tx-simple"
SORTED = "tx-sorted"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoProcess]:
    journal = tmp_path_factory.mktemp("tx") / "moto-journal.jsonl"
    with MotoProcess(journal) as moto:
        create_tables(moto.client("dynamodb"))
        yield moto


@pytest.fixture
def dynamodb(server: MotoProcess) -> Any:
    return server.client("dynamodb")


def create_tables(client: Any) -> None:
    client.create_table(
        TableName=SIMPLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    client.create_table(
        TableName=SORTED,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName=SIMPLE, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    client.put_item(
        TableName=SORTED, Item={"pk": {"S": "p"}, "sk": {"S": "1"}, "n": {"N": "1"}}
    )


def snapshot(client: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        table: sorted(client.scan(TableName=table)["Items"], key=str)
        for table in (SIMPLE, SORTED)
    }


def failing_check() -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": SIMPLE,
            "Key": {"pk": {"S": "a"}},
            "ConditionExpression": "n = :wrong",
            "ExpressionAttributeValues": {":wrong": {"N": "99"}},
        }
    }


def test_cancelled_transaction_leaves_every_named_item_as_it_was(
    dynamodb: Any,
) -> None:
    before = snapshot(dynamodb)

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": SIMPLE, "Item": {"pk": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": SORTED,
                        "Key": {"pk": {"S": "p"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "Put": {
                        "TableName": SORTED,
                        "Item": {"pk": {"S": "p"}, "sk": {"S": "2"}},
                    }
                },
                failing_check(),
            ]
        )

    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert snapshot(dynamodb) == before


def test_cancelled_delete_puts_the_item_back(dynamodb: Any) -> None:
    before = snapshot(dynamodb)

    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": SORTED,
                        "Key": {"pk": {"S": "p"}, "sk": {"S": "1"}},
                    }
                },
                failing_check(),
            ]
        )

    assert snapshot(dynamodb) == before


def test_successful_transaction_applies_every_part(dynamodb: Any) -> None:
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": SIMPLE, "Item": {"pk": {"S": "b"}}}},
            {
                "Update": {
                    "TableName": SIMPLE,
                    "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )

    items = {i["pk"]["S"]: i for i in dynamodb.scan(TableName=SIMPLE)["Items"]}
    assert set(items) == {"a", "b"}
    assert items["a"]["n"] == {"N": "2"}


def test_transactions_replay_after_a_restart(
    server: MotoProcess, dynamodb: Any, tmp_path: Path
) -> None:
    # A fresh server built from a copy of the journal holds the same items.
    copied = tmp_path / "moto-journal.jsonl"
    copied.write_bytes(server.journal.read_bytes())
    before = snapshot(dynamodb)

    with MotoProcess(copied) as moto:
        assert snapshot(moto.client("dynamodb")) == before
    assert '"diverged":0' in moto.log.read_text()
