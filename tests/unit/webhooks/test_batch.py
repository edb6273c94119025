"""An SQS batch: every message is tried; failures make SQS deliver the batch again."""

from __future__ import annotations

import pytest

from chalicelib.webhooks.delivery import BatchFailed, Handled, handle_batch
from chalicelib.webhooks.queue import DeliveryMessage, MalformedMessage


class FakeDeliverer:
    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.handled: list[str] = []

    def handle(self, message: DeliveryMessage) -> Handled:
        self.handled.append(message.delivery_id)
        if message.delivery_id in self.failing:
            raise RuntimeError("store down")
        return Handled("succeeded")


def body(delivery_id: str) -> str:
    return DeliveryMessage("wh_1", delivery_id, 1, 0, 0).to_json()


def test_a_failure_does_not_stop_the_rest_of_the_batch() -> None:
    deliverer = FakeDeliverer({"dlv_b"})
    records = [("m1", body("dlv_a")), ("m2", body("dlv_b")), ("m3", body("dlv_c"))]
    with pytest.raises(BatchFailed, match="1 of 3"):
        handle_batch(deliverer, records)  # type: ignore[arg-type]
    assert deliverer.handled == ["dlv_a", "dlv_b", "dlv_c"]


def test_a_malformed_message_is_dropped_not_retried() -> None:
    deliverer = FakeDeliverer(set())
    handle_batch(deliverer, [("m1", "{not json"), ("m2", body("dlv_a"))])  # type: ignore[arg-type]
    assert deliverer.handled == ["dlv_a"]


@pytest.mark.parametrize("text", ["{}", "[]", '{"webhook_id": "w"}', "nope"])
def test_a_message_must_name_a_delivery_and_attempt(text: str) -> None:
    with pytest.raises(MalformedMessage):
        DeliveryMessage.from_json(text)


def test_a_message_survives_the_round_trip() -> None:
    message = DeliveryMessage("wh_1", "dlv_1", 3, 2, 1_700_000_000_000)
    assert DeliveryMessage.from_json(message.to_json()) == message
