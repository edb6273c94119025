"""Connection slots under deterministic interleavings (moto, no threads).

A wrapper runs a competing claim or release right after a claim's read, which
is exactly the window two Lambda containers could race through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.clock import FixedClock
from chalicelib.errors import StoreUnavailable, TooManyConnections
from chalicelib.realtime.slots import ConnectionSlots

KEY = "jptr_" + "k" * 24
EXPIRES = 1_796_007_200


class Interleaved:
    """A DynamoDB client that runs ``meanwhile`` after each slot read."""

    def __init__(self, client: Any, meanwhile: list[Callable[[], None]]) -> None:
        self._client = client
        self._meanwhile = meanwhile

    def get_item(self, **kwargs: Any) -> Any:
        response = self._client.get_item(**kwargs)
        if self._meanwhile:
            self._meanwhile.pop(0)()
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def always_alive(connection_id: str) -> bool:
    return True


@pytest.fixture
def plain(aws_env: dict[str, str], clock: FixedClock) -> ConnectionSlots:
    return ConnectionSlots(aws.dynamodb(), aws_env["JUPITER_CONNECTIONS_TABLE"], clock)


def racing(
    aws_env: dict[str, str], clock: FixedClock, meanwhile: list[Callable[[], None]]
) -> ConnectionSlots:
    client = Interleaved(aws.dynamodb(), meanwhile)
    return ConnectionSlots(client, aws_env["JUPITER_CONNECTIONS_TABLE"], clock)


def test_two_claims_for_the_last_slot_cannot_both_win(
    aws_env: dict[str, str], clock: FixedClock, plain: ConnectionSlots
) -> None:
    rival = lambda: plain.claim(KEY, "b=", 1, EXPIRES, always_alive)  # noqa: E731
    slots = racing(aws_env, clock, [rival])

    with pytest.raises(TooManyConnections):
        slots.claim(KEY, "a=", 1, EXPIRES, always_alive)

    assert plain.holders(KEY) == {"b=": EXPIRES}


def test_interleaved_claims_under_the_limit_both_count(
    aws_env: dict[str, str], clock: FixedClock, plain: ConnectionSlots
) -> None:
    rival = lambda: plain.claim(KEY, "b=", 2, EXPIRES, always_alive)  # noqa: E731
    slots = racing(aws_env, clock, [rival])

    held = slots.claim(KEY, "a=", 2, EXPIRES, always_alive)

    assert held == 2
    assert plain.holders(KEY).keys() == {"a=", "b="}


def test_release_during_a_claim_is_not_undone(
    aws_env: dict[str, str], clock: FixedClock, plain: ConnectionSlots
) -> None:
    plain.claim(KEY, "x=", 2, EXPIRES, always_alive)
    slots = racing(aws_env, clock, [lambda: plain.release(KEY, "x=")])

    # The claim read {x}; writing back {x, a} would resurrect x.
    slots.claim(KEY, "a=", 2, EXPIRES, always_alive)

    assert plain.holders(KEY) == {"a=": EXPIRES}


def test_dead_holder_is_pruned_in_the_claiming_write(
    plain: ConnectionSlots,
) -> None:
    plain.claim(KEY, "dead=", 1, EXPIRES, always_alive)

    plain.claim(KEY, "new=", 1, EXPIRES, lambda c: c != "dead=")

    assert plain.holders(KEY) == {"new=": EXPIRES}


def test_holders_are_not_probed_below_the_limit(plain: ConnectionSlots) -> None:
    probed: list[str] = []
    plain.claim(KEY, "a=", 3, EXPIRES, always_alive)

    plain.claim(KEY, "b=", 3, EXPIRES, lambda c: probed.append(c) or True)

    assert probed == []


def test_releasing_a_connection_without_a_slot_does_nothing(
    plain: ConnectionSlots,
) -> None:
    plain.release(KEY, "never=")
    plain.claim(KEY, "a=", 1, EXPIRES, always_alive)
    plain.release(KEY, "never=")

    assert plain.holders(KEY) == {"a=": EXPIRES}


def test_endless_contention_gives_up_with_store_unavailable(
    aws_env: dict[str, str], clock: FixedClock, plain: ConnectionSlots
) -> None:
    rivals = [
        (lambda n=n: plain.claim(KEY, f"r{n}=", 100, EXPIRES, always_alive))
        for n in range(10)
    ]
    slots = racing(aws_env, clock, rivals)

    with pytest.raises(StoreUnavailable):
        slots.claim(KEY, "a=", 100, EXPIRES, always_alive)
