"""infrastructure/template.yaml: durability in prod, alarms, and outputs as settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from chalicelib.config import ENVIRONMENT
from infrastructure.provision import Resolver, load_template, provision
from ops.package import ACCOUNT_SPECIFIC

ROOT = Path(__file__).resolve().parents[2]
TABLE = "AWS::DynamoDB::Table"
ALARM = "AWS::CloudWatch::Alarm"
# Tables whose items live minutes to a day (TTL) and can be rebuilt by the
# service: WebSocket connections and their frames, the address lockouts and
# idempotency records. Everything else is backed up in prod.
EPHEMERAL = {"ConnectionsTable", "FramesTable", "IpGuardTable", "IdempotencyTable"}


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in load_template()["Resources"].items()
        if resource["Type"] == kind
    }


def _in(stage: str, node: Any) -> Any:
    template = load_template()
    resolver = Resolver(template, stage, region="us-east-1")
    return resolver.value(node)


def _app_functions() -> set[str]:
    """The deployed name of every Lambda function Chalice makes of app.py."""
    from app import app

    names = {""}
    websocket = {"$connect": "connect", "$disconnect": "disconnect"}
    for route in app.websocket_handlers:
        names.add(f"-websocket_{websocket.get(route, 'message')}")
    for source in app.event_sources:
        names.add(f"-{source.name}")
    # The stream handler exists where the deploying shell names the stream.
    names.add("-events_stream")
    return {f"jupiter-api-{{stage}}{suffix}" for suffix in names}


@pytest.mark.parametrize("table", sorted(_resources(TABLE)))
def test_every_table_is_protected_from_deletion_in_prod_only(table: str) -> None:
    properties = _resources(TABLE)[table]["Properties"]

    assert _in("prod", properties["DeletionProtectionEnabled"]) is True
    assert _in("dev", properties["DeletionProtectionEnabled"]) is False


@pytest.mark.parametrize("table", sorted(set(_resources(TABLE)) - EPHEMERAL))
def test_lasting_tables_have_point_in_time_recovery_in_prod_and_are_retained(
    table: str,
) -> None:
    resource = _resources(TABLE)[table]
    recovery = resource["Properties"]["PointInTimeRecoverySpecification"]

    assert _in("prod", recovery["PointInTimeRecoveryEnabled"]) is True
    assert _in("dev", recovery["PointInTimeRecoveryEnabled"]) is False
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("table", sorted(EPHEMERAL))
def test_short_lived_tables_expire_their_items(table: str) -> None:
    ttl = _resources(TABLE)[table]["Properties"]["TimeToLiveSpecification"]

    assert ttl["Enabled"] is True


def test_delivery_queue_redrives_to_its_dead_letter_queue() -> None:
    queue = load_template()["Resources"]["WebhookDeliveryQueue"]["Properties"]

    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]
    }
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 1


def test_only_deployed_stages_get_a_server_secret() -> None:
    with mock_aws():
        local = provision("local")
        dev = provision("dev")

    assert "ServerSecretId" not in local
    assert dev["ServerSecretId"].startswith("arn:aws:secretsmanager:")


def test_every_output_is_a_setting_of_the_service() -> None:
    settings = set(ENVIRONMENT.values())

    for name, output in load_template()["Outputs"].items():
        assert output["Description"] in settings, name


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_stage_names_every_output_but_those_only_a_deployed_stack_knows(
    stage: str,
) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    environment = config["stages"][stage]["environment_variables"]
    resolver = Resolver(load_template(), stage, "us-east-1")
    outputs = {
        str(o["Description"])
        for o in load_template()["Outputs"].values()
        if resolver.declared(o)
    }

    assert outputs - ACCOUNT_SPECIFIC <= set(environment)
    assert outputs >= ACCOUNT_SPECIFIC


def test_every_function_of_the_app_has_an_errors_alarm() -> None:
    watched = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::Sub"]
        for alarm in _resources(ALARM).values()
        if alarm["Properties"].get("MetricName") == "Errors"
    }

    assert watched == {name.replace("{stage}", "${Stage}") for name in _app_functions()}


def test_every_table_has_a_throttle_alarm() -> None:
    throttled = {
        dimension["Value"]["Ref"]
        for alarm in _resources(ALARM).values()
        for query in alarm["Properties"].get("Metrics", [])
        if query.get("MetricStat", {}).get("Metric", {}).get("MetricName")
        in ("ReadThrottleEvents", "WriteThrottleEvents")
        for dimension in query["MetricStat"]["Metric"]["Dimensions"]
    }

    assert throttled == set(_resources(TABLE))


def test_dead_letter_alarm_fires_on_the_first_message() -> None:
    alarm = load_template()["Resources"]["WebhookDeadLettersAlarm"]["Properties"]

    assert alarm["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]},
        }
    ]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_failure_rate_and_5xx_alarms_watch_the_stage() -> None:
    resources = load_template()["Resources"]
    rate = resources["WebhookFailureRateAlarm"]["Properties"]["Metrics"]
    api = resources["Api5xxRateAlarm"]["Properties"]

    namespaces = {
        q["MetricStat"]["Metric"]["Namespace"] for q in rate if "MetricStat" in q
    }
    assert namespaces == {"JupiterAPI"}
    assert {"Name": "Stage", "Value": {"Ref": "Stage"}} in api["Dimensions"]
    assert {"Name": "ApiName", "Value": "jupiter-api"} in api["Dimensions"]


def test_every_alarm_notifies_the_stage_topic() -> None:
    for name, alarm in _resources(ALARM).items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}], name


def test_provisioning_skips_alarms_and_their_topic() -> None:
    with mock_aws():
        outputs = provision("dev")

    assert set(outputs) == set(load_template()["Outputs"])
