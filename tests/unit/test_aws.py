"""Clients: one botocore session per process, and no client before it is needed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from chalicelib import aws
from chalicelib.config import load_settings
from tests.unit.test_config import valid_environment


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Record every botocore session made while the test runs."""
    made: list[Any] = []

    class Recorded(botocore.session.Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(botocore.session, "Session", Recorded)
    for name, value in valid_environment().items():
        monkeypatch.setenv(name, value)
    aws.reset_clients()
    yield made
    aws.reset_clients()


def test_every_client_comes_from_one_session(sessions: list[Any]) -> None:
    aws.dynamodb()
    aws.sqs()
    aws.management("https://abc.execute-api.us-east-1.amazonaws.com/dev")
    aws.client("secretsmanager", region_name="us-east-1")

    assert len(sessions) == 1


def test_reset_forgets_the_session(sessions: list[Any]) -> None:
    aws.dynamodb()
    aws.reset_clients()
    aws.dynamodb()

    assert len(sessions) == 2


def test_an_sqs_client_on_first_use_is_made_when_first_called(
    sessions: list[Any],
) -> None:
    deferred = aws.sqs_on_first_use(load_settings(valid_environment()))

    assert sessions == []
    assert deferred.meta.service_model.service_name == "sqs"
    assert len(sessions) == 1
    assert deferred.meta is aws.sqs().meta
