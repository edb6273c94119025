"""What the SDK templates and the docs page see: the operations of an OpenAPI
document, with the names each language gives them.

Templates never read the registry: they get this description, made from the
OpenAPI document alone, so the document is the one source of the SDKs.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from chalicelib.apidoc.examples import example_of

Document = dict[str, Any]

_METHODS = ("get", "post", "put", "patch", "delete")
_PATH_PARAM = re.compile(r"{([^}/]+)}")
# Words written in capitals inside JavaScript and C# names.
_ACRONYMS = {"vr": "VR", "api": "API", "sdk": "SDK", "ip": "IP"}
_CS_KEYWORDS = {"object", "string", "params", "event", "base", "lock", "operator"}


def camel(snake: str) -> str:
    """Return ``snake`` in lowerCamelCase, acronyms in capitals."""
    first, *rest = snake.split("_")
    return first + "".join(_title(word) for word in rest)


def pascal(snake: str) -> str:
    """Return ``snake`` in PascalCase (``get_threat`` → ``GetThreat``)."""
    return "".join(_title(word) for word in snake.split("_"))


def _title(word: str) -> str:
    return _ACRONYMS.get(word, word[:1].upper() + word[1:])


def python_name(name: str) -> str:
    """Return ``name`` as a Python identifier (a keyword gets a trailing ``_``)."""
    return name + "_" if keyword.iskeyword(name) else name


def cs_name(name: str) -> str:
    """Return ``name`` as a C# parameter name."""
    result = camel(name)
    return "@" + result if result in _CS_KEYWORDS else result


@dataclass(frozen=True)
class Parameter:
    """A query parameter of an operation."""

    name: str
    required: bool
    description: str
    kind: str  # the JSON Schema type, "string" when unknown
    example: Any

    @property
    def py(self) -> str:
        return python_name(self.name)


@dataclass(frozen=True)
class Operation:
    """One REST operation, as the SDKs and docs show it."""

    name: str
    method: str
    path: str
    summary: str
    description: str
    tag: str
    public: bool
    scope: str | None
    path_params: tuple[str, ...]
    query: tuple[Parameter, ...]
    has_body: bool
    body_required: bool
    body_example: Any
    status: int
    media_type: str
    errors: tuple[int, ...] = field(default=())

    @property
    def camel(self) -> str:
        return camel(self.name)

    @property
    def pascal(self) -> str:
        return pascal(self.name)

    @property
    def kind(self) -> str:
        """How a client reads the success body: ``json``, ``text`` or ``binary``."""
        if "json" in self.media_type:
            return "json"
        return "text" if self.media_type.startswith("text/") else "binary"

    @property
    def example_path(self) -> str:
        """The path with an example value in each parameter."""
        return _PATH_PARAM.sub(lambda m: example_value(m.group(1)), self.path)

    @property
    def example_query(self) -> dict[str, Any]:
        """Example values of the required query parameters, and exemplified ones."""
        return {
            p.name: p.example for p in self.query if p.required or p.example is not None
        }


def example_value(name: str) -> str:
    """Return an example value for a path parameter called ``name``."""
    if name.endswith("key_id"):
        return "jptr_2f8c1a9e4b7d"
    if name == "language":
        return "python"
    if name == "metric":
        return "threat_count"
    return name.removesuffix("_id") + "_123"


def describe(document: Document) -> list[Operation]:
    """Return the operations of ``document``, in document order."""
    schemas = document.get("components", {}).get("schemas", {})
    operations = []
    for path, item in document["paths"].items():
        for method in _METHODS:
            if method in item:
                operations.append(_operation(path, method, item[method], schemas))
    return operations


def _operation(
    path: str, method: str, spec: dict[str, Any], schemas: dict[str, Any]
) -> Operation:
    status, media_type = _success(spec)
    body = spec.get("requestBody")
    body_example = None
    if body is not None:
        content = body["content"]["application/json"]
        body_example = content.get("example", example_of(content["schema"], schemas))
    return Operation(
        name=spec["operationId"],
        method=method.upper(),
        path=path,
        summary=spec.get("summary", ""),
        description=spec.get("description", ""),
        tag=(spec.get("tags") or ["API"])[0],
        public=spec.get("security") == [],
        scope=spec.get("x-required-scope"),
        path_params=tuple(_PATH_PARAM.findall(path)),
        query=tuple(_query(spec, schemas)),
        has_body=body is not None,
        body_required=bool(body and body.get("required")),
        body_example=body_example,
        status=status,
        media_type=media_type,
        errors=tuple(int(s) for s in spec["responses"] if s.isdigit() and s >= "4"),
    )


def _success(spec: dict[str, Any]) -> tuple[int, str]:
    for status, response in spec["responses"].items():
        if status.startswith("2"):
            content = response.get("content") or {"application/json": {}}
            return int(status), next(iter(content))
    return 200, "application/json"


def _query(spec: dict[str, Any], schemas: dict[str, Any]) -> list[Parameter]:
    result = []
    for parameter in spec.get("parameters", []):
        if parameter["in"] != "query":
            continue
        schema = parameter.get("schema", {})
        example = parameter.get("example")
        if example is None and parameter.get("required"):
            example = example_of(schema, schemas)
        result.append(
            Parameter(
                name=parameter["name"],
                required=bool(parameter.get("required")),
                description=parameter.get("description", ""),
                kind=_kind(schema),
                example=example,
            )
        )
    return result


def _kind(schema: dict[str, Any]) -> str:
    variants = schema.get("anyOf") or [schema]
    kinds = [v.get("type") for v in variants if v.get("type") not in (None, "null")]
    return str(kinds[0]) if kinds else "string"
