"""A Postman collection (v2.1) of every operation, from the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.sdks.description import Document, Operation, describe, example_value

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def collection(document: Document, base_url: str) -> dict[str, Any]:
    """Return the collection, grouped in folders by tag."""
    folders: dict[str, list[dict[str, Any]]] = {}
    for operation in describe(document):
        folders.setdefault(operation.tag, []).append(_item(operation))
    return {
        "info": {
            "name": document["info"]["title"],
            "version": document["info"]["version"],
            "schema": SCHEMA,
        },
        "variable": [
            {"key": "baseUrl", "value": base_url},
            {"key": "keyId", "value": ""},
            {"key": "keySecret", "value": ""},
        ],
        "item": [{"name": tag, "item": items} for tag, items in folders.items()],
    }


def _item(operation: Operation) -> dict[str, Any]:
    headers = [{"key": "Accept", "value": operation.media_type}]
    if not operation.public:
        headers += [
            {"key": "X-API-Key-ID", "value": "{{keyId}}"},
            {"key": "X-API-Key-Secret", "value": "{{keySecret}}"},
        ]
    request: dict[str, Any] = {
        "method": operation.method,
        "header": headers,
        "url": _url(operation),
        "description": operation.summary,
    }
    if operation.has_body:
        headers.append({"key": "Content-Type", "value": "application/json"})
        headers.append({"key": "Idempotency-Key", "value": "{{$guid}}"})
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(operation.body_example, indent=2),
        }
    return {"name": operation.summary, "request": request}


def _url(operation: Operation) -> dict[str, Any]:
    segments = [
        f":{part[1:-1]}" if part.startswith("{") else part
        for part in operation.path.strip("/").split("/")
    ]
    url: dict[str, Any] = {
        "raw": "{{baseUrl}}/" + "/".join(segments),
        "host": ["{{baseUrl}}"],
        "path": segments,
    }
    if operation.path_params:
        url["variable"] = [
            {"key": name, "value": example_value(name)}
            for name in operation.path_params
        ]
    if operation.query:
        url["query"] = [
            {
                "key": p.name,
                "value": "" if p.example is None else str(p.example),
                "disabled": not p.required,
            }
            for p in operation.query
        ]
    return url
