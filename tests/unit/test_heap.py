"""The collector held off through a Lambda cold start, then frozen and resumed."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import heap

LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "jupiter-api-dev"}


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    """Leave the collector as the test found it, and nothing frozen."""
    heap.release()
    frozen = gc.get_freeze_count()
    yield
    heap.release()
    gc.enable()
    if gc.get_freeze_count() > frozen:
        gc.unfreeze()


def test_in_lambda_the_collector_is_held_until_release() -> None:
    assert heap.hold(LAMBDA) is True
    assert not gc.isenabled()

    heap.release()

    assert gc.isenabled()


def test_release_freezes_what_is_alive() -> None:
    heap.hold(LAMBDA)
    alive = [[] for _ in range(100)]

    heap.release()

    assert gc.get_freeze_count() >= len(alive)


def test_outside_lambda_nothing_is_held() -> None:
    before = gc.get_freeze_count()

    assert heap.hold({}) is False
    assert gc.isenabled()

    heap.release()

    assert gc.get_freeze_count() == before


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    before = gc.get_freeze_count()
    gc.disable()

    assert heap.hold(LAMBDA) is False
    heap.release()

    assert not gc.isenabled()
    assert gc.get_freeze_count() == before


def test_a_second_hold_is_a_no_op() -> None:
    assert heap.hold(LAMBDA) is True
    assert heap.hold(LAMBDA) is False

    heap.release()

    assert gc.isenabled()


def test_the_middleware_releases_when_the_first_invocation_ends() -> None:
    heap.hold(LAMBDA)
    seen: list[bool] = []

    def handler(event: Any) -> str:
        seen.append(gc.isenabled())
        return "answered"

    assert heap.after_first_invocation({}, handler) == "answered"
    assert seen == [False]
    assert gc.isenabled()


def test_the_middleware_releases_when_the_invocation_raises() -> None:
    heap.hold(LAMBDA)

    def handler(event: Any) -> str:
        raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError, match="the handler failed"):
        heap.after_first_invocation({}, handler)

    assert gc.isenabled()
