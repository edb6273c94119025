"""DynamoDB's attribute values: the service's codec agrees with boto3's."""

from __future__ import annotations

from decimal import Decimal, Inexact, Rounded
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.dynamo import deserialize, from_item, serialize, to_item

REFERENCE_SERIALIZER = TypeSerializer()
REFERENCE_DESERIALIZER = TypeDeserializer()

integers = st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)
numbers = st.one_of(
    integers,
    st.decimals(allow_nan=False, allow_infinity=False, places=3).filter(
        lambda d: abs(d) < 10**30
    ),
)
texts = st.text(max_size=20)
binaries = st.binary(max_size=20)


def _values(numbers: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), numbers, texts, binaries)
    sets = st.one_of(
        st.frozensets(numbers, min_size=1, max_size=5),
        st.frozensets(texts, min_size=1, max_size=5),
        st.frozensets(binaries, min_size=1, max_size=5),
    )
    return st.recursive(
        st.one_of(scalars, sets),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(texts, inner, max_size=4),
        ),
        max_leaves=12,
    )


values = _values(numbers)
# What the service stores: every number an integer.
stored_values = _values(integers)


def _plain(value: Any) -> Any:
    """boto3's decoded value, with the service's conventions: int and bytes."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, Binary):
        return bytes(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {_plain(v) for v in value}
    return value


def _unordered(attribute: Any) -> Any:
    """An attribute value with its sets' members sorted (set order is arbitrary)."""
    if isinstance(attribute, dict):
        return {
            k: sorted(v) if k in ("SS", "NS", "BS") else _unordered(v)
            for k, v in attribute.items()
        }
    if isinstance(attribute, list):
        return [_unordered(v) for v in attribute]
    return attribute


@given(values)
def test_serializes_as_boto3_does(value: Any) -> None:
    assert _unordered(serialize(value)) == _unordered(
        REFERENCE_SERIALIZER.serialize(value)
    )


@given(values)
def test_deserializes_as_boto3_does_with_ints_and_bytes(value: Any) -> None:
    attribute = REFERENCE_SERIALIZER.serialize(value)

    assert deserialize(attribute) == _plain(
        REFERENCE_DESERIALIZER.deserialize(attribute)
    )


@given(st.dictionaries(texts, stored_values, max_size=5))
def test_an_item_round_trips_without_its_none_values(values: dict[str, Any]) -> None:
    expected = {k: _plain(v) for k, v in values.items() if v is not None}

    assert from_item(to_item(values)) == expected


def test_a_tuple_is_a_list() -> None:
    assert serialize(("a", 1)) == {"L": [{"S": "a"}, {"N": "1"}]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "a float has no exact DynamoDB number"),
        ({1.5}, "only numbers, only strings or only bytes"),
        ({"a", 1}, "only numbers, only strings or only bytes"),
        (set(), "no empty set"),
        (object(), "a object has no DynamoDB attribute value"),
        (Decimal("Infinity"), "finite"),
        (Decimal("-Infinity"), "finite"),
        (Decimal("NaN"), "finite"),
    ],
)
def test_a_value_dynamodb_cannot_hold_is_refused(value: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        serialize(value)


@pytest.mark.parametrize(
    ("number", "error"),
    [
        (10**38, Rounded),
        (Decimal("0.1234567890123456789012345678901234567891"), Inexact),
    ],
)
def test_a_number_dynamodb_would_round_is_refused(number: Any, error: type) -> None:
    with pytest.raises(error):
        serialize(number)


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ({"X": "1"}, "unknown DynamoDB attribute type 'X'"),
        ({}, "one type"),
        ({"S": "a", "N": "1"}, "one type"),
    ],
)
def test_an_attribute_value_of_no_known_type_is_refused(
    attribute: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        deserialize(attribute)
