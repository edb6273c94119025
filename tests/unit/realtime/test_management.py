"""The @connections client wrapper against botocore's Stubber."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.realtime.management import DeliveryFailed, ManagementApi

ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"


@pytest.fixture
def stubbed() -> Iterator[tuple[ManagementApi, Stubber]]:
    client = boto3.session.Session().client(
        "apigatewaymanagementapi", region_name="us-east-1", endpoint_url=ENDPOINT
    )
    with Stubber(client) as stubber:
        yield ManagementApi(client), stubber
        stubber.assert_no_pending_responses()


def test_post_returns_true_when_delivered(
    stubbed: tuple[ManagementApi, Stubber],
) -> None:
    api, stubber = stubbed
    stubber.add_response(
        "post_to_connection", {}, {"ConnectionId": "abc=", "Data": b"{}"}
    )

    assert api.post("abc=", "{}") is True


def test_post_returns_false_when_the_connection_is_gone(
    stubbed: tuple[ManagementApi, Stubber],
) -> None:
    api, stubber = stubbed
    stubber.add_client_error(
        "post_to_connection", "GoneException", http_status_code=410
    )

    assert api.post("abc=", "{}") is False


def test_post_raises_delivery_failed_on_other_errors(
    stubbed: tuple[ManagementApi, Stubber],
) -> None:
    api, stubber = stubbed
    stubber.add_client_error(
        "post_to_connection", "LimitExceededException", http_status_code=429
    )

    with pytest.raises(DeliveryFailed, match="LimitExceededException"):
        api.post("abc=", "{}")


def test_alive_is_false_only_when_gone(stubbed: tuple[ManagementApi, Stubber]) -> None:
    api, stubber = stubbed
    stubber.add_client_error("get_connection", "GoneException", http_status_code=410)
    stubber.add_client_error(
        "get_connection", "InternalServerError", http_status_code=500
    )
    stubber.add_response("get_connection", {})

    assert api.alive("a=") is False
    assert api.alive("b=") is True  # unknown is presumed alive
    assert api.alive("c=") is True


def test_close_tolerates_a_connection_already_gone(
    stubbed: tuple[ManagementApi, Stubber],
) -> None:
    api, stubber = stubbed
    stubber.add_client_error("delete_connection", "GoneException", http_status_code=410)
    stubber.add_client_error(
        "delete_connection", "ForbiddenException", http_status_code=403
    )

    api.close("a=")
    api.close("b=")
