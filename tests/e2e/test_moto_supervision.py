"""The local stack's moto server dies: requests fail closed, the stack restarts
it with its journal, and every key and threat made before is still there.

The first test runs its own stack (the outage would disturb the shared one)
with a long restart delay, so the outage lasts long enough to probe on a
loaded machine, and kills that stack's moto server child with SIGKILL. The
second drives the supervisor alone: a restart that fails because the port is
taken is tried again until it succeeds.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from local.stack import StackConfig, StoreProcess
from tests.e2e.conftest import (
    LocalStack,
    assert_problem,
    create_key,
    free_port,
    key_headers,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

THREAT = {"type": "intrusion", "severity": "critical"}
OUTAGE_TIMEOUT = 120.0
# Long enough for the probes below, even on a loaded machine.
RESTART_DELAY = 8.0


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[LocalStack]:
    local = LocalStack(
        tmp_path / "state", JUPITER_MOTO_RESTART_DELAY=str(RESTART_DELAY)
    )
    local.state_dir.mkdir(parents=True)
    local.start()
    try:
        yield local
    finally:
        local.stop()


def stack_events(stack: LocalStack, name: str) -> list[dict[str, Any]]:
    """The stack's JSON log lines with ``"event": name``, oldest first."""
    found = []
    for line in stack.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == name:
            found.append(record)
    return found


def wait_for(what: str, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def moto_child(stack: LocalStack) -> int:
    """The pid of the stack's moto server, checked to be that stack's child."""
    started = stack_events(stack, "moto_server_started")
    assert len(started) == 1, started
    pid = int(started[0]["pid"])
    proc = Path(f"/proc/{pid}")
    assert b"local.moto_server" in (proc / "cmdline").read_bytes()
    parent = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
    assert int(parent) == stack.pid
    return pid


def refuses(port: int) -> bool:
    """Tell whether nothing listens on ``port`` any more."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def healthy(stack: LocalStack) -> bool:
    try:
        return requests.get(stack.url("/api/health"), timeout=10).status_code == 200
    except requests.RequestException:
        return False


def hour_used(stack: LocalStack, headers: dict[str, str]) -> int:
    response = requests.get(stack.url("/api/usage"), headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return int(response.json()["requests_this_hour"]["used"])


def unavailable(response: requests.Response) -> None:
    assert_problem(response, 503, "store_unavailable")
    assert int(response.headers["Retry-After"]) >= 1


def test_a_killed_moto_server_is_restarted_and_the_stack_keeps_its_state(
    private_stack: LocalStack,
) -> None:
    stack = private_stack
    key = create_key(
        stack, ["READ_THREATS", "WRITE_THREATS"], tier="ENTERPRISE", owner="org_moto"
    )
    headers = key_headers(key)
    created = requests.post(
        stack.url("/api/threats"),
        json={**THREAT, "target": "before-the-outage"},
        headers=headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    threat = created.json()
    used_before = hour_used(stack, headers)

    pid = moto_child(stack)
    os.kill(pid, signal.SIGKILL)
    wait_for("the moto server to go", lambda: refuses(stack.moto_port), 30)

    # The store is gone: every request that needs it fails closed.
    unavailable(requests.get(stack.url("/api/threats"), headers=headers, timeout=30))
    refused = requests.post(
        stack.url("/api/threats"),
        json={**THREAT, "target": "during-the-outage"},
        headers=headers,
        timeout=30,
    )
    unavailable(refused)
    forged = {**headers, "X-API-Key-Secret": "0" * 64}
    unavailable(requests.get(stack.url("/api/usage"), headers=forged, timeout=30))
    unavailable(requests.get(stack.url("/api/health"), timeout=30))
    assert stack_events(stack, "moto_server_restarted") == []

    wait_for("the stack to recover", lambda: healthy(stack), OUTAGE_TIMEOUT)
    # The supervisor logs the restart once the server has answered it, which
    # can be just after a request went through.
    wait_for(
        "the restart to be logged",
        lambda: bool(stack_events(stack, "moto_server_restarted")),
        30,
    )
    (exited,) = stack_events(stack, "moto_server_exited")
    assert (exited["pid"], exited["status"]) == (pid, -signal.SIGKILL)
    (restarted,) = stack_events(stack, "moto_server_restarted")
    assert restarted["pid"] != pid
    assert restarted["endpoint"] == f"http://127.0.0.1:{stack.moto_port}"
    assert restarted["down_seconds"] >= RESTART_DELAY

    # Everything made before is back; nothing refused was admitted or written.
    assert hour_used(stack, headers) == used_before + 1
    again = requests.get(
        stack.url(f"/api/threats/{threat['threat_id']}"), headers=headers, timeout=30
    )
    assert again.status_code == 200, again.text
    assert again.json() == threat
    listed = requests.get(
        stack.url("/api/threats"), params={"limit": 100}, headers=headers, timeout=30
    )
    assert listed.status_code == 200, listed.text
    targets = [t["target"] for t in listed.json()["threats"]]
    assert "before-the-outage" in targets
    assert "during-the-outage" not in targets
    admin = requests.get(stack.url("/api/keys"), headers=stack.admin, timeout=30)
    assert admin.status_code == 200, admin.text
    after = requests.post(
        stack.url("/api/threats"),
        json={**THREAT, "target": "after-the-outage"},
        headers=headers,
        timeout=30,
    )
    assert after.status_code == 201, after.text


def test_a_restart_that_fails_is_tried_again_until_the_server_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = StackConfig(
        api_port=free_port(),
        moto_port=free_port(),
        state_dir=tmp_path,
        endpoint_url=None,
        workers=1,
        restart_delay=0.2,
    )
    store = StoreProcess(config)
    caplog.set_level(logging.INFO, logger="local.stack")
    store.start()
    try:
        dynamodb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=store.url,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        dynamodb.create_table(
            TableName="supervised",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        first = store.pid
        assert first is not None
        # Someone else takes the port as the server dies: restarts fail.
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            os.kill(first, signal.SIGKILL)
            wait_for("the port", lambda: _bound(squatter, config.moto_port), 30)
            squatter.listen()
            wait_for(
                "a failed restart",
                lambda: bool(_events(caplog, "moto_server_restart_failed")),
                OUTAGE_TIMEOUT,
            )
        wait_for(
            "the restart",
            lambda: bool(_events(caplog, "moto_server_restarted")),
            OUTAGE_TIMEOUT,
        )
        (restarted,) = _events(caplog, "moto_server_restarted")
        assert restarted["attempt"] >= 2
        assert store.pid not in (None, first)
        assert dynamodb.list_tables()["TableNames"] == ["supervised"]
    finally:
        store.stop()
    assert refuses(config.moto_port)


def _bound(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def _events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    found = []
    for record in caplog.records:
        if record.name != "local.stack":
            continue
        fields = json.loads(record.getMessage())
        if fields.get("event") == name:
            found.append(fields)
    return found
