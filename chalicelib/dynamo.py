"""Small helpers for DynamoDB's low-level API: typed values and expressions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Serialize a plain dict into DynamoDB's typed attribute values."""
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """Deserialize a typed item into plain Python values (numbers as int)."""
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    # TypeDeserializer yields Decimal; every number this service stores is an
    # integer, so convert once here rather than at every use.
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass
class Expression:
    """Builds update and condition expressions with generated placeholders.

    Each clause is added with the names and values it uses, so callers never
    juggle ``#n1``/``:v1`` placeholders by hand.
    """

    sets: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

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
        self.values[placeholder] = _serializer.serialize(value)
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
