"""Parse and validate request bodies and queries with pydantic."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chalicelib.errors import MalformedJSON, ValidationFailed

Model = TypeVar("Model", bound=BaseModel)

MAX_NESTING = 32


def parse_json(raw: bytes | None) -> Any:
    """Decode a JSON body strictly: UTF-8, no duplicate keys, bounded nesting.

    ``NaN`` and ``Infinity`` are refused too: they are not JSON (RFC 8259), and
    Python's parser would otherwise let them through as floats.
    """
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJSON("the body is not valid UTF-8") from None
    if _nesting(text) > MAX_NESTING:
        raise MalformedJSON(f"the body nests deeper than {MAX_NESTING} levels")
    try:
        return json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except json.JSONDecodeError as exc:
        raise MalformedJSON(
            f"the body is not valid JSON: {exc.msg} at {exc.pos}"
        ) from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedJSON(f"the body repeats the key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise MalformedJSON(f"the body is not valid JSON: {name} is not a number")


def _nesting(text: str) -> int:
    """Return the deepest bracket nesting, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def validate(model: type[Model], data: Any, where: str) -> Model:
    """Validate ``data`` against ``model``; list every bad field on failure."""
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join([where, *(str(p) for p in error["loc"])]),
                "message": error["msg"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        fields = ", ".join(e["field"] for e in errors)
        raise ValidationFailed(f"invalid {where}: {fields}", errors) from None
