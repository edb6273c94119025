"""The local moto server's journal: what it keeps, and a faithful replay."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from tests.e2e.conftest import PROJECT_DIR, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

TABLE = "journal-test"


class MotoProcess:
    """``python -m local.moto_server`` with a journal, as the stack runs it."""

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = journal.with_suffix(".log")

    def __enter__(self) -> MotoProcess:
        self._log = self.log.open("wb")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local.moto_server",
                "--port",
                str(self.port),
                "--journal",
                str(self.journal),
                "--until-stdin-closes",
            ],
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stderr=self._log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/moto-api/", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(self.log.read_text())

    def __exit__(self, *exc: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(10)
        self._log.close()

    def client(self, service: str) -> Any:
        factory: Any = boto3.client
        return factory(service, region_name="us-east-1", endpoint_url=self.url)

    def keys(self) -> list[dict[str, Any]]:
        items = self.client("dynamodb").scan(TableName=TABLE)["Items"]
        return sorted(items, key=lambda i: i["key_id"]["S"])


@dataclass
class Restarted:
    """What one server wrote, and what a second one rebuilt from its journal."""

    journal: Path
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    messages: dict[str, Any]
    replay_log: str


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Restarted:
    journal = tmp_path_factory.mktemp("moto") / "moto-journal.jsonl"
    with MotoProcess(journal) as moto:
        write_some_state(moto)
        before = moto.keys()
    with MotoProcess(journal) as moto:
        after = moto.keys()
        sqs = moto.client("sqs")
        queue = sqs.get_queue_url(QueueName="journal-test")["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=queue)
    return Restarted(journal, before, after, messages, moto.log.read_text())


def write_some_state(moto: MotoProcess) -> None:
    dynamodb = moto.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "key_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=TABLE,
        TimeToLiveSpecification={"AttributeName": "ttl", "Enabled": True},
    )
    for n in range(3):
        dynamodb.put_item(
            TableName=TABLE, Item={"key_id": {"S": f"k{n}"}, "n": {"N": str(n)}}
        )
    with pytest.raises(ClientError):
        dynamodb.put_item(
            TableName=TABLE,
            Item={"key_id": {"S": "k0"}},
            ConditionExpression="attribute_not_exists(key_id)",
        )
    dynamodb.update_item(
        TableName=TABLE,
        Key={"key_id": {"S": "k1"}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "10"}},
    )
    dynamodb.delete_item(TableName=TABLE, Key={"key_id": {"S": "k2"}})
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName="journal-test")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="not kept")


def actions(journal: Path) -> list[str]:
    return [json.loads(line)["action"] for line in journal.read_text().splitlines()]


def test_journal_keeps_writes_and_queues_but_not_refusals_or_messages(
    restarted: Restarted,
) -> None:
    # The refused conditional put, the reads and the message are left out.
    assert actions(restarted.journal) == [
        "CreateTable",
        "UpdateTimeToLive",
        "PutItem",
        "PutItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "CreateQueue",
    ]
    assert "Signature=0" in restarted.journal.read_text()


def test_restart_replays_the_journal_into_the_same_state(
    restarted: Restarted,
) -> None:
    assert restarted.after == restarted.before
    assert [i["key_id"]["S"] for i in restarted.after] == ["k0", "k1"]
    assert restarted.after[1]["n"] == {"N": "11"}
    assert '"requests":8,"diverged":0' in restarted.replay_log


def test_restart_keeps_queues_but_not_their_messages(restarted: Restarted) -> None:
    assert "Messages" not in restarted.messages


def test_a_line_torn_by_a_crash_is_dropped_on_start(restarted: Restarted) -> None:
    whole = restarted.journal.read_text()
    restarted.journal.write_text(whole + '{"v":1,"service":"dynamodb","act')

    with MotoProcess(restarted.journal) as moto:
        assert moto.keys() == restarted.before

    assert restarted.journal.read_text() == whole
