"""Build the webhook role objects from settings, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.clock import Clock
from chalicelib.config import Settings
from chalicelib.webhooks.deliveries import DeliveryStore
from chalicelib.webhooks.delivery import Deliverer
from chalicelib.webhooks.endpoints import EndpointStore
from chalicelib.webhooks.queue import DeliveryQueue
from chalicelib.webhooks.schedule import Schedule
from chalicelib.webhooks.service import WebhookService
from chalicelib.webhooks.sink import WebhookSink
from chalicelib.webhooks.ssrf import AddressPolicy, Resolver, system_resolver
from chalicelib.webhooks.transport import Transport

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient


@dataclass
class Webhooks:
    """The webhook roles: management, the event sink and the delivery handler."""

    manage: WebhookService
    sink: WebhookSink
    deliverer: Deliverer
    endpoints: EndpointStore
    deliveries: DeliveryStore
    queue: DeliveryQueue

    @classmethod
    def from_settings(
        cls,
        config: Settings,
        dynamodb: DynamoDBClient,
        sqs: SQSClient,
        clock: Clock,
        server_secret: str,
        resolver: Resolver = system_resolver,
        schedule: Schedule | None = None,
    ) -> Webhooks:
        endpoints = EndpointStore(dynamodb, config.webhooks_table)
        deliveries = DeliveryStore(dynamodb, config.webhook_deliveries_table)
        queue = DeliveryQueue(sqs, config.webhook_queue_url, config.webhook_dlq_url)
        policy = AddressPolicy(
            allow_http=config.stage == "local",
            allow_loopback=config.webhook_allow_loopback,
            resolver=resolver,
        )
        sink = WebhookSink(endpoints, deliveries, queue, clock)
        deliverer = Deliverer(
            endpoints,
            deliveries,
            queue,
            policy,
            Transport(config.webhook_timeout_seconds),
            schedule or Schedule.from_settings(config),
            clock,
            config.webhook_timeout_seconds,
            config.webhook_disable_after_seconds,
        )
        manage = WebhookService(
            endpoints, deliveries, sink, policy, clock, server_secret
        )
        return cls(manage, sink, deliverer, endpoints, deliveries, queue)
