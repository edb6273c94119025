"""Structured lines, EMF documents, subsegments and the correlation id, alone."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib import logs, metrics, tracing
from chalicelib.clock import FixedClock
from chalicelib.events.dispatcher import Dispatcher, event_from_row
from chalicelib.events.outbox import DomainEvent, put_event
from chalicelib.webhooks.delivery import BatchFailed, handle_batch
from chalicelib.webhooks.queue import DeliveryMessage
from tests.support.observe import captured_logs, emf_documents, lines, traced

logger = logging.getLogger("chalicelib.tests")


def test_a_line_names_the_bound_ids_and_leaves_out_unset_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with captured_logs(caplog):
        with logs.bound(correlation_id="req_1", webhook_id=None):
            with logs.bound(delivery_id="dlv_1"):
                logs.line(logger, "step", attempt=2)
            logs.line(logger, "after")
        logs.line(logger, "outside")

    assert lines(caplog) == [
        {
            "event": "step",
            "correlation_id": "req_1",
            "delivery_id": "dlv_1",
            "attempt": 2,
        },
        {"event": "after", "correlation_id": "req_1"},
        {"event": "outside"},
    ]


def test_a_line_below_the_level_is_never_serialized(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Exploding:
        def __str__(self) -> str:
            raise AssertionError("serialized")

    with caplog.at_level(logging.WARNING, logger="chalicelib"):
        logs.line(logger, "quiet", value=Exploding())
    assert caplog.records == []


def test_a_line_keeps_the_exception_being_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with captured_logs(caplog):
        try:
            raise KeyError("boom")
        except KeyError:
            logs.line(logger, "failed", logging.ERROR, exc_info=True)
    (record,) = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert record.funcName == "test_a_line_keeps_the_exception_being_handled"


def test_ids_bound_in_one_thread_are_not_seen_in_another() -> None:
    seen: list[str | None] = []
    with logs.bound(correlation_id="req_main"):
        worker = threading.Thread(target=lambda: seen.append(logs.correlation_id()))
        worker.start()
        worker.join()
    assert seen == [None]
    assert logs.correlation_id() is None


def test_an_event_takes_the_bound_id_then_its_request_id_then_a_fresh_one() -> None:
    with logs.bound(correlation_id="req_bound"):
        assert DomainEvent("t", {}, 1.0, request_id="req_other").correlation_id == (
            "req_bound"
        )
    assert DomainEvent("t", {}, 1.0, request_id="req_own").correlation_id == "req_own"
    fresh = DomainEvent("t", {}, 1.0).correlation_id
    assert (
        fresh.startswith("cor_") and fresh != DomainEvent("t", {}, 1.0).correlation_id
    )


def test_an_event_row_keeps_its_correlation_id_and_old_rows_get_a_stable_one() -> None:
    event = DomainEvent("threat.detected", {"owner_id": "o"}, 1.0, request_id="req_1")
    item = put_event("events", event)["Put"]["Item"]
    row = {name: next(iter(value.values())) for name, value in item.items()}
    with logs.bound(correlation_id="req_dispatching"):
        assert event_from_row(row).correlation_id == "req_1"
    del row["correlation_id"], row["request_id"]
    first, again = event_from_row(row), event_from_row(row)
    assert first.correlation_id == again.correlation_id == "cor_" + event.event_id[4:]
    assert "correlation_id" not in event.body()


def test_a_delivery_message_carries_its_ids_and_reads_old_messages() -> None:
    message = DeliveryMessage("wh_1", "dlv_1", 2, 1, 5, "evt_1", "req_1")
    assert DeliveryMessage.from_json(message.to_json()) == message
    old = json.dumps(
        {
            "webhook_id": "wh_1",
            "delivery_id": "dlv_1",
            "attempt": 1,
            "step": 0,
            "due_ms": 5,
        }
    )
    parsed = DeliveryMessage.from_json(old)
    assert (parsed.event_id, parsed.correlation_id) == (None, None)
    assert "correlation_id" not in json.loads(parsed.to_json())


def test_a_scope_writes_one_document_per_dimension_values() -> None:
    with emf_documents() as documents, metrics.scope():
        metrics.count("DeliveryAttempts", Outcome="failed")
        metrics.count("DeliveryAttempts", Outcome="failed")
        metrics.count("DeliveryAttempts", Outcome="succeeded")
        metrics.count("Fanouts")
        metrics.observe("FanoutRecipients", 3)
        metrics.observe("FanoutRecipients", 5)
        assert documents == []

    failed, succeeded, plain = documents
    assert (failed["Outcome"], failed["DeliveryAttempts"]) == ("failed", 2)
    assert (succeeded["Outcome"], succeeded["DeliveryAttempts"]) == ("succeeded", 1)
    assert failed["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["Stage"],
        ["Stage", "Outcome"],
    ]
    assert (plain["Fanouts"], plain["FanoutRecipients"]) == (1, [3, 5])
    assert plain["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "Fanouts", "Unit": "Count"},
        {"Name": "FanoutRecipients", "Unit": "Count"},
    ]


def test_scopes_do_not_leak_into_each_other() -> None:
    with emf_documents() as documents:
        with metrics.scope():
            metrics.count("Admitted")
        with metrics.scope():
            metrics.count("Denied", Reason="invalid_api_key")
        with metrics.scope():
            pass
    assert [sorted(k for k in d if k not in {"_aws", "Stage"}) for d in documents] == [
        ["Admitted"],
        ["Denied", "Reason"],
    ]


def test_a_nested_scope_joins_the_outer_one() -> None:
    with emf_documents() as documents, metrics.scope():
        with metrics.scope():
            metrics.count("Fanouts")
        assert documents == []
        metrics.count("Fanouts")
    assert [d["Fanouts"] for d in documents] == [2]


def test_a_data_point_outside_any_scope_is_written_at_once() -> None:
    with emf_documents() as documents:
        metrics.count("Admitted")
        assert [d["Admitted"] for d in documents] == [1]


def test_scopes_of_concurrent_threads_stay_apart() -> None:
    start = threading.Barrier(2)

    def request(name: str) -> None:
        with metrics.scope():
            start.wait()
            metrics.count(name)
            start.wait()

    with emf_documents() as documents:
        threads = [threading.Thread(target=request, args=(n,)) for n in ("A", "B")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(
        tuple(k for k in d if k not in {"_aws", "Stage"}) for d in documents
    ) == [
        ("A",),
        ("B",),
    ]


def test_more_than_a_hundred_values_are_split_across_documents() -> None:
    with emf_documents() as documents, metrics.scope():
        metrics.count("Fanouts", 250)
        for size in range(250):
            metrics.observe("FanoutRecipients", size)
    assert [len(d["FanoutRecipients"]) for d in documents] == [100, 100, 50]
    assert [d.get("Fanouts") for d in documents] == [250, None, None]
    assert "Fanouts" not in {
        m["Name"] for m in documents[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }


def test_the_stage_dimension_comes_from_configuration() -> None:
    previous = metrics.emitter()
    written: list[str] = []
    metrics.configure("prod", emit=written.append)
    try:
        metrics.count("Admitted")
    finally:
        metrics.configure("local", emit=previous)
    assert json.loads(written[0])["Stage"] == "prod"


def test_a_broken_stdout_loses_the_metrics_not_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Closed:
        def write(self, text: str) -> int:
            raise ValueError("I/O operation on closed file")

        def flush(self) -> None:
            raise AssertionError("not reached")

    monkeypatch.setattr("sys.stdout", Closed())
    with metrics.scope():
        metrics.count("Admitted")


def test_documents_go_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    with metrics.scope():
        metrics.count("Admitted")
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["Admitted"] == 1


def test_with_tracing_off_a_subsegment_records_nothing() -> None:
    previous = tracing.use_recorder(None)
    try:
        with tracing.subsegment("admission", scope="READ_THREATS") as segment:
            assert segment is None
    finally:
        tracing.use_recorder(previous)


def test_a_subsegment_is_annotated_with_the_ids_that_are_set() -> None:
    with (
        traced() as recorder,
        tracing.subsegment("webhook.delivery", delivery_id="dlv_1", event_id=None),
        tracing.subsegment("inner"),
    ):
        pass
    assert recorder.names() == ["webhook.delivery", "inner"]
    assert recorder.nesting == [0, 1]
    assert recorder.opened[0].annotations == {"delivery_id": "dlv_1"}


def test_tracing_stays_off_unless_configured_on() -> None:
    class Config:
        tracing = False

    previous = tracing.use_recorder(None)
    try:
        tracing.configure(Config())  # type: ignore[arg-type]
        with tracing.subsegment("admission") as segment:
            assert segment is None
    finally:
        tracing.use_recorder(previous)


@pytest.fixture
def lambda_logs() -> Iterator[io.StringIO]:
    """chalicelib's lines as configured in Lambda, written to a buffer."""
    stream = io.StringIO()
    target = logging.getLogger("chalicelib")
    level = target.level
    handler = logs.configure({"AWS_LAMBDA_FUNCTION_NAME": "jupiter-api-dev"}, stream)
    assert handler is not None
    target.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        target.removeHandler(handler)
        target.propagate = True
        target.setLevel(level)


def test_in_lambda_every_line_is_a_bare_json_object(
    lambda_logs: io.StringIO,
) -> None:
    with logs.bound(correlation_id="req_1"):
        logs.line(logger, "webhook_attempt", result="succeeded")
        logger.warning("plain %s", "text")
        try:
            raise KeyError("boom")
        except KeyError:
            logs.line(logger, "failed", logging.ERROR, exc_info=True)

    structured, plain, failed = map(json.loads, lambda_logs.getvalue().splitlines())
    assert structured["level"] == "INFO"
    assert structured["logger"] == "chalicelib.tests"
    assert structured["time"].endswith("+00:00")
    assert (structured["event"], structured["correlation_id"]) == (
        "webhook_attempt",
        "req_1",
    )
    assert structured["result"] == "succeeded"
    assert plain["event"] == "log"
    assert (plain["message"], plain["correlation_id"]) == ("plain text", "req_1")
    assert "KeyError" in failed["exception"]


def test_in_lambda_lines_are_not_also_written_by_the_root_handler(
    lambda_logs: io.StringIO,
) -> None:
    class Kept(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    root, kept = logging.getLogger(), Kept()
    root.addHandler(kept)
    try:
        logs.line(logger, "once")
    finally:
        root.removeHandler(kept)
    assert kept.records == []
    assert len(lambda_logs.getvalue().splitlines()) == 1
    assert logs.configure({"AWS_LAMBDA_FUNCTION_NAME": "again"}) is None


def test_outside_lambda_logging_is_left_as_it_is() -> None:
    assert logs.configure({}) is None
    assert logging.getLogger("chalicelib").propagate is True


class _FailingSink:
    def deliver(self, event: DomainEvent) -> None:
        raise ConnectionError("receiver down")


def test_a_failed_dispatch_line_names_the_event_and_its_correlation_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = boto3.session.Session().client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    dispatcher = Dispatcher(client, "events", FixedClock(1.0), [_FailingSink()])
    event = DomainEvent("threat.detected", {}, 1.0, request_id="req_1")
    item = put_event("events", event)["Put"]["Item"]
    row = {name: next(iter(value.values())) for name, value in item.items()}
    row["occurred_at"] = int(row["occurred_at"])
    with Stubber(client) as stub, captured_logs(caplog):
        stub.add_response("update_item", {})
        assert dispatcher.dispatch_rows([row]).failed == 1

    (failed,) = lines(caplog, "event_dispatch")
    assert failed["correlation_id"] == "req_1"
    assert failed["event_id"] == event.event_id
    assert (failed["result"], failed["sink"], failed["error"]) == (
        "failed",
        "_FailingSink",
        "ConnectionError",
    )


class _BrokenDeliverer:
    def handle(self, message: DeliveryMessage) -> None:
        raise ConnectionError("store down")


def test_malformed_and_failed_messages_are_counted_and_logged_with_their_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = DeliveryMessage("wh_1", "dlv_1", 1, 0, 0, "evt_1", "req_1")
    records = [("m1", "not json"), ("m2", message.to_json())]
    with (
        emf_documents() as documents,
        captured_logs(caplog),
        pytest.raises(BatchFailed, match="1 of 2"),
    ):
        handle_batch(_BrokenDeliverer(), records)  # type: ignore[arg-type]

    assert [(d["Result"], d["DeliveryMessages"]) for d in documents] == [
        ("malformed", 1),
        ("error", 1),
    ]
    (dropped,) = lines(caplog, "webhook_message_dropped")
    assert dropped["message_id"] == "m1"
    (failed,) = lines(caplog, "webhook_attempt")
    assert (failed["correlation_id"], failed["delivery_id"]) == ("req_1", "dlv_1")
    assert failed["result"] == "error"
    assert caplog.records[-1].exc_info is not None


class _Invocation:
    aws_request_id = "8f9a0c1e-lambda-invocation"


class _HttpEvent:
    def __init__(self) -> None:
        self.lambda_context = _Invocation()
        self.context = {"requestId": "gateway-id"}


class _QueueEvent:
    context = _Invocation()


class _ContextlessEvent:
    def __init__(self) -> None:
        self.lambda_context = None
        self.context: dict[str, str] = {}


@pytest.mark.parametrize("event", [_HttpEvent(), _QueueEvent()])
def test_lines_of_an_invocation_carry_its_aws_request_id(event: object) -> None:
    seen = logs.lambda_request_id(event, lambda _: logs.current())

    assert seen["aws_request_id"] == "8f9a0c1e-lambda-invocation"
    assert "aws_request_id" not in logs.current()


def test_an_event_without_a_lambda_context_binds_nothing() -> None:
    seen = logs.lambda_request_id(_ContextlessEvent(), lambda _: logs.current())

    assert "aws_request_id" not in seen
