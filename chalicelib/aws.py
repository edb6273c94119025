"""Lazily created botocore clients, one per process and endpoint.

Nothing touches botocore's clients at import time: tests import moto first,
and Lambda pays for a client only when a handler needs it. The clients are
botocore's rather than boto3's: they are the same clients, and boto3 would
add its resources, docs and s3transfer to every cold start (see
``chalicelib/dynamo.py``).

Every client comes from one botocore session per process. A session loads
botocore's handlers, endpoint rules and list of services when its first
client is made, and its loader caches what it has read: a second session for
a second client would pay that again, tens of milliseconds of a cold start.
Sessions are not safe to share between threads, so clients are made under a
lock (the clients themselves are).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config

from chalicelib.aws_actions import watch
from chalicelib.config import Settings, settings

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi.client import (
        ApiGatewayManagementApiClient,
    )
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

# Admission fails closed, so a slow store must fail fast rather than hold the
# request: short timeouts and botocore's standard retry mode with few attempts.
_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 2},
)


_lock = threading.Lock()


@lru_cache(maxsize=1)
def session() -> botocore.session.Session:
    """Return the process's botocore session (make clients with :func:`client`)."""
    return botocore.session.Session()


def client(service: str, **arguments: Any) -> Any:
    """Make a client of ``service`` from the process's session."""
    with _lock:
        factory: Any = session().create_client
        return factory(service, **arguments)


@lru_cache(maxsize=8)
def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    return watch(
        client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            config=_CLIENT_CONFIG,
        )
    )


def dynamodb() -> DynamoDBClient:
    """Return the DynamoDB client for the configured region and endpoint."""
    config = settings()
    made: DynamoDBClient = _client("dynamodb", config.region, config.aws_endpoint_url)
    return made


def sqs() -> SQSClient:
    """Return the SQS client for the configured region and endpoint."""
    config = settings()
    made: SQSClient = _client("sqs", config.region, config.aws_endpoint_url)
    return made


def sqs_on_first_use(config: Settings) -> SQSClient:
    """Return ``config``'s SQS client, to be made when first called.

    Only webhook deliveries use SQS, and most requests queue none: making the
    client (loading its model) is left out of their cold start.
    """
    deferred: Any = OnFirstUse(
        partial(_client, "sqs", config.region, config.aws_endpoint_url)
    )
    made: SQSClient = deferred
    return made


class OnFirstUse:
    """Stands in for a client and makes it when one of its attributes is read."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._made: Any = None

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes this object lacks: the client's.
        if self._made is None:
            self._made = self._make()
        return getattr(self._made, name)


# Fan-out posts from a pool of threads: give the connection pool room for all
# of them, and let a dead endpoint fail fast rather than stall the broadcast.
_MANAGEMENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=128,
    retries={"mode": "standard", "max_attempts": 2},
)


@lru_cache(maxsize=8)
def _management(region: str, endpoint_url: str) -> Any:
    return watch(
        client(
            "apigatewaymanagementapi",
            region_name=region,
            endpoint_url=endpoint_url,
            config=_MANAGEMENT_CONFIG,
        )
    )


def management(endpoint_url: str) -> ApiGatewayManagementApiClient:
    """Return the @connections client of one WebSocket API endpoint."""
    made: ApiGatewayManagementApiClient = _management(settings().region, endpoint_url)
    return made


def reset_clients() -> None:
    """Forget every client and the session; tests call this between moto contexts."""
    _client.cache_clear()
    _management.cache_clear()
    session.cache_clear()
