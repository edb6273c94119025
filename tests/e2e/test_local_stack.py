"""``make run``'s stack: health, the bootstrap admin key, state across restarts."""

from __future__ import annotations

import json
import re
import stat

import pytest
import requests

from tests.e2e.conftest import LocalStack, create_key, key_headers

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]


def test_health_answers_ok_with_a_reachable_store(stack: LocalStack) -> None:
    response = requests.get(stack.url("/api/health"), timeout=5)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["stage"] == "local"
    assert body["store"] == "reachable"
    assert response.headers["X-Request-Id"].startswith("req_")


def test_admin_key_file_holds_a_working_admin_key_readable_by_owner_only(
    stack: LocalStack,
) -> None:
    stored = json.loads(stack.admin_file.read_text())

    assert set(stored) == {"key_id", "key_secret"}
    assert stored["key_id"].startswith("jptr_")
    assert re.fullmatch(r"[0-9a-f]{64}", stored["key_secret"])
    assert stat.S_IMODE(stack.admin_file.stat().st_mode) == 0o600
    secret_file = stack.state_dir / "server-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    listed = requests.get(
        stack.url("/api/keys"),
        params={"owner_id": "local-admin"},
        headers=stack.admin,
        timeout=5,
    )
    assert listed.status_code == 200, listed.text
    (admin,) = [k for k in listed.json()["keys"] if k["key_id"] == stored["key_id"]]
    assert admin["permissions"] == ["ADMIN"]
    assert admin["tier"] == "ENTERPRISE"


def test_restart_keeps_keys_created_before(stack: LocalStack) -> None:
    key = create_key(stack, ["READ_THREATS"], owner="org_restart")
    admin_before = stack.admin_file.read_text()

    stack.restart()

    used = requests.get(stack.url("/api/usage"), headers=key_headers(key), timeout=5)
    assert used.status_code == 200, used.text
    assert used.json()["key_id"] == key["key_id"]
    assert stack.admin_file.read_text() == admin_before
    assert '"event":"moto_journal_replayed"' in stack.log()
    # The bootstrap key was found, not made again, so no secret is printed.
    assert json.loads(admin_before)["key_secret"] not in stack.stdout()
