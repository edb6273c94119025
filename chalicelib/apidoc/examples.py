"""Build example values from JSON Schema, preferring the models' own examples.

A field's ``examples`` (pydantic ``Field(examples=[...])``) wins, then its
default, then a value made up from its type. Optional fields appear only when
they carry an example, so an example body is the smallest one a model accepts
plus what its author chose to illustrate.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2030-01-01T00:00:00Z",
    "date": "2030-01-01",
    "uri": "https://example.com/webhooks/jupiter",
    "email": "dev@example.com",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}
_TYPES: dict[str, Any] = {
    "string": "string",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "null": None,
}


def resolve(schema: Schema, components: dict[str, Schema]) -> Schema:
    """Follow a ``#/components/schemas/`` reference, if ``schema`` is one."""
    while "$ref" in schema:
        schema = components[str(schema["$ref"]).rsplit("/", 1)[-1]]
    return schema


def example_of(schema: Schema, components: dict[str, Schema], depth: int = 0) -> Any:
    """Return an example value that ``schema`` accepts."""
    explicit = _explicit(schema)
    if explicit is not _NONE:
        return explicit
    schema = resolve(schema, components)
    explicit = _explicit(schema)
    if explicit is not _NONE or depth > MAX_DEPTH:
        return None if explicit is _NONE else explicit
    variants = schema.get("anyOf") or schema.get("oneOf")
    if variants:
        chosen = next((v for v in variants if v.get("type") != "null"), variants[0])
        return example_of(chosen, components, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _object(schema, components, depth)
    if kind == "array":
        return [example_of(schema.get("items", {}), components, depth + 1)]
    if kind == "string":
        return _FORMATS.get(str(schema.get("format")), "string")
    if kind in ("integer", "number"):
        return schema.get("minimum", _TYPES[kind])
    return _TYPES.get(str(kind))


class _Missing:
    """Marks the absence of an explicit example (``None`` is a valid one)."""


_NONE: Any = _Missing()


def _explicit(schema: Schema) -> Any:
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("example", "const"):
        if key in schema:
            return schema[key]
    if schema.get("default") is not None:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    return _NONE


def _object(schema: Schema, components: dict[str, Schema], depth: int) -> Any:
    required = set(schema.get("required", ()))
    result: dict[str, Any] = {}
    for name, field in schema.get("properties", {}).items():
        if name in required or "examples" in field:
            result[name] = example_of(field, components, depth + 1)
    return result
