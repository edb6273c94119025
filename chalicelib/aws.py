"""Lazily created boto3 clients, one per process and endpoint.

Nothing touches boto3 at import time: tests import moto first, and Lambda
pays for a client only when a handler needs it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from chalicelib.aws_actions import watch
from chalicelib.config import settings

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


@lru_cache(maxsize=8)
def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    factory: Any = boto3.session.Session().client
    return watch(
        factory(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            config=_CLIENT_CONFIG,
        )
    )


def dynamodb() -> DynamoDBClient:
    """Return the DynamoDB client for the configured region and endpoint."""
    config = settings()
    client: DynamoDBClient = _client("dynamodb", config.region, config.aws_endpoint_url)
    return client


def sqs() -> SQSClient:
    """Return the SQS client for the configured region and endpoint."""
    config = settings()
    client: SQSClient = _client("sqs", config.region, config.aws_endpoint_url)
    return client


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
    factory: Any = boto3.session.Session().client
    return watch(
        factory(
            "apigatewaymanagementapi",
            region_name=region,
            endpoint_url=endpoint_url,
            config=_MANAGEMENT_CONFIG,
        )
    )


def management(endpoint_url: str) -> ApiGatewayManagementApiClient:
    """Return the @connections client of one WebSocket API endpoint."""
    client: ApiGatewayManagementApiClient = _management(settings().region, endpoint_url)
    return client


def reset_clients() -> None:
    """Forget every client; tests call this between moto contexts."""
    _client.cache_clear()
    _management.cache_clear()
