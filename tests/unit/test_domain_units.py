"""Pure parts of the domain API: buckets, percentiles, listing plans, keys,
and the transaction and counter helpers against botocore's Stubber."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.analytics import buckets, counters, requests
from chalicelib.analytics.buckets import Period
from chalicelib.analytics.requests import RequestMeter
from chalicelib.clock import FixedClock
from chalicelib.errors import InvalidIdempotencyKey, StoreUnavailable
from chalicelib.events.dispatcher import Dispatcher
from chalicelib.idempotency import check_key, fingerprint
from chalicelib.threats.listing import plan
from chalicelib.threats.models import ListThreatsQuery
from chalicelib.transactions import Cancelled, commit

NOW = 1_796_000_000.0


def _client() -> Any:
    return boto3.session.Session().client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


@pytest.mark.parametrize(
    ("period", "size", "granularity"),
    [("1h", 61, "minute"), ("24h", 25, "hour"), ("7d", 8, "day"), ("30d", 31, "day")],
)
def test_each_period_reads_a_fixed_number_of_buckets(
    period: str, size: int, granularity: str
) -> None:
    window = buckets.window(Period(period), NOW)
    assert len(window.starts) == size
    assert window.granularity.name == granularity
    assert (
        window.start
        <= NOW - Period(period).seconds
        < window.start + window.granularity.seconds
    )


def test_request_stats_read_hours_for_every_period() -> None:
    sizes = [len(buckets.window(p, NOW, buckets.BY_HOUR).starts) for p in Period]
    assert sizes == [2, 25, 169, 721]


def test_old_detections_skip_buckets_no_window_reads() -> None:
    assert buckets.live(NOW, NOW) == buckets.GRANULARITIES
    assert buckets.live(NOW - 3 * 3_600, NOW) == (buckets.BY_HOUR, buckets.BY_DAY)
    assert buckets.live(NOW - 3 * 86_400, NOW) == (buckets.BY_DAY,)


def test_latency_histogram_and_percentiles() -> None:
    assert requests.latency_bucket(3) == "5"
    assert requests.latency_bucket(26) == "50"
    assert requests.latency_bucket(60_000) == "inf"
    histogram = {"5": 50, "25": 40, "250": 9, "inf": 1}
    assert requests.percentile(histogram, 0.5) == 5.0
    assert requests.percentile(histogram, 0.9) == 25.0
    assert requests.percentile(histogram, 0.99) == 250.0
    assert requests.percentile(histogram, 1.0) is None
    assert requests.percentile({}, 0.5) is None
    assert requests.status_class(404) == "4xx"


def test_listing_reads_the_index_of_the_most_selective_filter() -> None:
    assert plan(ListThreatsQuery()).index == "by_time"
    both = plan(ListThreatsQuery(type="malware", severity="high", status="active"))
    assert both.index == "by_type"
    assert both.filters == {"severity": "high", "status": "active"}
    assert both.partition("2026-11") == "malware#2026-11"
    assert plan(ListThreatsQuery(severity="low")).index == "by_severity"
    assert plan(ListThreatsQuery(status="resolved")).index == "by_status"


@pytest.mark.parametrize("value", ["", "x" * 256, "tab\there", "caf\u00e9"])
def test_malformed_idempotency_keys_are_refused(value: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        check_key(value)


def test_idempotency_fingerprint_ignores_json_layout_only() -> None:
    a = fingerprint("POST", "/api/threats", b'{"a": 1, "b": [1, 2]}')
    b = fingerprint("POST", "/api/threats", b'{"b":[1,2],"a":1}')
    assert a == b
    assert a != fingerprint("POST", "/api/threats", b'{"a": 2, "b": [1, 2]}')
    assert a != fingerprint("POST", "/api/keys", b'{"a": 1, "b": [1, 2]}')
    assert fingerprint("POST", "/x", b"not json")["body"]


def _cancelled(*codes: str) -> dict[str, object]:
    return {
        "service_error_code": "TransactionCanceledException",
        "service_message": "cancelled",
        "response_meta": {},
        "modeled_fields": {"CancellationReasons": [{"Code": c} for c in codes]},
    }


ITEM = {
    "ConditionCheck": {
        "TableName": "t",
        "Key": {"k": {"S": "1"}},
        "ConditionExpression": "attribute_exists(k)",
    }
}


def test_transaction_conflicts_are_retried() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "transact_write_items", **_cancelled("TransactionConflict")
        )
        stub.add_response("transact_write_items", {})
        commit(client, [ITEM])
        stub.assert_no_pending_responses()


def test_failed_condition_is_reported_per_item() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "transact_write_items", **_cancelled("None", "ConditionalCheckFailed")
        )
        with pytest.raises(Cancelled) as raised:
            commit(client, [ITEM, ITEM])
    assert raised.value.failed(1) and not raised.value.failed(0)


def test_persistent_conflicts_and_other_errors_are_503() -> None:
    client = _client()
    with Stubber(client) as stub:
        for _ in range(5):
            stub.add_client_error(
                "transact_write_items", **_cancelled("TransactionConflict")
            )
        stub.add_client_error("transact_write_items", "ValidationException")
        for _ in range(2):
            with pytest.raises(StoreUnavailable):
                commit(client, [ITEM])


def test_counter_reads_retry_unprocessed_keys_then_fail() -> None:
    client = _client()
    key = {"pk": {"S": "a"}}
    unprocessed = {"t": {"Keys": [key]}}
    with Stubber(client) as stub:
        stub.add_response(
            "batch_get_item", {"Responses": {"t": []}, "UnprocessedKeys": unprocessed}
        )
        stub.add_response(
            "batch_get_item",
            {"Responses": {"t": [{"pk": {"S": "a"}, "n": {"N": "4"}}]}},
        )
        assert counters.read(client, "t", ["a"]) == {"a": {"n": 4}}
        for _ in range(counters.UNPROCESSED_ROUNDS):
            stub.add_response(
                "batch_get_item",
                {"Responses": {"t": []}, "UnprocessedKeys": unprocessed},
            )
        with pytest.raises(StoreUnavailable):
            counters.read(client, "t", ["a"])
        stub.add_client_error(
            "batch_get_item", "ProvisionedThroughputExceededException"
        )
        with pytest.raises(StoreUnavailable):
            counters.read(client, "t", ["a"])


def test_counter_reads_go_in_batches_of_one_hundred() -> None:
    client = _client()
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response("batch_get_item", {"Responses": {"t": []}})
        assert counters.read(client, "t", [str(i) for i in range(250)]) == {}
        stub.assert_no_pending_responses()


def test_request_counter_failure_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _client()
    meter = RequestMeter(client, "t", FixedClock(NOW))
    with Stubber(client) as stub, caplog.at_level(logging.WARNING):
        stub.add_client_error("update_item", "InternalServerError")
        meter.record("list_threats", 200, 12.0, "jptr_x", "FREE")
    assert '"event":"request_uncounted"' in caplog.text


def test_dispatcher_survives_an_unreadable_outbox(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _client()
    dispatcher = Dispatcher(client, "events", FixedClock(NOW), [])
    with Stubber(client) as stub, caplog.at_level(logging.WARNING):
        stub.add_client_error("query", "InternalServerError")
        report = dispatcher.dispatch_pending()
    assert (report.delivered, report.failed) == (0, 0)
    assert '"event":"events_unreadable"' in caplog.text


def test_dispatcher_logs_a_failed_mark(caplog: pytest.LogCaptureFixture) -> None:
    client = _client()
    dispatcher = Dispatcher(client, "events", FixedClock(NOW), [])
    row = {
        "event_id": "evt_1",
        "event_type": "threat.detected",
        "data": "{}",
        "occurred_at": 1,
        "dispatch": "pending",
    }
    with Stubber(client) as stub, caplog.at_level(logging.WARNING):
        stub.add_client_error("update_item", "InternalServerError")
        assert dispatcher.dispatch_rows([row]).delivered == 1
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    line = json.loads(warning.getMessage())
    assert line["event"] == "event_update_failed"
    assert line["event_id"] == "evt_1"
    assert line["error"] == "InternalServerError"
