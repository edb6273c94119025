"""The deployed stages' configuration: names, tracing, secrets and IAM policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import boto3
import cfnlint
import pytest
from chalice.test import Client

from chalicelib import services as services_module
from chalicelib.config import load_settings, server_secret
from chalicelib.errors import ConfigurationError
from chalicelib.policy import Scope, Tier
from infrastructure.provision import Resolver, load_template, provision
from ops.stages import STAGES, stage_tables
from tests.functional.conftest import PROJECT_DIR, build_services, make_key
from tests.support.policy import (
    ACCOUNT,
    DEPLOYED,
    allows,
    chalice_config,
    policy,
    stage_config,
)


def _dynamodb_actions(stage: str) -> set[str]:
    """Every DynamoDB action the stage's policy grants, on any resource."""
    return {
        action
        for statement in policy(stage)
        for action in statement["Action"]
        if action.startswith("dynamodb:")
    }


@cache
def _known_actions() -> frozenset[str]:
    data = Path(cfnlint.__file__).parent / "data/AdditionalSpecs/Policies.json"
    services = json.loads(data.read_text())
    return frozenset(
        f"{prefix}:{action}"
        for prefix, service in services.items()
        for action in service.get("Actions", {})
    )


def test_config_declares_local_dev_and_prod_with_regional_endpoints() -> None:
    config = chalice_config()

    assert set(config["stages"]) == set(STAGES)
    assert config["app_name"] == "jupiter-api"
    assert config["api_gateway_endpoint_type"] == "REGIONAL"
    assert config["autogen_policy"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_stage_names_every_table_of_the_template(stage: str) -> None:
    environment = stage_config(stage)["environment_variables"]

    assert environment["JUPITER_STAGE"] == stage
    for variable, table in stage_tables(stage).items():
        assert environment.get(variable) == table, (
            f"{stage} lacks {variable}={table}: run python -m ops.stages"
        )


@pytest.mark.parametrize("stage", DEPLOYED)
def test_deployed_stage_traces_and_sizes_its_function(stage: str) -> None:
    config = stage_config(stage)
    api = config["lambda_functions"]["api_handler"]

    assert config["xray"] is True
    assert config["environment_variables"]["JUPITER_TRACING"] == "true"
    assert 1 <= api["lambda_timeout"] <= 29  # API Gateway gives up at 29 s
    assert api["lambda_memory_size"] >= 512


def test_local_stage_does_not_trace() -> None:
    assert stage_config("local")["environment_variables"]["JUPITER_TRACING"] == "false"


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_commits_a_server_secret(stage: str) -> None:
    assert "JUPITER_SERVER_SECRET" not in stage_config(stage)["environment_variables"]


@pytest.mark.parametrize("stage", DEPLOYED)
def test_deployed_stage_reads_its_own_server_secret(stage: str) -> None:
    name = stage_config(stage)["environment_variables"]["JUPITER_SERVER_SECRET_ID"]
    declared = load_template()["Resources"]["ServerSecret"]["Properties"]["Name"]

    assert name == Resolver(load_template(), stage, "us-east-1").value(declared)
    arn = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"
    assert allows(stage, "secretsmanager:GetSecretValue", arn)
    other = "prod" if stage == "dev" else "dev"
    foreign = arn.replace(stage, other)
    assert not allows(stage, "secretsmanager:GetSecretValue", foreign)
    # Secrets Manager's suffix is six characters: a longer name is another secret.
    longer = arn.replace(name, f"{name}-old")
    assert not allows(stage, "secretsmanager:GetSecretValue", longer)


@pytest.mark.parametrize("stage", DEPLOYED)
def test_policy_names_only_real_iam_actions(stage: str) -> None:
    actions = {a for s in policy(stage) for a in s["Action"]}

    unknown = {a for a in actions if a.lower() not in _known_actions()}
    assert not unknown


@pytest.mark.parametrize("stage", DEPLOYED)
def test_only_stream_discovery_and_tracing_apply_to_every_resource(
    stage: str,
) -> None:
    unscoped = {a for s in policy(stage) if "*" in s["Resource"] for a in s["Action"]}

    # Neither action can be scoped to a resource in IAM.
    assert unscoped == {
        "dynamodb:ListStreams",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


@pytest.mark.parametrize(("stage", "other"), [("dev", "prod"), ("prod", "dev")])
def test_policy_reaches_no_table_of_another_stage(stage: str, other: str) -> None:
    for table in [*stage_tables(other).values(), "someone-elses-table"]:
        arn = f"arn:aws:dynamodb:{ACCOUNT}:table/{table}"
        for action in _dynamodb_actions(stage) - {"dynamodb:ListStreams"}:
            assert not allows(stage, action, arn)
            assert not allows(stage, action, f"{arn}/index/by_owner")
            assert not allows(stage, action, f"{arn}/stream/2026")


@pytest.mark.parametrize(("stage", "other"), [("dev", "prod"), ("prod", "dev")])
def test_policy_uses_only_its_own_stages_queues(stage: str, other: str) -> None:
    queue = f"arn:aws:sqs:{ACCOUNT}:jupiter-{stage}-webhook-deliveries"
    foreign = queue.replace(stage, other)

    for action in ("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"):
        assert allows(stage, action, queue)
        assert not allows(stage, action, foreign)
    assert allows(stage, "sqs:SendMessage", f"{queue}-dlq")
    assert not allows(stage, "sqs:ReceiveMessage", f"{queue}-dlq")


@pytest.mark.parametrize("stage", DEPLOYED)
def test_policy_allows_logs_tracing_and_websocket_posts(stage: str) -> None:
    group = (
        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/jupiter-api-{stage}"
    )
    connection = (
        f"arn:aws:execute-api:us-east-1:123456789012:abc123/{stage}"
        "/POST/@connections/Q2xpZW50"
    )

    assert allows(stage, "logs:CreateLogGroup", group)
    assert allows(stage, "logs:PutLogEvents", f"{group}:log-stream:2026/01/01/x")
    assert allows(stage, "xray:PutTraceSegments", "*")
    assert allows(stage, "xray:PutTelemetryRecords", "*")
    assert allows(stage, "execute-api:ManageConnections", connection)
    other = "prod" if stage == "dev" else "dev"
    assert not allows(
        stage, "execute-api:ManageConnections", connection.replace(stage, other)
    )


def _without_secret(env: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in env.items() if k != "JUPITER_SERVER_SECRET"},
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }


def _create_secret(value: str, name: str = "jupiter-dev-server-secret") -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=name, SecretString=value)


def test_server_secret_is_read_from_secrets_manager(aws_env: dict[str, str]) -> None:
    secret = "s" * 64
    _create_secret(secret)
    env = _without_secret(aws_env, JUPITER_SERVER_SECRET_ID="jupiter-dev-server-secret")

    assert server_secret(load_settings(env)) == secret


def test_missing_server_secret_names_the_variable_and_secret(
    aws_env: dict[str, str],
) -> None:
    env = _without_secret(aws_env, JUPITER_SERVER_SECRET_ID="jupiter-dev-server-secret")
    config = load_settings(env)

    with pytest.raises(ConfigurationError) as raised:
        server_secret(config)

    message = str(raised.value)
    assert "JUPITER_SERVER_SECRET_ID" in message
    assert "jupiter-dev-server-secret" in message
    assert "ResourceNotFoundException" in message


def test_a_binary_only_secret_is_a_configuration_error(
    aws_env: dict[str, str],
) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="jupiter-dev-server-secret", SecretBinary=b"s" * 64)
    env = _without_secret(aws_env, JUPITER_SERVER_SECRET_ID="jupiter-dev-server-secret")

    with pytest.raises(ConfigurationError, match="holds no secret string"):
        server_secret(load_settings(env))


def test_a_short_server_secret_is_refused_without_showing_it(
    aws_env: dict[str, str],
) -> None:
    _create_secret("short-and-weak")
    env = _without_secret(aws_env, JUPITER_SERVER_SECRET_ID="jupiter-dev-server-secret")

    with pytest.raises(ConfigurationError) as raised:
        server_secret(load_settings(env))

    assert "JUPITER_SERVER_SECRET_ID" in str(raised.value)
    assert "14 characters" in str(raised.value)
    assert "short-and-weak" not in str(raised.value)


def test_unreachable_secrets_manager_is_a_configuration_error(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    env = _without_secret(
        aws_env,
        JUPITER_SERVER_SECRET_ID="jupiter-dev-server-secret",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
    )

    config = load_settings(env)

    with pytest.raises(ConfigurationError, match="EndpointConnectionError"):
        server_secret(config)


def test_explicit_secret_wins_over_secrets_manager(aws_env: dict[str, str]) -> None:
    env = {**aws_env, "JUPITER_SERVER_SECRET_ID": "jupiter-dev-never-created"}

    assert server_secret(load_settings(env)) == aws_env["JUPITER_SERVER_SECRET"]


def test_provisioning_generates_the_secret_once(aws_env: dict[str, str]) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    first = provision("dev", "us-east-1")["ServerSecretId"]
    value = client.get_secret_value(SecretId=first)["SecretString"]

    again = provision("dev", "us-east-1")["ServerSecretId"]

    assert again == first
    assert first.startswith("arn:aws:secretsmanager:")
    assert client.get_secret_value(SecretId=again)["SecretString"] == value
    assert len(value) == 64
    assert value.isalnum()


def _functions() -> dict[str, str]:
    """Name each Lambda function Chalice makes of the app, with its kind."""
    from app import app

    functions = {"api_handler": "rest"}
    websocket = {
        "$connect": "websocket_connect",
        "$disconnect": "websocket_disconnect",
    }
    for route in app.websocket_handlers:
        functions[websocket.get(route, "websocket_message")] = "websocket"
    for source in app.event_sources:
        functions[source.name] = type(source).__name__
    return functions


@pytest.mark.parametrize("stage", DEPLOYED)
def test_every_function_of_the_app_has_its_timeout_and_memory(stage: str) -> None:
    sized = stage_config(stage)["lambda_functions"]

    for name in _functions():
        assert {"lambda_timeout", "lambda_memory_size"} <= set(sized.get(name, {})), (
            f"{stage}: size {name} in .chalice/config.json lambda_functions"
        )


@pytest.mark.parametrize("stage", DEPLOYED)
def test_queue_consumers_finish_within_the_queues_visibility_timeout(
    stage: str,
) -> None:
    resources = load_template()["Resources"].values()
    visibility = min(
        int(r["Properties"]["VisibilityTimeout"])
        for r in resources
        if r["Type"] == "AWS::SQS::Queue" and "VisibilityTimeout" in r["Properties"]
    )
    sized = stage_config(stage)["lambda_functions"]

    for name, kind in _functions().items():
        if kind == "SQSEventConfig":
            assert sized[name]["lambda_timeout"] <= visibility


@pytest.mark.parametrize("stage", DEPLOYED)
def test_policy_may_send_to_every_queue_of_the_template(stage: str) -> None:
    template = load_template()
    resolver = Resolver(template, stage, region="us-east-1")
    queues = [
        resolver.value(r["Properties"]["QueueName"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SQS::Queue"
    ]

    assert queues
    for name in queues:
        assert allows(stage, "sqs:SendMessage", f"arn:aws:sqs:{ACCOUNT}:{name}")


def test_a_request_that_signs_no_cursor_never_reads_the_server_secret(
    aws_env: dict[str, str],
    svc: services_module.Services,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from app import app

    headers = make_key(svc, [Scope.READ_THREATS], Tier.ENTERPRISE)
    monkeypatch.delenv("JUPITER_SERVER_SECRET")
    # The dev stage's name; the local stage provisioned here has no secret.
    monkeypatch.setenv("JUPITER_SERVER_SECRET_ID", "jupiter-dev-server-secret")
    deferred = build_services({})

    with (
        services_module.override(deferred),
        Client(app, stage_name="local", project_dir=PROJECT_DIR) as client,
    ):
        usage = client.http.get("/api/usage", headers=headers)
        listing = client.http.get("/api/threats", headers=headers)

    assert usage.status_code == 200
    assert listing.status_code == 500
    problem = json.loads(listing.body)
    assert problem["code"] == "configuration_error"
    # Its detail names the stage's secret: logged for operators, not sent.
    assert "jupiter-dev-server-secret" not in listing.body.decode()
    assert "JUPITER_SERVER_SECRET_ID" not in listing.body.decode()
    logged = [json.loads(r.getMessage()) for r in caplog.records]
    assert any(
        line["event"] == "configuration_error"
        and "jupiter-dev-server-secret" in line["detail"]
        and line["correlation_id"] == problem["request_id"]
        for line in logged
    )


# Builds a model with importlib.metadata's scan of installed distributions
# forbidden: pydantic scans them for plugins on its first model unless told not to.
NO_PLUGIN_SCAN = """\
import importlib.metadata

def forbidden(*args, **kwargs):
    raise AssertionError("scanned the installed distributions")

importlib.metadata.distributions = forbidden
from pydantic import BaseModel

class Probe(BaseModel):
    value: int

print(Probe(value=1).value)
"""


@pytest.mark.parametrize("stage", STAGES)
def test_stage_spares_its_cold_start_pydantics_plugin_scan(stage: str) -> None:
    variable = "PYDANTIC_DISABLE_PLUGINS"
    value = stage_config(stage)["environment_variables"][variable]
    env = {k: v for k, v in os.environ.items() if k != variable}

    built, scanned = (
        subprocess.run(
            [sys.executable, "-c", NO_PLUGIN_SCAN],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        for environment in ({**env, variable: value}, env)
    )

    assert (built.returncode, built.stdout.strip()) == (0, "1"), built.stderr
    assert "scanned the installed distributions" in scanned.stderr
