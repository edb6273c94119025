"""Jupiter API: the Chalice application. Thin by design: all logic is in chalicelib."""

# ruff: noqa: E402
from __future__ import annotations

from chalicelib import heap

# Before anything else is imported: the cold start's collections walk only
# objects that live as long as the process (see chalicelib/heap.py).
heap.hold()

import logging
from typing import Any

from chalice.app import Chalice, CloudWatchEvent, Rate, SQSEvent, WebsocketEvent

from chalicelib import bindings, logs
from chalicelib.http.edge import Edge
from chalicelib.routes import REGISTRY

app = Chalice(app_name="jupiter-api")
# Chalice refuses to package or deploy WebSocket handlers without this opt-in.
app.experimental_feature_flags.update(["WEBSOCKETS"])
app.log.setLevel(logging.INFO)
logging.getLogger("chalicelib").setLevel(logging.INFO)
# In Lambda, one bare JSON object per line (see chalicelib/logs.py), each
# with the invocation's aws_request_id.
logs.configure()
app.register_middleware(logs.lambda_request_id, "all")
# In Lambda, the collector resumes, frozen, when the first invocation ends.
app.register_middleware(heap.after_first_invocation, "all")

Edge(app, REGISTRY).mount()


# The handlers below import their modules when they run: every Lambda
# function imports this file, and the REST function's cold start should not
# pay for the WebSocket and webhook machinery it never calls.

# WebSocket: Chalice routes only $connect, $default and $disconnect, and only
# on the root app; the realtime service dispatches on each frame's type.


@app.on_ws_connect()
def ws_connect(event: WebsocketEvent) -> dict[str, Any]:
    from chalicelib.realtime import handlers as realtime

    return realtime.connect(event.to_dict())


@app.on_ws_message()
def ws_message(event: WebsocketEvent) -> dict[str, Any]:
    from chalicelib.realtime import handlers as realtime

    return realtime.message(event.to_dict())


@app.on_ws_disconnect()
def ws_disconnect(event: WebsocketEvent) -> dict[str, Any]:
    from chalicelib.realtime import handlers as realtime

    return realtime.disconnect(event.to_dict())


@app.schedule(Rate(1, unit=Rate.MINUTES), name="system_status")
def system_status(event: CloudWatchEvent) -> None:
    from chalicelib.realtime import handlers as realtime

    realtime.publish_status()


@app.schedule(Rate(1, unit=Rate.MINUTES), name="ws_sweep")
def ws_sweep(event: CloudWatchEvent) -> None:
    from chalicelib.realtime import handlers as realtime

    realtime.sweep()


# Webhooks: the delivery queue's messages, one signed attempt each. The queue,
# its dead-letter queue and redrive policy are in infrastructure/template.yaml.


@app.on_sqs_message(queue=bindings.delivery_queue_name(), batch_size=5)
def deliver_webhooks(event: SQSEvent) -> None:
    from chalicelib.webhooks import handler as webhook_handler

    webhook_handler.deliver_sqs_event(event)


# Domain events: the outbox's dispatcher hands each pending event to every
# sink. The sweep runs every minute; where the deploying shell exports the
# events table's stream ARN, the stream also delivers each event as it lands.


@app.schedule(Rate(1, unit=Rate.MINUTES), name="events_sweep")
def events_sweep(event: CloudWatchEvent) -> None:
    from chalicelib.events import dispatcher

    dispatcher.sweep()


def events_stream(event: Any) -> None:
    from chalicelib.events import dispatcher

    dispatcher.dispatch_stream(
        [r.new_image for r in event if r.event_name == "INSERT" and r.new_image]
    )


if stream_arn := bindings.events_stream_arn():
    events_stream = app.on_dynamodb_record(
        stream_arn=stream_arn, batch_size=25, starting_position="TRIM_HORIZON"
    )(events_stream)
