"""Jupiter API: the Chalice application. Thin by design: all logic is in chalicelib."""

from __future__ import annotations

import logging

from chalice.app import Chalice, SQSEvent

from chalicelib.http.edge import Edge
from chalicelib.routes import REGISTRY
from chalicelib.webhooks import handler as webhook_handler
from chalicelib.webhooks.queue import delivery_queue_name

app = Chalice(app_name="jupiter-api")
app.log.setLevel(logging.INFO)
logging.getLogger("chalicelib").setLevel(logging.INFO)

Edge(app, REGISTRY).mount()


# Webhooks: the delivery queue's messages, one signed attempt each. The queue,
# its dead-letter queue and redrive policy are in infrastructure/template.yaml.


@app.on_sqs_message(queue=delivery_queue_name(), batch_size=5)
def deliver_webhooks(event: SQSEvent) -> None:
    webhook_handler.deliver_sqs_event(event)
