"""A tiny in-memory DynamoDB for fast limiter tests: ``update_item`` only.

It evaluates the subset of the expression language the admission write uses,
with DynamoDB's own rules where they matter to that write:

* every right-hand side is read from the item as it was before the update;
* a ``ConditionExpression`` on a missing item sees no attributes at all;
* ``ReturnValuesOnConditionCheckFailure=ALL_OLD`` returns the old item;
* a placeholder declared but never used, a placeholder used but never
  declared, arithmetic on a missing attribute, a nested ``SET`` under a
  missing map and two overlapping update paths are ``ValidationException``.

Anything outside the subset raises ``UnsupportedExpression`` so a change in
what the gateway emits fails the tests loudly instead of being misread.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_TOKEN = re.compile(r"\s*(#\w+|:\w+|[A-Za-z_][A-Za-z0-9_]*|<>|<=|>=|[=<>(),.+-])")
_MISSING = object()
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class UnsupportedExpression(Exception):
    """Raised for syntax the fake does not implement."""


def _client_error(code: str, message: str, **extra: Any) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, **extra}
    return ClientError(response, "UpdateItem")


def _invalid(message: str) -> ClientError:
    return _client_error("ValidationException", message)


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise UnsupportedExpression(f"cannot read {text[position:]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


@dataclass
class _Parser:
    """Recursive descent over one expression, resolving placeholders."""

    tokens: list[str]
    names: dict[str, str]
    values: dict[str, Any]
    used: set[str] = field(default_factory=set)
    position: int = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.upper() == word

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.upper() != expected):
            raise UnsupportedExpression(f"expected {expected}, found {token}")
        self.position += 1
        return token

    def done(self) -> bool:
        return self.position == len(self.tokens)

    def path(self) -> tuple[str, ...]:
        parts = [self._name(self.take())]
        while self.peek() == ".":
            self.take(".")
            parts.append(self._name(self.take()))
        return tuple(parts)

    def _name(self, token: str) -> str:
        if token.startswith("#"):
            if token not in self.names:
                raise _invalid(f"undefined attribute name placeholder {token}")
            self.used.add(token)
            return self.names[token]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token):
            raise UnsupportedExpression(f"not a name: {token}")
        return token

    def operand(self) -> tuple[str, Any]:
        """Return ('value', v) or ('path', p)."""
        token = self.peek()
        if token is not None and token.startswith(":"):
            self.take()
            if token not in self.values:
                raise _invalid(f"undefined attribute value placeholder {token}")
            self.used.add(token)
            return "value", self.values[token]
        return "path", self.path()


def _get(item: dict[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = item
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _resolve(item: dict[str, Any], operand: tuple[str, Any]) -> Any:
    kind, payload = operand
    return payload if kind == "value" else _get(item, payload)


# ---------------------------------------------------------------- conditions


def _condition(parser: _Parser, item: dict[str, Any]) -> bool:
    result = _conjunction(parser, item)
    while parser.at_keyword("OR"):
        parser.take("OR")
        right = _conjunction(parser, item)
        result = result or right
    return result


def _conjunction(parser: _Parser, item: dict[str, Any]) -> bool:
    result = _unary(parser, item)
    while parser.at_keyword("AND"):
        parser.take("AND")
        right = _unary(parser, item)
        result = result and right
    return result


def _unary(parser: _Parser, item: dict[str, Any]) -> bool:
    token = parser.peek()
    if token is None:
        raise UnsupportedExpression("condition ends early")
    if token.upper() == "NOT":
        parser.take("NOT")
        return not _unary(parser, item)
    if token == "(":
        parser.take("(")
        result = _condition(parser, item)
        parser.take(")")
        return result
    if token in ("attribute_exists", "attribute_not_exists", "contains"):
        return _function(parser, item)
    return _comparison(parser, item)


def _function(parser: _Parser, item: dict[str, Any]) -> bool:
    name = parser.take()
    parser.take("(")
    target = _get(item, parser.path())
    if name == "contains":
        parser.take(",")
        needle = _resolve(item, parser.operand())
        parser.take(")")
        if target is _MISSING or needle is _MISSING:
            return False
        return needle in target
    parser.take(")")
    exists = target is not _MISSING
    return exists if name == "attribute_exists" else not exists


def _comparison(parser: _Parser, item: dict[str, Any]) -> bool:
    left = _resolve(item, parser.operand())
    operator = parser.take()
    if operator not in ("=", "<", "<=", ">", ">="):
        raise UnsupportedExpression(f"comparison {operator}")
    right = _resolve(item, parser.operand())
    if left is _MISSING or right is _MISSING:
        return False
    if isinstance(left, Decimal) != isinstance(right, Decimal):
        return False
    if operator == "=":
        return bool(left == right)
    if not isinstance(left, Decimal | str):
        raise UnsupportedExpression("ordering of a non-scalar")
    return {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[operator]


# ------------------------------------------------------------------- updates


@dataclass(frozen=True)
class _Action:
    verb: str  # SET or REMOVE
    path: tuple[str, ...]
    value: Any = None  # SET: the computed value (from the old item)


def _updates(parser: _Parser, item: dict[str, Any]) -> list[_Action]:
    actions: list[_Action] = []
    while not parser.done():
        verb = parser.take().upper()
        if verb not in ("SET", "REMOVE"):
            raise UnsupportedExpression(f"update clause {verb}")
        while True:
            path = parser.path()
            if verb == "SET":
                parser.take("=")
                actions.append(_Action("SET", path, _value(parser, item)))
            else:
                actions.append(_Action("REMOVE", path))
            if parser.peek() != ",":
                break
            parser.take(",")
    return actions


def _value(parser: _Parser, item: dict[str, Any]) -> Any:
    left = _term(parser, item)
    if parser.peek() not in ("+", "-"):
        if left is _MISSING:
            raise _invalid("the provided expression refers to a missing attribute")
        return left
    operator = parser.take()
    right = _term(parser, item)
    if left is _MISSING or right is _MISSING:
        raise _invalid("the provided expression refers to a missing attribute")
    if not (isinstance(left, Decimal) and isinstance(right, Decimal)):
        raise _invalid("an operand in the update expression has an incorrect type")
    return left + right if operator == "+" else left - right


def _term(parser: _Parser, item: dict[str, Any]) -> Any:
    if parser.peek() == "if_not_exists":
        parser.take()
        parser.take("(")
        existing = _get(item, parser.path())
        parser.take(",")
        fallback = _resolve(item, parser.operand())
        parser.take(")")
        return fallback if existing is _MISSING else existing
    return _resolve(item, parser.operand())


def _check_overlap(actions: list[_Action]) -> None:
    paths = [a.path for a in actions]
    for i, first in enumerate(paths):
        for second in paths[i + 1 :]:
            shorter = min(len(first), len(second))
            if first[:shorter] == second[:shorter]:
                raise _invalid(f"two document paths overlap: {first} and {second}")


def _apply(item: dict[str, Any], actions: list[_Action]) -> None:
    for action in actions:
        parent = _get(item, action.path[:-1]) if len(action.path) > 1 else item
        if not isinstance(parent, dict):
            raise _invalid("the document path provided is invalid for update")
        if action.verb == "SET":
            parent[action.path[-1]] = copy.deepcopy(action.value)
        else:
            parent.pop(action.path[-1], None)


# --------------------------------------------------------------------- client


class FakeDynamoDB:
    """Holds items per table; answers ``update_item``, ``put_item``, ``get_item``."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[str] = []

    def item(self, table: str, key: str) -> dict[str, Any] | None:
        return self.tables.get(table, {}).get(key)

    def put_item(self, TableName: str, Item: dict[str, Any], **_: Any) -> Any:  # noqa: N803
        self.calls.append("PutItem")
        plain = _plain_decimal(Item)
        self.tables.setdefault(TableName, {})[_key_value_of(Item)] = plain
        return {}

    def get_item(self, TableName: str, Key: dict[str, Any], **_: Any) -> Any:  # noqa: N803
        self.calls.append("GetItem")
        stored = self.item(TableName, _key_value(Key))
        return {"Item": _typed(stored)} if stored is not None else {}

    def update_item(self, **kwargs: Any) -> Any:
        self.calls.append("UpdateItem")
        table = self.tables.setdefault(kwargs["TableName"], {})
        key_name, key = next(iter(kwargs["Key"].items()))
        key_value = key["S"]
        old = table.get(key_value)
        before = copy.deepcopy(old) if old is not None else {}
        names = kwargs.get("ExpressionAttributeNames", {})
        values = {
            k: _deserializer.deserialize(v)
            for k, v in kwargs.get("ExpressionAttributeValues", {}).items()
        }
        used: set[str] = set()
        holds = self._holds(kwargs.get("ConditionExpression"), before, names, values)
        used |= holds[1]
        updater = _Parser(_tokens(kwargs["UpdateExpression"]), names, values)
        actions = _updates(updater, before)
        used |= updater.used
        unused = (set(names) | set(values)) - used
        if unused:
            raise _invalid(f"placeholders unused in expressions: {sorted(unused)}")
        _check_overlap(actions)
        if not holds[0]:
            extra: dict[str, Any] = {}
            wants_old = kwargs.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
            if wants_old and old is not None:
                extra["Item"] = _typed(old)
            raise _client_error(
                "ConditionalCheckFailedException",
                "The conditional request failed",
                **extra,
            )
        after = copy.deepcopy(before)
        after[key_name] = key_value
        _apply(after, actions)
        table[key_value] = after
        if kwargs.get("ReturnValues") == "ALL_NEW":
            return {"Attributes": _typed(after)}
        return {}

    def _holds(
        self,
        condition: str | None,
        item: dict[str, Any],
        names: dict[str, str],
        values: dict[str, Any],
    ) -> tuple[bool, set[str]]:
        if not condition:
            return True, set()
        parser = _Parser(_tokens(condition), names, values)
        result = _condition(parser, item)
        if not parser.done():
            raise UnsupportedExpression(f"trailing tokens in {condition!r}")
        return result, parser.used


def _key_value(key: dict[str, Any]) -> str:
    return str(next(iter(key.values()))["S"])


def _key_value_of(item: dict[str, Any]) -> str:
    # The fake keys every table on its first attribute that is a string "id".
    for name in ("key_id", "ip", "event_id"):
        if name in item:
            return str(item[name]["S"])
    raise UnsupportedExpression("no known key attribute in the item")


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items()}


def _plain_decimal(typed: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in typed.items()}
