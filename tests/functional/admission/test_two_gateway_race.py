"""Two processes racing on one key never admit more than the limit.

No threads: each race is an explicit interleaving over moto (sequentially
correct). Gateway A builds its write from a belief, then, before that write
lands, gateway B (another process, its own belief cache) runs to completion;
then A's now-stale write lands. Each race is also run with a weakened limiter
plan, which over-admits under the very same interleaving: so it is the
conditional write, not the schedule, that holds the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.admission.gateway import (
    BeliefCache,
    Credentials,
    Gateway,
    Limiter,
)
from chalicelib.admission.ip_guard import IpGuard
from chalicelib.admission.plan import add_limiter
from chalicelib.admission.window import usage
from chalicelib.clock import FixedClock
from chalicelib.dynamo import Expression
from chalicelib.errors import RateLimited
from chalicelib.policy import Scope
from tests.functional.admission.conftest import at, key_item, set_limits
from tests.functional.conftest import make_key


class Interleaved:
    """The real client; before its next write lands, ``meanwhile`` runs."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meanwhile: list[Callable[[], None]] = []

    def update_item(self, **kwargs: Any) -> Any:
        while self.meanwhile:
            self.meanwhile.pop(0)()
        return self._client.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _placeholder(expr: Expression, attribute: str) -> str | None:
    return next((p for p, a in expr.names.items() if a == attribute), None)


def weakened(drop: Callable[[Expression, str], bool]) -> Limiter:
    """The real plan with the limiter conditions ``drop`` picks made vacuous.

    A dropped condition becomes ``(c) OR NOT (c)``: always true, and it still
    uses its placeholders, which DynamoDB insists on.
    """

    def limiter(expr: Expression, believed: dict[str, Any] | None, now: float) -> None:
        start = len(expr.conditions)
        add_limiter(expr, believed, now)
        for index in range(start, len(expr.conditions)):
            condition = expr.conditions[index]
            if drop(expr, condition):
                expr.conditions[index] = f"({condition}) OR NOT ({condition})"

    return limiter


def checked_in_process(
    expr: Expression, believed: dict[str, Any] | None, now: float
) -> None:
    """The tempting alternative: check the belief here, write unconditionally."""
    if believed is not None and usage(believed, now).refusing():
        raise RateLimited("full, by this process's belief", 1)
    weakened(lambda expr, condition: True)(expr, believed, now)


def _pins(attribute: str) -> Callable[[Expression, str], bool]:
    def drop(expr: Expression, condition: str) -> bool:
        name = _placeholder(expr, attribute)
        return name is not None and condition.startswith(f"{name} = ")

    return drop


def _moves(attribute: str) -> Callable[[Expression, str], bool]:
    def drop(expr: Expression, condition: str) -> bool:
        name = _placeholder(expr, attribute)
        return name is not None and condition.startswith(f"{name} < :")

    return drop


def _rolls(expr: Expression, condition: str) -> bool:
    # Past an hour every slot moves too, and any one condition on the state
    # rolled from stops the stale roll; so all of them go.
    return _pins("hw")(expr, condition) or any(
        _moves(slot)(expr, condition) for slot in ("bs", "ds", "ms")
    )


# Rolls not conditioned on the state they roll from (the newest minute, the
# slots): two processes rolling at once both subtract the leaving minutes.
unpinned_roll = weakened(_rolls)
# A new burst slot that resets the count without checking the slot moved on.
blind_slot_reset = weakened(_moves("bs"))


class Race:
    """One key, an observer gateway and two racing processes A and B."""

    def __init__(
        self, core: services_module.Services, clock: FixedClock, limiter: Limiter
    ) -> None:
        self.core, self.clock = core, clock
        self.headers = make_key(core, [Scope.READ_THREATS])
        self.key_id = self.headers["X-API-Key-ID"]
        self.credentials = Credentials(
            self.key_id, self.headers["X-API-Key-Secret"], "10.1.1.1"
        )
        self.interleaved = Interleaved(aws.dynamodb())
        self.beliefs = {"A": BeliefCache(), "B": BeliefCache()}
        self.a = self.gateway(self.interleaved, limiter, self.beliefs["A"])
        self.b = self.gateway(aws.dynamodb(), limiter, self.beliefs["B"])
        self.admitted: list[str] = []

    def gateway(self, client: Any, limiter: Limiter, belief: BeliefCache) -> Gateway:
        """A process: its own gateway and belief cache over ``client``."""
        config = self.core.settings
        guard = IpGuard(client, config.ip_guard_table, self.clock)
        return Gateway(
            client, config.keys_table, self.clock, guard, belief, limiter=limiter
        )

    def attempt(self, name: str) -> bool:
        gateway = self.a if name == "A" else self.b
        try:
            gateway.admit(self.credentials, Scope.READ_THREATS)
        except RateLimited:
            return False
        self.admitted.append(name)
        return True

    def share_belief(self) -> None:
        """Give both processes the item as it is now: the same belief."""
        item = key_item(self.core, self.key_id)
        for belief in self.beliefs.values():
            belief.put(self.key_id, dict(item))

    def a_with_b_landing_first(self) -> None:
        """A builds its write; B's whole admission lands; then A's write."""
        self.interleaved.meanwhile.append(self.b_attempts)
        self.attempt("A")

    def b_attempts(self) -> None:
        self.attempt("B")

    def fill(self, tries: int = 10) -> None:
        """Keep asking, alternating between the processes, well past the limit."""
        for index in range(tries):
            self.attempt("AB"[index % 2])


def same_minute_race(
    core: services_module.Services, clock: FixedClock, limiter: Limiter
) -> Race:
    clock.at = at("2026-11-30T12:00:05")
    race = Race(core, clock, limiter)
    set_limits(core, race.key_id, per_hour=3, burst=100)
    race.attempt("B")
    race.attempt("B")
    race.share_belief()  # both believe: 2 of 3 used, one more fits
    race.a_with_b_landing_first()
    return race


def test_same_minute_race_at_the_limit_admits_exactly_the_limit(
    core: services_module.Services, clock: FixedClock
) -> None:
    race = same_minute_race(core, clock, add_limiter)
    assert race.admitted == ["B", "B", "B"]  # A's stale write was refused
    assert key_item(core, race.key_id)["ht"] == 3


def test_same_minute_race_over_admits_when_the_limit_is_checked_in_process(
    core: services_module.Services, clock: FixedClock
) -> None:
    race = same_minute_race(core, clock, checked_in_process)
    assert len(race.admitted) == 4


def minute_roll_race(
    core: services_module.Services, clock: FixedClock, limiter: Limiter
) -> Race:
    clock.at = at("2026-11-30T12:00:05")
    race = Race(core, clock, limiter)
    set_limits(core, race.key_id, per_hour=3, burst=100)
    for _ in range(3):
        race.attempt("B")
    race.share_belief()  # both believe: minute 12:00 holds the hour's 3
    # 61 minutes on, minute 12:00 has left: both roll the window at once.
    clock.at = at("2026-11-30T13:01:05")
    race.admitted.clear()
    race.a_with_b_landing_first()
    race.fill()
    return race


def test_minute_rolled_by_both_processes_at_once_admits_exactly_the_limit(
    core: services_module.Services, clock: FixedClock
) -> None:
    race = minute_roll_race(core, clock, add_limiter)
    assert len(race.admitted) == 3
    assert key_item(core, race.key_id)["ht"] == 3


def test_minute_roll_over_admits_when_the_newest_minute_is_not_pinned(
    core: services_module.Services, clock: FixedClock
) -> None:
    race = minute_roll_race(core, clock, unpinned_roll)
    # Both rolls subtracted the leaving minute: the total went negative.
    assert len(race.admitted) > 3


def burst_roll_race(
    core: services_module.Services, clock: FixedClock, limiter: Limiter
) -> Race:
    clock.at = at("2026-11-30T12:00:01")
    race = Race(core, clock, limiter)
    set_limits(core, race.key_id, burst=2)
    race.attempt("B")
    race.attempt("B")
    race.share_belief()  # both believe: slot 12:00:00 is full
    clock.at = at("2026-11-30T12:00:11")
    race.admitted.clear()
    race.a_with_b_landing_first()
    race.fill()
    return race


def test_burst_slot_rolled_by_both_processes_at_once_admits_exactly_the_burst(
    core: services_module.Services, clock: FixedClock
) -> None:
    race = burst_roll_race(core, clock, add_limiter)
    assert len(race.admitted) == 2
    assert key_item(core, race.key_id)["bc"] == 2


def test_burst_slot_over_admits_when_a_new_slot_does_not_check_it_moved(
    core: services_module.Services, clock: FixedClock
) -> None:
    race = burst_roll_race(core, clock, blind_slot_reset)
    assert len(race.admitted) > 2


@pytest.mark.parametrize("racers", [3, 6])
def test_many_processes_with_one_stale_belief_admit_exactly_the_limit(
    core: services_module.Services, clock: FixedClock, racers: int
) -> None:
    """Each process's write is overtaken by the next process's whole admission."""
    clock.at = at("2026-11-30T12:00:05")
    race = Race(core, clock, add_limiter)
    set_limits(core, race.key_id, per_hour=4, burst=100)
    race.attempt("B")
    item = key_item(core, race.key_id)
    gateways = []
    for _ in range(racers):
        client, belief = Interleaved(aws.dynamodb()), BeliefCache()
        belief.put(race.key_id, dict(item))
        gateways.append((client, race.gateway(client, add_limiter, belief)))
    outcomes: list[bool] = []

    def admit(index: int) -> None:
        client, gateway = gateways[index]
        if index + 1 < len(gateways):
            client.meanwhile.append(lambda: admit(index + 1))
        try:
            gateway.admit(race.credentials, Scope.READ_THREATS)
            outcomes.append(True)
        except RateLimited:
            outcomes.append(False)

    admit(0)
    assert outcomes.count(True) == min(racers, 3)
    assert key_item(core, race.key_id)["ht"] == 1 + min(racers, 3)


def test_process_whose_clock_lags_the_slot_is_refused_not_failed(
    core: services_module.Services, clock: FixedClock
) -> None:
    """A clock 200 ms behind another process's is still told the true wait."""
    clock.at = at("2026-11-30T12:00:10")
    race = Race(core, clock, add_limiter)
    set_limits(core, race.key_id, burst=2)
    race.attempt("B")
    race.attempt("B")
    lagging = FixedClock(at("2026-11-30T12:00:09.8"))
    race.clock = lagging
    late = race.gateway(aws.dynamodb(), add_limiter, BeliefCache())
    with pytest.raises(RateLimited) as refused:
        late.admit(race.credentials, Scope.READ_THREATS)
    # The slot 12:00:10 holds the burst; it ends at 12:00:20, 10.2 s away.
    assert refused.value.retry_after == 11
