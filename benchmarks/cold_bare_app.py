"""The cold-start baseline: a bare Chalice app, one route, one DynamoDB GetItem.

``benchmarks.cold_start`` copies this file as ``app.py`` into an empty
directory and serves its route in fresh processes, next to Jupiter's app. It
is what any Chalice service pays at least: the interpreter, Chalice, boto3,
one client and one round trip. With ``BARE_TRACING=true`` it also patches
boto3 for X-Ray at import, as a traced service usually does; with
``BARE_PYDANTIC=true`` its answer goes through a pydantic model: together,
what a service built on Jupiter's libraries pays as they come. With
``BARE_HELD=true`` it holds the garbage collector off until its first answer,
as ``chalicelib/heap.py`` does for Jupiter in Lambda: what that alone is worth.
"""

# ruff: noqa: E402
from __future__ import annotations

import gc
import os

HELD = os.environ.get("BARE_HELD") == "true"
if HELD:
    gc.disable()

from typing import Any

import boto3
from chalice import Chalice

if os.environ.get("BARE_TRACING") == "true":
    from aws_xray_sdk.core import patch

    patch(["boto3"])

if os.environ.get("BARE_PYDANTIC") == "true":
    from pydantic import BaseModel

    class Item(BaseModel):
        found: bool

    def answer(found: bool) -> dict[str, Any]:
        return Item(found=found).model_dump()

else:

    def answer(found: bool) -> dict[str, Any]:
        return {"found": found}


app = Chalice(app_name="bare")
_clients: dict[str, Any] = {}

if HELD:

    @app.middleware("all")
    def release(event: Any, get_response: Any) -> Any:
        try:
            return get_response(event)
        finally:
            if not gc.isenabled():
                gc.freeze()
                gc.enable()


@app.route("/api/item")
def get_item() -> dict[str, Any]:
    # Created on first use, like Jupiter's clients (endpoint from AWS_ENDPOINT_URL).
    if "dynamodb" not in _clients:
        _clients["dynamodb"] = boto3.client("dynamodb")
    response = _clients["dynamodb"].get_item(
        TableName=os.environ["BARE_TABLE"], Key={"pk": {"S": "item"}}
    )
    return answer("Item" in response)
