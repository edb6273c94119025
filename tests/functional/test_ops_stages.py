"""``python -m ops.stages``: stage variables from the template and the stack."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.stages import CONFIG, main, stack_outputs, sync_config, websocket_endpoint

QUEUE = "https://sqs.eu-west-1.amazonaws.com/210987654321/jupiter-prod-webhooks"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    copy = tmp_path / "config.json"
    shutil.copy(CONFIG, copy)
    return copy


def _env(path: Path, stage: str) -> dict[str, str]:
    return dict(json.loads(path.read_text())["stages"][stage]["environment_variables"])


def test_committed_config_is_in_step_with_the_template(config: Path) -> None:
    assert sync_config(config) == []


def test_missing_table_variable_is_written_back(config: Path) -> None:
    document = json.loads(config.read_text())
    del document["stages"]["dev"]["environment_variables"]["JUPITER_KEYS_TABLE"]
    config.write_text(json.dumps(document))

    changes = sync_config(config)

    assert changes == ["dev: JUPITER_KEYS_TABLE=jupiter-dev-keys"]
    assert _env(config, "dev")["JUPITER_KEYS_TABLE"] == "jupiter-dev-keys"


def test_deployed_outputs_go_to_their_stage_only(config: Path) -> None:
    sync_config(config, {"prod": {"JUPITER_WEBHOOK_QUEUE_URL": QUEUE}})

    assert _env(config, "prod")["JUPITER_WEBHOOK_QUEUE_URL"] == QUEUE
    assert "JUPITER_WEBHOOK_QUEUE_URL" not in _env(config, "dev")


def _stubbed_stack(outputs: list[dict[str, str]]) -> tuple[Any, Stubber]:
    client = boto3.client("cloudformation", region_name="eu-west-1")
    stubber = Stubber(client)
    stack = {
        "StackName": "jupiter-prod",
        "CreationTime": "2026-01-01T00:00:00Z",
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": outputs,
    }
    stubber.add_response(
        "describe_stacks", {"Stacks": [stack]}, {"StackName": "jupiter-prod"}
    )
    return client, stubber


def test_stack_outputs_are_keyed_by_the_variable_their_description_names() -> None:
    client, stubber = _stubbed_stack(
        [
            {
                "OutputKey": "WebhookQueueUrl",
                "OutputValue": QUEUE,
                "Description": "JUPITER_WEBHOOK_QUEUE_URL",
            },
            {"OutputKey": "Other", "OutputValue": "x", "Description": "not a setting"},
        ]
    )

    with stubber:
        outputs = stack_outputs(client, "jupiter-prod")

    assert outputs == {"JUPITER_WEBHOOK_QUEUE_URL": QUEUE}


def test_stack_without_its_stage_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--stack", "jupiter-prod"])

    assert exited.value.code == 2


def test_unreadable_stack_fails_without_touching_the_config(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://127.0.0.1:9")
    before = config.read_text()

    status = main(["--stage", "prod", "--stack", "jupiter-prod"], config)

    assert status == 1
    assert "cannot read stack jupiter-prod" in capsys.readouterr().err
    assert config.read_text() == before


def _deployed_record(directory: Path, stage: str, url: str) -> None:
    directory.mkdir(exist_ok=True)
    record = {
        "schema_version": "2.0",
        "backend": "api",
        "resources": [
            {"name": "api_handler", "resource_type": "lambda_function"},
            {
                "name": "websocket_api",
                "resource_type": "websocket_api",
                "websocket_api_url": url,
                "websocket_api_id": "abc123",
            },
        ],
    }
    (directory / f"{stage}.json").write_text(json.dumps(record))


def test_deployed_websocket_api_gives_its_stage_the_connections_endpoint(
    config: Path, tmp_path: Path
) -> None:
    records = tmp_path / "deployed"
    _deployed_record(
        records, "prod", "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod/"
    )

    changes = sync_config(config, records=records)

    endpoint = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    assert changes == [f"prod: JUPITER_WS_MANAGEMENT_ENDPOINT={endpoint}"]
    assert _env(config, "prod")["JUPITER_WS_MANAGEMENT_ENDPOINT"] == endpoint
    assert "JUPITER_WS_MANAGEMENT_ENDPOINT" not in _env(config, "dev")


def test_stage_not_deployed_yet_gets_no_connections_endpoint(
    config: Path, tmp_path: Path
) -> None:
    assert websocket_endpoint("prod", tmp_path / "deployed") == {}
    assert sync_config(config, records=tmp_path / "deployed") == []
