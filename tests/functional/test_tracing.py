"""Subsegments reach a real X-Ray recorder: the SDK's, with an emitter that keeps
what it would send to the daemon."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import tracing
from chalicelib.policy import Scope
from tests.functional.conftest import make_key


class KeptEntities:
    """An X-Ray emitter that keeps each finished segment instead of sending it."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(entity)

    def set_daemon_address(self, address: str) -> None:
        """Nothing is sent anywhere."""


@pytest.fixture
def xray(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, KeptEntities]]:
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.context import Context

    # The suite turns the SDK off; this test needs it on, then off again. The
    # SDK's own recorder is borrowed with a keeping emitter and its own context.
    monkeypatch.delenv("AWS_XRAY_SDK_ENABLED")
    global_sdk_config.set_sdk_enabled(True)
    saved = (xray_recorder.emitter, xray_recorder.context, xray_recorder.sampling)
    emitter = KeptEntities()
    xray_recorder.emitter = emitter
    xray_recorder.context = Context()
    xray_recorder.sampling = False
    previous = tracing.use_recorder(xray_recorder)
    try:
        yield xray_recorder, emitter
    finally:
        tracing.use_recorder(previous)
        xray_recorder.emitter, xray_recorder.context, xray_recorder.sampling = saved
        monkeypatch.setenv("AWS_XRAY_SDK_ENABLED", "false")
        global_sdk_config.set_sdk_enabled(False)


def test_a_request_records_an_admission_subsegment_in_its_segment(
    client: Client, svc: Any, xray: tuple[Any, KeptEntities]
) -> None:
    recorder, emitter = xray
    headers = make_key(svc, [Scope.READ_THREATS])

    recorder.begin_segment("jupiter-api")
    assert client.http.get("/api/threats", headers=headers).status_code == 200
    recorder.end_segment()

    (segment,) = emitter.sent
    recorded = segment.to_dict()
    (admission,) = [s for s in recorded["subsegments"] if s["name"] == "admission"]
    assert admission["annotations"] == {"scope": "READ_THREATS"}
    assert admission["in_progress"] is False
    assert "key_secret" not in repr(recorded)
    assert headers["X-API-Key-Secret"] not in repr(recorded)


def test_work_carried_to_pool_threads_is_traced_inside_its_subsegment(
    xray: tuple[Any, KeptEntities],
) -> None:
    recorder, emitter = xray

    def post(number: int) -> int:
        with recorder.in_subsegment(f"post {number}"):
            return number

    recorder.begin_segment("jupiter-api")
    with (
        tracing.subsegment("realtime.fanout", topic="threats"),
        ThreadPoolExecutor(2) as pool,
    ):
        futures = [pool.submit(tracing.carried(post), n) for n in range(3)]
        assert [f.result() for f in futures] == [0, 1, 2]
    recorder.end_segment()

    (segment,) = emitter.sent
    (fanout,) = segment.to_dict()["subsegments"]
    assert fanout["name"] == "realtime.fanout"
    posts = sorted(s["name"] for s in fanout["subsegments"])
    assert posts == ["post 0", "post 1", "post 2"]


def test_with_tracing_off_carried_work_is_the_work_itself() -> None:
    def post(number: int) -> int:
        return number

    previous = tracing.use_recorder(None)
    try:
        assert tracing.carried(post) is post
    finally:
        tracing.use_recorder(previous)
