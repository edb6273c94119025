"""Which requests the local moto server journals, and how an entry is stored."""

from __future__ import annotations

from typing import Any

import pytest

from local.moto_server import Entry, _entry, _error_code, classify

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "ab" * 32
)


def json_request(target: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "HTTP_HOST": "127.0.0.1:5013",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "HTTP_X_AMZ_TARGET": target,
        "HTTP_AUTHORIZATION": SIGNED.format(service="dynamodb"),
    }


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("DynamoDB_20120810.PutItem", ("dynamodb", "PutItem")),
        ("DynamoDB_20120810.TransactWriteItems", ("dynamodb", "TransactWriteItems")),
        ("DynamoDB_20120810.UpdateTimeToLive", ("dynamodb", "UpdateTimeToLive")),
        ("DynamoDB_20120810.GetItem", None),
        ("DynamoDB_20120810.Query", None),
        ("AmazonSQS.CreateQueue", ("sqs", "CreateQueue")),
        ("AmazonSQS.SendMessage", None),
        ("AmazonSQS.ReceiveMessage", None),
        ("AWSEvents.PutRule", None),
    ],
)
def test_json_protocol_requests_are_classified_by_target(
    target: str, expected: tuple[str, str] | None
) -> None:
    assert classify(json_request(target), b"{}") == expected


def test_query_protocol_queue_creation_is_journaled() -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
        "HTTP_AUTHORIZATION": SIGNED.format(service="sqs"),
    }

    assert classify(environ, b"Action=CreateQueue&QueueName=q") == (
        "sqs",
        "CreateQueue",
    )
    assert classify(environ, b"Action=SendMessage&MessageBody=x") is None


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (
            b'{"__type": "com.amazonaws.dynamodb.v20120810#'
            b'ConditionalCheckFailedException", "message": "no"}',
            "ConditionalCheckFailedException",
        ),
        (b'{"__type": "TransactionCanceledException"}', "TransactionCanceledException"),
        (b"<Error><Code>QueueAlreadyExists</Code></Error>", "QueueAlreadyExists"),
        (b"[]", ""),
        (b"not json", ""),
    ],
)
def test_error_codes_are_read_from_json_and_xml(payload: bytes, code: str) -> None:
    assert _error_code(payload) == code


def test_entry_drops_the_signature_and_survives_a_round_trip() -> None:
    entry = _entry(
        ("dynamodb", "PutItem"),
        json_request("DynamoDB_20120810.PutItem"),
        b'{"TableName": "t"}',
        200,
    )

    assert "Signature=0" in entry.headers["Authorization"]
    assert "ab" * 32 not in entry.to_line()
    assert Entry.from_line(entry.to_line()) == entry
    assert entry.body_bytes() == b'{"TableName": "t"}'


def test_binary_body_is_stored_as_base64() -> None:
    entry = _entry(("sqs", "CreateQueue"), json_request("x.y"), b"\xff\xfe", 200)

    assert entry.base64
    assert Entry.from_line(entry.to_line()).body_bytes() == b"\xff\xfe"


def test_entry_of_an_unknown_journal_version_is_refused() -> None:
    with pytest.raises(ValueError, match="journal version"):
        Entry.from_line('{"v": 99}')
