"""Handlers of the key endpoints."""

from __future__ import annotations

from chalicelib.http.call import Call
from chalicelib.keys.models import (
    CreateKeyRequest,
    KeyList,
    KeyView,
    KeyWithSecret,
    ListKeysQuery,
    RotateKeyRequest,
)
from chalicelib.services import services


def create_key(call: Call) -> KeyWithSecret:
    return services().keys.create(call.actor, call.body_as(CreateKeyRequest))


def list_keys(call: Call) -> KeyList:
    return services().keys.list_keys(call.actor, call.query_as(ListKeysQuery))


def revoke_key(call: Call) -> KeyView:
    return services().keys.revoke(call.actor, call.path_params["key_id"])


def rotate_key(call: Call) -> KeyWithSecret:
    body = call.body if call.body is not None else RotateKeyRequest()
    assert isinstance(body, RotateKeyRequest)
    return services().keys.rotate(
        call.actor, call.path_params["key_id"], body.grace_period_seconds
    )
