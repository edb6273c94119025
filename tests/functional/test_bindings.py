"""The queue and stream app.py binds its handlers to, named by the deploying shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import bindings

PROJECT_DIR = Path(__file__).resolve().parents[2]
STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/jupiter-prod-events"
    "/stream/2026-12-04T00:00:00.000"
)

# Imports app.py as `chalice package` does, and lists its event sources.
SOURCES = """\
import json
from app import app
print(json.dumps([
    [type(s).__name__, getattr(s, "queue", None), getattr(s, "stream_arn", None)]
    for s in app.event_sources
]))
"""


def _sources(**variables: str) -> list[list[str | None]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JUPITER_STAGE", "JUPITER_EVENTS_STREAM_ARN")
    }
    listed = subprocess.run(
        [sys.executable, "-c", SOURCES],
        cwd=PROJECT_DIR,
        env={**env, **variables},
        capture_output=True,
        text=True,
        check=True,
    )
    sources: list[list[str | None]] = json.loads(listed.stdout.splitlines()[-1])
    return sources


def test_the_delivery_queue_is_the_deploying_stages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JUPITER_STAGE", "prod")

    assert bindings.delivery_queue_name() == "jupiter-prod-webhook-deliveries"


def test_the_delivery_queue_defaults_to_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPITER_STAGE", raising=False)

    assert bindings.delivery_queue_name() == "jupiter-dev-webhook-deliveries"


@pytest.mark.parametrize("value", [None, ""])
def test_no_stream_is_bound_without_its_arn(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("JUPITER_EVENTS_STREAM_ARN", raising=False)
    else:
        monkeypatch.setenv("JUPITER_EVENTS_STREAM_ARN", value)

    assert bindings.events_stream_arn() is None


def test_the_app_binds_the_stages_queue_and_the_exported_stream() -> None:
    sources = _sources(JUPITER_STAGE="prod", JUPITER_EVENTS_STREAM_ARN=STREAM_ARN)

    assert ["SQSEventConfig", "jupiter-prod-webhook-deliveries", None] in sources
    assert ["DynamoDBEventConfig", None, STREAM_ARN] in sources


def test_the_app_binds_no_stream_when_none_is_exported() -> None:
    sources = _sources(JUPITER_STAGE="dev")

    assert ["SQSEventConfig", "jupiter-dev-webhook-deliveries", None] in sources
    assert not [s for s in sources if s[0] == "DynamoDBEventConfig"]
