"""The retry schedule: defaults per stage, configuration, jitter, SQS hops."""

from __future__ import annotations

import pytest

from chalicelib.config import ENVIRONMENT, Settings, load_settings
from chalicelib.errors import ConfigurationError
from chalicelib.webhooks.schedule import (
    DEFAULT_SCHEDULE,
    LOCAL_SCHEDULE,
    MAX_HOP_SECONDS,
    Schedule,
    hop,
)


def settings(**extra: str) -> Settings:
    """Settings with every required variable set to a placeholder, plus ``extra``."""
    required = {
        ENVIRONMENT[name]: f"placeholder-{name}"
        for name, field in Settings.model_fields.items()
        if field.is_required()
    }
    return load_settings({**required, "JUPITER_SERVER_SECRET": "x" * 40, **extra})


def test_the_default_schedule_is_the_documented_one() -> None:
    assert DEFAULT_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 86400)
    config = settings(JUPITER_STAGE="prod")
    assert Schedule.from_settings(config).delays == DEFAULT_SCHEDULE


def test_the_local_stage_compresses_the_schedule() -> None:
    config = settings(JUPITER_STAGE="local")
    schedule = Schedule.from_settings(config)
    assert schedule.delays == LOCAL_SCHEDULE
    assert schedule.attempts == len(DEFAULT_SCHEDULE)
    assert sum(LOCAL_SCHEDULE) < 30


def test_a_configured_schedule_wins() -> None:
    config = settings(JUPITER_STAGE="dev", JUPITER_WEBHOOK_SCHEDULE="0, 2, 4")
    assert Schedule.from_settings(config).delays == (0, 2, 4)


@pytest.mark.parametrize("value", ["", "a,b", "1,-2", ",".join(["1"] * 21)])
def test_a_malformed_schedule_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigurationError, match="JUPITER_WEBHOOK_SCHEDULE"):
        settings(JUPITER_WEBHOOK_SCHEDULE=value)


def test_loopback_may_be_allowed_only_in_the_local_stage() -> None:
    with pytest.raises(ConfigurationError, match="JUPITER_WEBHOOK_ALLOW_LOOPBACK"):
        settings(JUPITER_STAGE="prod", JUPITER_WEBHOOK_ALLOW_LOOPBACK="true")
    config = settings(JUPITER_STAGE="local", JUPITER_WEBHOOK_ALLOW_LOOPBACK="true")
    assert config.webhook_allow_loopback is True


def test_jitter_spreads_each_wait_within_its_bound() -> None:
    extremes = iter([0.9, 1.1])
    schedule = Schedule((0, 100, 100), 0.1, uniform=lambda low, high: next(extremes))
    assert schedule.wait_before(0) == 0
    assert schedule.wait_before(1) == pytest.approx(90)
    assert schedule.wait_before(2) == pytest.approx(110)


def test_real_jitter_stays_within_its_bound() -> None:
    schedule = Schedule((0, 300), 0.1)
    waits = [schedule.wait_before(1) for _ in range(200)]
    assert all(270 <= w <= 330 for w in waits)
    assert len(set(waits)) > 1


@pytest.mark.parametrize(
    ("remaining", "delay"),
    [
        (-3.0, 0),
        (0.0, 0),
        (0.2, 1),
        (5.0, 5),
        (899.5, 900),
        (86_400.0, MAX_HOP_SECONDS),
    ],
)
def test_a_hop_is_whole_seconds_and_at_most_900(remaining: float, delay: int) -> None:
    assert hop(remaining) == delay
