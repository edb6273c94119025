"""Rotation over HTTP: the new secret works at once; the old one per the grace."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStack, assert_problem, create_key, key_headers

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

GRACE = 6


def rotate(stack: LocalStack, key_id: str, **body: int) -> dict[str, Any]:
    response = requests.post(
        stack.url(f"/api/keys/{key_id}/rotate"),
        json=body,
        headers=stack.admin,
        timeout=5,
    )
    assert response.status_code == 200, response.text
    rotated: dict[str, Any] = response.json()
    return rotated


def usage_status(stack: LocalStack, key_id: str, secret: str) -> requests.Response:
    headers = {"X-API-Key-ID": key_id, "X-API-Key-Secret": secret}
    return requests.get(stack.url("/api/usage"), headers=headers, timeout=5)


def test_rotation_without_grace_swaps_secrets_at_once(stack: LocalStack) -> None:
    key = create_key(stack, ["READ_THREATS"], owner="org_rotate")

    rotated = rotate(stack, key["key_id"])

    assert rotated["key_secret"] != key["key_secret"]
    assert rotated["previous_secret_valid_until"] is None
    assert usage_status(stack, key["key_id"], rotated["key_secret"]).status_code == 200
    old = usage_status(stack, key["key_id"], key["key_secret"])
    assert_problem(old, 401, "invalid_api_key")


def test_rotation_with_grace_keeps_the_old_secret_until_it_ends(
    stack: LocalStack,
) -> None:
    key = create_key(stack, ["READ_THREATS"], owner="org_rotate")
    # A grace long enough that the two checks below finish inside it on a
    # loaded machine; the bounds are taken around the rotation itself.
    before = time.time()
    rotated = rotate(stack, key["key_id"], grace_period_seconds=GRACE)
    after = time.time()
    ends = datetime.fromisoformat(rotated["previous_secret_valid_until"]).timestamp()
    assert before + GRACE - 1 <= ends <= after + GRACE + 1

    assert usage_status(stack, key["key_id"], rotated["key_secret"]).status_code == 200
    sent = time.time()
    still_valid = usage_status(stack, key["key_id"], key["key_secret"])
    assert sent < ends, "the machine was too slow to check inside the grace"
    assert still_valid.status_code == 200

    time.sleep(max(0.0, ends - time.time()) + 0.2)
    old = usage_status(stack, key["key_id"], key["key_secret"])
    assert_problem(old, 401, "invalid_api_key")
    assert usage_status(stack, key["key_id"], rotated["key_secret"]).status_code == 200
    assert key_headers(rotated)["X-API-Key-Secret"] == rotated["key_secret"]
