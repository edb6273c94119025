"""``python -m ops.create_admin_key`` against a moto-provisioned stage."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.admission.gateway import Credentials, Gateway
from chalicelib.admission.ip_guard import IpGuard
from chalicelib.clock import SystemClock
from chalicelib.keys.models import CreateKeyRequest
from chalicelib.policy import Scope, Tier
from infrastructure.provision import provision
from ops.create_admin_key import OperatorError, create_admin_key, main


@pytest.fixture
def moto_aws() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def prod(moto_aws: Any) -> Any:
    provision("prod")
    return moto_aws


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_admin_key_is_created_in_the_stage_tables_and_admits_admin_routes(
    prod: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(
        capsys, "--stage", "prod", "--owner", "org_ops", "--name", "first admin"
    )

    assert status == 0
    created = json.loads(out)
    assert created["stage"] == "prod"
    assert created["key_id"].startswith("jptr_")
    assert re.fullmatch(r"[0-9a-f]{64}", created["key_secret"])
    assert created["permissions"] == ["ADMIN"]
    assert created["tier"] == Tier.ENTERPRISE.value
    clock = SystemClock()
    gateway = Gateway(
        prod, "jupiter-prod-keys", clock, IpGuard(prod, "jupiter-prod-ip-guard", clock)
    )
    credentials = Credentials(created["key_id"], created["key_secret"], "192.0.2.10")
    principal = gateway.admit(credentials, Scope.WRITE_THREATS)
    assert principal.is_admin
    assert principal.owner_id == "org_ops"


def test_secret_is_printed_exactly_once_and_stored_only_as_a_hash(
    prod: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, err = _run(capsys, "--stage", "prod", "--owner", "org_ops", "--name", "a")

    secret = json.loads(out)["key_secret"]
    assert (out + err).count(secret) == 1
    items = prod.scan(TableName="jupiter-prod-keys")["Items"]
    assert secret not in json.dumps(items)


def test_creation_is_audited_with_the_operator_as_actor(
    prod: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "--stage", "prod", "--owner", "org_ops", "--name", "a")

    key_id = json.loads(out)["key_id"]
    records = prod.query(
        TableName="jupiter-prod-audit",
        KeyConditionExpression="key_id = :k",
        ExpressionAttributeValues={":k": {"S": key_id}},
    )["Items"]
    assert [r["action"]["S"] for r in records] == ["key.created"]
    assert records[0]["actor_key_id"]["S"].startswith("operator:")


def test_tier_option_sets_the_keys_tier(
    prod: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(
        capsys, "--stage", "prod", "--owner", "o", "--name", "a", "--tier", "BASIC"
    )

    assert json.loads(out)["tier"] == "BASIC"


def test_key_is_written_only_to_the_named_stage(
    prod: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    provision("dev")

    _run(capsys, "--stage", "dev", "--owner", "org_ops", "--name", "dev admin")

    assert prod.scan(TableName="jupiter-prod-keys")["Count"] == 0
    assert prod.scan(TableName="jupiter-dev-keys")["Count"] == 1


def test_undeployed_stage_fails_naming_the_missing_table(
    moto_aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(
        capsys, "--stage", "dev", "--owner", "org_ops", "--name", "first admin"
    )

    assert status == 1
    assert out == ""
    assert "jupiter-dev-keys does not exist" in err
    assert "Stage=dev" in err


def test_invalid_owner_is_refused_before_touching_the_store(
    moto_aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(
        capsys, "--stage", "prod", "--owner", "not an id!", "--name", "x"
    )

    assert status == 2
    assert out == ""
    assert "owner_id" in err


def test_unknown_stage_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--stage", "staging", "--owner", "o", "--name", "n"])

    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_missing_region_fails_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")

    status, out, err = _run(capsys, "--stage", "dev", "--owner", "o", "--name", "n")

    assert status == 1
    assert out == ""
    assert "--region" in err


def _stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return client, Stubber(client)


def test_unreadable_table_names_the_aws_error() -> None:
    client, stubber = _stubbed()
    stubber.add_client_error("describe_table", "AccessDeniedException")

    with stubber, pytest.raises(OperatorError, match="AccessDeniedException"):
        create_admin_key(client, "prod", _request(), "alice")


def test_failed_write_is_reported_not_raised_raw() -> None:
    client, stubber = _stubbed()
    stubber.add_response("describe_table", {})
    stubber.add_response("describe_table", {})
    stubber.add_client_error("transact_write_items", "InternalServerError")

    with stubber, pytest.raises(OperatorError, match="could not create the key"):
        create_admin_key(client, "prod", _request(), "alice")


def test_unreachable_endpoint_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    status, _, err = _run(
        capsys,
        *("--stage", "dev", "--owner", "o", "--name", "n"),
        *("--endpoint-url", "http://127.0.0.1:9"),
    )

    assert status == 1
    assert "cannot reach DynamoDB" in err


def _request() -> CreateKeyRequest:
    return CreateKeyRequest(name="a", owner_id="org_ops", permissions=[Scope.ADMIN])
