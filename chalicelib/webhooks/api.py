"""Handlers of the webhook endpoints."""

from __future__ import annotations

from chalicelib.http.call import Call
from chalicelib.services import services
from chalicelib.webhooks.models import (
    AttemptList,
    CreateWebhookRequest,
    DeliveryView,
    ListAttemptsQuery,
    ListWebhooksQuery,
    ReplayFailedRequest,
    ReplayReport,
    UpdateWebhookRequest,
    WebhookList,
    WebhookView,
    WebhookWithSecret,
)


def create_webhook(call: Call) -> WebhookWithSecret:
    return services().webhooks.manage.create(
        call.actor, call.body_as(CreateWebhookRequest)
    )


def list_webhooks(call: Call) -> WebhookList:
    return services().webhooks.manage.list_webhooks(
        call.actor, call.query_as(ListWebhooksQuery)
    )


def get_webhook(call: Call) -> WebhookView:
    return services().webhooks.manage.get(call.actor, call.path_params["webhook_id"])


def update_webhook(call: Call) -> WebhookView:
    return services().webhooks.manage.update(
        call.actor, call.path_params["webhook_id"], call.body_as(UpdateWebhookRequest)
    )


def delete_webhook(call: Call) -> WebhookView:
    return services().webhooks.manage.delete(call.actor, call.path_params["webhook_id"])


def send_webhook_test(call: Call) -> DeliveryView:
    return services().webhooks.manage.send_test(
        call.actor, call.path_params["webhook_id"]
    )


def rotate_webhook_secret(call: Call) -> WebhookWithSecret:
    return services().webhooks.manage.rotate_secret(
        call.actor, call.path_params["webhook_id"]
    )


def list_webhook_deliveries(call: Call) -> AttemptList:
    return services().webhooks.manage.attempts(
        call.actor, call.path_params["webhook_id"], call.query_as(ListAttemptsQuery)
    )


def get_webhook_delivery(call: Call) -> DeliveryView:
    return services().webhooks.manage.delivery(
        call.actor, call.path_params["webhook_id"], call.path_params["delivery_id"]
    )


def replay_webhook_delivery(call: Call) -> DeliveryView:
    return services().webhooks.manage.replay(
        call.actor, call.path_params["webhook_id"], call.path_params["delivery_id"]
    )


def replay_failed_webhook_deliveries(call: Call) -> ReplayReport:
    return services().webhooks.manage.replay_failed(
        call.actor, call.path_params["webhook_id"], call.body_as(ReplayFailedRequest)
    )
