"""Jupiter API: the Chalice application. Thin by design: all logic is in chalicelib."""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import Chalice, CloudWatchEvent, Rate, SQSEvent, WebsocketEvent

from chalicelib.http.edge import Edge
from chalicelib.routes import REGISTRY
from chalicelib.realtime import handlers as realtime
from chalicelib.webhooks import handler as webhook_handler
from chalicelib.webhooks.queue import delivery_queue_name

app = Chalice(app_name="jupiter-api")
app.log.setLevel(logging.INFO)
logging.getLogger("chalicelib").setLevel(logging.INFO)

Edge(app, REGISTRY).mount()


# Webhooks: the delivery queue's messages, one signed attempt each. The queue,
# WebSocket: Chalice routes only $connect, $default and $disconnect, and only
# on the root app; the realtime service dispatches on each frame's type.


@app.on_ws_connect()
def ws_connect(event: WebsocketEvent) -> dict[str, Any]:
    return realtime.connect(event.to_dict())


@app.on_ws_message()
def ws_message(event: WebsocketEvent) -> dict[str, Any]:
    return realtime.message(event.to_dict())


@app.on_ws_disconnect()
def ws_disconnect(event: WebsocketEvent) -> dict[str, Any]:
    return realtime.disconnect(event.to_dict())


@app.schedule(Rate(1, unit=Rate.MINUTES), name="system_status")
def system_status(event: CloudWatchEvent) -> None:
    realtime.publish_status()


@app.schedule(Rate(1, unit=Rate.MINUTES), name="ws_sweep")
def ws_sweep(event: CloudWatchEvent) -> None:
    realtime.sweep()


# its dead-letter queue and redrive policy are in infrastructure/template.yaml.


@app.on_sqs_message(queue=delivery_queue_name(), batch_size=5)
def deliver_webhooks(event: SQSEvent) -> None:
    webhook_handler.deliver_sqs_event(event)
