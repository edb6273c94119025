"""Parse and validate request bodies and queries with pydantic."""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chalicelib.errors import MalformedJSON, ValidationFailed

Model = TypeVar("Model", bound=BaseModel)

# Deeper documents are refused before parsing: Python's parser recurses once
# per level, and every request model is a few levels deep.
MAX_NESTING = 32
# Longer number literals are refused: Python refuses to convert integers of
# more than 4,300 digits (with a ValueError of its own), DynamoDB keeps 38, and
# no field of the API takes more than a few.
MAX_NUMBER_LENGTH = 100
# How many invalid fields a validation error lists.
MAX_FIELD_ERRORS = 20
# How much of a repeated key the error repeats back.
_KEY_SHOWN = 64
# A \uD800-\uDFFF escape: only then can a parsed string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json(raw: bytes | None) -> Any:
    """Decode a JSON body strictly: UTF-8, no duplicate keys, bounded nesting.

    ``NaN`` and ``Infinity`` are refused too, as are numbers too large for a
    float (``1e999``) and number literals longer than ``MAX_NUMBER_LENGTH``:
    they are not JSON numbers any client means (RFC 8259), and Python's parser
    would otherwise let them through as infinite floats or fail on them.
    A repeated key is refused rather than resolved: parsers disagree on which
    of the two wins, and a body read one way here and another way elsewhere is
    how checks get bypassed.
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
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_int=_integer,
            parse_float=_float,
        )
    except json.JSONDecodeError as exc:
        raise MalformedJSON(
            f"the body is not valid JSON: {exc.msg} at {exc.pos}"
        ) from None
    if _SURROGATE_ESCAPE.search(text):
        _check_text(value)
    return value


def _check_text(value: Any) -> None:
    """Refuse a ``\\udXXX`` escape outside a surrogate pair: it is not text.

    Python keeps such a lone surrogate in the string, and it fails later, when
    the string is written to DynamoDB or serialized into the answer.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedJSON(
            "the body escapes a lone UTF-16 surrogate (\\ud800-\\udfff)"
        ) from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedJSON(f"the body repeats the key {_shown(key)}")
        result[key] = value
    return result


def _shown(key: str) -> str:
    # repr() escapes control characters and line separators.
    if len(key) > _KEY_SHOWN:
        return repr(key[:_KEY_SHOWN]) + "..."
    return repr(key)


def _no_constant(name: str) -> Any:
    raise MalformedJSON(f"the body is not valid JSON: {name} is not a number")


def _integer(literal: str) -> int:
    _check_length(literal)
    return int(literal)


def _float(literal: str) -> float:
    _check_length(literal)
    value = float(literal)
    if math.isinf(value):
        raise MalformedJSON("the body holds a number too large for a float")
    return value


def _check_length(literal: str) -> None:
    if len(literal) > MAX_NUMBER_LENGTH:
        raise MalformedJSON(
            f"the body holds a number longer than {MAX_NUMBER_LENGTH} characters"
        )


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


def parse_body(model: type[Model], raw: bytes | None) -> Model:
    """Parse and validate a request body; no body at all reads as ``{}``."""
    data = parse_json(raw)
    if data is None and raw:
        # A literal ``null`` is a body, and not the object the route takes.
        message = "Input should be a JSON object, not null"
        raise ValidationFailed("invalid body: body", [_error("body", message)])
    return validate(model, data, "body")


def validate(model: type[Model], data: Any, where: str) -> Model:
    """Validate ``data`` against ``model``; list the bad fields on failure.

    At most ``MAX_FIELD_ERRORS`` are listed (the detail counts the rest), so a
    body of a hundred thousand unknown keys cannot make a megabyte of answer.
    """
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = exc.errors(include_url=False, include_input=False)
        errors = [
            _error(".".join([where, *(str(p) for p in error["loc"])]), error["msg"])
            for error in found[:MAX_FIELD_ERRORS]
        ]
        fields = ", ".join(e["field"] for e in errors)
        if len(found) > MAX_FIELD_ERRORS:
            fields += f" and {len(found) - MAX_FIELD_ERRORS} more"
        raise ValidationFailed(f"invalid {where}: {fields}", errors) from None


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}
