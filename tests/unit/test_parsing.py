"""Strict JSON bodies and pydantic validation with every bad field listed."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.errors import MalformedJSON, ValidationFailed
from chalicelib.http.parsing import (
    MAX_FIELD_ERRORS,
    MAX_NESTING,
    MAX_NUMBER_LENGTH,
    parse_body,
    parse_json,
    validate,
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    count: int = Field(ge=0)
    tags: list[str] = []


def test_valid_json_is_parsed() -> None:
    assert parse_json(b'{"a": [1, {"b": "\\u00e9"}]}') == {"a": [1, {"b": "é"}]}


def test_empty_body_is_none() -> None:
    assert parse_json(b"") is None
    assert parse_json(None) is None


def test_duplicate_keys_are_refused_at_any_depth() -> None:
    with pytest.raises(MalformedJSON, match="repeats the key 'a'"):
        parse_json(b'{"a": 1, "a": 2}')
    with pytest.raises(MalformedJSON, match="'x'"):
        parse_json(b'{"outer": {"x": 1, "x": 1}}')


def test_non_utf8_is_refused() -> None:
    with pytest.raises(MalformedJSON, match="UTF-8"):
        parse_json(b'{"name": "\xff\xfe"}')


def test_syntax_errors_say_where() -> None:
    with pytest.raises(MalformedJSON, match="at 9"):
        parse_json(b'{"name": }')


@pytest.mark.parametrize("text", [b"NaN", b'{"count": Infinity}', b"[-Infinity]"])
def test_non_standard_numbers_are_refused(text: bytes) -> None:
    with pytest.raises(MalformedJSON):
        parse_json(text)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    text = "[" * MAX_NESTING + "]" * MAX_NESTING
    assert parse_json(text.encode()) is not None


def test_nesting_past_the_limit_is_refused_before_parsing() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(MalformedJSON, match="nests deeper"):
        parse_json(deep.encode())


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"s": "' + "[{" * 100 + '\\"' + '"}'
    assert parse_json(text.encode()) == {"s": "[{" * 100 + '"'}


def test_validation_lists_every_bad_field() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate(Body, {"name": "", "count": "many", "tags": [1], "extra": 1}, "body")
    fields = [e["field"] for e in raised.value.extra["errors"]]
    assert sorted(fields) == ["body.count", "body.extra", "body.name", "body.tags.0"]
    assert all(e["message"] for e in raised.value.extra["errors"])
    assert raised.value.status == 400
    assert raised.value.code == "validation_error"
    assert "body.count" in raised.value.detail


def test_missing_body_is_validated_as_empty_and_names_required_fields() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate(Body, None, "body")
    fields = {e["field"] for e in raised.value.extra["errors"]}
    assert fields == {"body.name", "body.count"}


def test_a_non_object_body_is_a_validation_error_on_the_body() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate(Body, [1, 2], "body")
    assert [e["field"] for e in raised.value.extra["errors"]] == ["body"]


def test_validation_errors_never_echo_the_input() -> None:
    secret_looking = "f" * 64
    with pytest.raises(ValidationFailed) as raised:
        validate(Body, {"name": "n", "count": secret_looking}, "query")
    assert secret_looking not in str(raised.value.extra)
    assert raised.value.extra["errors"][0]["field"] == "query.count"


@pytest.mark.parametrize("text", [b"1e999", b"[-1e400]", b'{"n": 1.8e308}'])
def test_numbers_too_large_for_a_float_are_refused(text: bytes) -> None:
    with pytest.raises(MalformedJSON, match="too large for a float"):
        parse_json(text)


def test_number_literals_past_the_length_limit_are_refused_not_a_value_error() -> None:
    # Python itself refuses integers of more than 4,300 digits with a ValueError.
    with pytest.raises(MalformedJSON, match="longer than"):
        parse_json(b"[" + b"7" * 5_000 + b"]")
    with pytest.raises(MalformedJSON, match="longer than"):
        parse_json(b"0." + b"1" * MAX_NUMBER_LENGTH)
    assert parse_json(b"9" * MAX_NUMBER_LENGTH) == int("9" * MAX_NUMBER_LENGTH)


def test_a_repeated_key_is_shown_escaped_and_bounded() -> None:
    key = "\u2028\r\n" + "k" * 500
    raw = ("{" + f'"{key}": 1, "{key}": 2' + "}").encode()
    with pytest.raises(MalformedJSON) as raised:
        parse_json(raw.replace(b"\r\n", b"\\r\\n"))
    detail = raised.value.detail
    assert "\\u2028\\r\\n" in detail
    assert "\n" not in detail and "\u2028" not in detail
    assert len(detail) < 120


def test_a_literal_null_body_is_not_an_empty_object() -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_body(Body, b"null")
    assert [e["field"] for e in raised.value.extra["errors"]] == ["body"]
    with pytest.raises(ValidationFailed) as raised:
        parse_body(Body, b"")
    assert {e["field"] for e in raised.value.extra["errors"]} == {
        "body.name",
        "body.count",
    }


def test_a_validation_error_lists_a_bounded_number_of_fields() -> None:
    data = {"name": "n", "count": 1, **{f"x{i}": 1 for i in range(1_000)}}
    with pytest.raises(ValidationFailed) as raised:
        validate(Body, data, "body")
    assert len(raised.value.extra["errors"]) == MAX_FIELD_ERRORS
    assert raised.value.detail.endswith(f" and {1_000 - MAX_FIELD_ERRORS} more")


@pytest.mark.parametrize(
    "text", [b'"\\ud800"', b'["a", {"k": "x\\udc00"}]', b'{"\\ud83d": 1}']
)
def test_an_escaped_lone_surrogate_is_refused(text: bytes) -> None:
    with pytest.raises(MalformedJSON, match="lone UTF-16 surrogate"):
        parse_json(text)


def test_an_escaped_surrogate_pair_and_an_escaped_backslash_are_text() -> None:
    assert parse_json(b'"\\ud83d\\ude00"') == "\U0001f600"
    assert parse_json(b'"\\\\ud800"') == "\\ud800"
