"""Small helpers for DynamoDB's low-level API: typed values and expressions.

Typed values are DynamoDB's attribute values (``{"S": "text"}``, ``{"N": "12"}``).
boto3 has a codec for them, ``boto3.dynamodb.types``, but importing any part of
boto3 loads the whole package first: its resources, its docs and s3transfer
(multiprocessing with it), some sixty modules and about 15 ms of a cold start
for the few lines below. The service's clients are botocore's (see
``chalicelib/aws.py``), so a request's path never imports boto3; the tests
check these functions against boto3's codec on generated values.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# DynamoDB's numbers: 38 significant digits, exponents from -130 to 125. A
# value it would round or refuse is refused here, with decimal's error.
_NUMBERS = Context(
    Emin=-128,
    Emax=126,
    prec=38,
    traps=[Clamped, Overflow, Inexact, Rounded, Underflow],
)


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Serialize a plain dict into DynamoDB's typed attribute values."""
    return {k: serialize(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """Deserialize a typed item into plain Python values (numbers as int)."""
    return {k: deserialize(v) for k, v in item.items()}


def serialize(value: Any) -> dict[str, Any]:
    """Return ``value`` as one DynamoDB attribute value.

    None, bool, int and Decimal, str, bytes, non-empty sets of numbers, of
    strings or of bytes, lists and tuples, and mappings. Anything else, a
    float included (DynamoDB numbers are decimal), raises TypeError.
    """
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, Decimal)):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": value}
    if isinstance(value, Set):
        return _set(value)
    if isinstance(value, Mapping):
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [serialize(v) for v in value]}
    if isinstance(value, float):
        raise TypeError("a float has no exact DynamoDB number: use int or Decimal")
    raise TypeError(f"a {type(value).__name__} has no DynamoDB attribute value")


def deserialize(value: Mapping[str, Any]) -> Any:
    """Return the plain Python value of one attribute value (numbers as int).

    Every number this service stores is an integer, so numbers become ``int``
    here once rather than at every use; binary values become ``bytes``.
    """
    if len(value) != 1:
        raise TypeError(f"an attribute value has one type, not {sorted(value)}")
    ((kind, data),) = value.items()
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL"):
        return data
    if kind == "N":
        return int(Decimal(data))
    if kind == "B":
        return bytes(data)
    if kind == "M":
        return {k: deserialize(v) for k, v in data.items()}
    if kind == "L":
        return [deserialize(v) for v in data]
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {int(Decimal(n)) for n in data}
    if kind == "BS":
        return {bytes(b) for b in data}
    raise TypeError(f"unknown DynamoDB attribute type {kind!r}")


def _number(value: int | Decimal) -> str:
    number = _NUMBERS.create_decimal(value)
    if not number.is_finite():
        raise TypeError("DynamoDB numbers are finite")
    return str(number)


def _set(value: Set[Any]) -> dict[str, Any]:
    members = list(value)
    if not members:
        raise TypeError("DynamoDB has no empty set: leave the attribute out")
    if all(isinstance(m, (int, Decimal)) and not isinstance(m, bool) for m in members):
        return {"NS": [_number(m) for m in members]}
    if all(isinstance(m, str) for m in members):
        return {"SS": members}
    if all(isinstance(m, (bytes, bytearray)) for m in members):
        return {"BS": members}
    raise TypeError("a DynamoDB set holds only numbers, only strings or only bytes")


class Expression:
    """Builds update and condition expressions with generated placeholders.

    Each clause is added with the names and values it uses, so callers never
    juggle ``#n1``/``:v1`` placeholders by hand.
    """

    # A plain class rather than a dataclass: this module is on every cold
    # start's path, where a dataclass's generated methods cost about half a
    # millisecond.
    def __init__(self) -> None:
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.conditions: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        """Return the placeholder for an attribute name (or map key)."""
        for placeholder, existing in self.names.items():
            if existing == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        """Return a new placeholder bound to ``value``."""
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = serialize(value)
        return placeholder

    def update_expression(self) -> str:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        return " ".join(parts)

    def condition_expression(self) -> str:
        return " AND ".join(f"({c})" for c in self.conditions)

    def update_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments for ``UpdateItem``."""
        kwargs: dict[str, Any] = {"UpdateExpression": self.update_expression()}
        if self.conditions:
            kwargs["ConditionExpression"] = self.condition_expression()
        if self.names:
            kwargs["ExpressionAttributeNames"] = self.names
        if self.values:
            kwargs["ExpressionAttributeValues"] = self.values
        return kwargs
