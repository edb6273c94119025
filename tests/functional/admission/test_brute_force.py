"""Failed authentications are limited per source address, progressively."""

from __future__ import annotations

from chalice.test import Client

from chalicelib import services as services_module
from chalicelib.admission.gateway import Credentials
from chalicelib.clock import FixedClock
from chalicelib.policy import Scope
from tests.functional.admission.conftest import at, key_item, problem
from tests.functional.conftest import build_services, make_key

WRONG = "0" * 64
THRESHOLD = 10


def fail(http: Client, key: dict[str, str], times: int) -> None:
    guess = {**key, "X-API-Key-Secret": WRONG}
    for _ in range(times):
        problem(http.http.get("/api/usage", headers=guess), 401, "invalid_api_key")


def test_address_is_locked_out_after_repeated_failures_even_with_a_good_key(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    clock.at = at("2026-11-30T12:00:01")
    key = make_key(core, [Scope.READ_THREATS])
    fail(http, key, THRESHOLD)
    refused = http.http.get("/api/usage", headers=key)
    document = problem(refused, 429, "too_many_failed_attempts")
    assert refused.headers["Retry-After"] == "30"
    assert document["retry_after"] == 30
    assert key_item(core, key["X-API-Key-ID"])["ht"] == 0

    clock.advance(29)
    assert http.http.get("/api/usage", headers=key).headers["Retry-After"] == "1"
    clock.advance(1)
    assert http.http.get("/api/usage", headers=key).status_code == 200


def test_failures_below_the_threshold_do_not_lock(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    clock.at = at("2026-11-30T12:00:01")
    key = make_key(core, [Scope.READ_THREATS])
    fail(http, key, THRESHOLD - 1)
    assert http.http.get("/api/usage", headers=key).status_code == 200


def test_every_kind_of_bad_credential_counts(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    clock.at = at("2026-11-30T12:00:01")
    key = make_key(core, [Scope.READ_THREATS])
    kinds = [
        {},
        {"X-API-Key-ID": "jptr_" + "u" * 24, "X-API-Key-Secret": WRONG},
        {**key, "X-API-Key-Secret": WRONG},
        {**key, "X-API-Key-Secret": "not-hex"},
    ]
    for index in range(THRESHOLD):
        http.http.get("/api/usage", headers=kinds[index % len(kinds)])
    problem(http.http.get("/api/usage", headers=key), 429, "too_many_failed_attempts")


def test_lockouts_double_for_repeat_offenders(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    clock.at = at("2026-11-30T12:00:01")
    key = make_key(core, [Scope.READ_THREATS])
    waits = []
    for _ in range(3):
        fail(http, key, THRESHOLD)
        refused = http.http.get("/api/usage", headers=key)
        problem(refused, 429, "too_many_failed_attempts")
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(waits[-1])
    assert waits == [30, 60, 120]


def test_other_addresses_are_not_locked_out(
    http: Client, core: services_module.Services, clock: FixedClock
) -> None:
    clock.at = at("2026-11-30T12:00:01")
    key = make_key(core, [Scope.READ_THREATS])
    fail(http, key, THRESHOLD)
    elsewhere = Credentials(
        key["X-API-Key-ID"], key["X-API-Key-Secret"], "198.51.100.9"
    )
    assert core.gateway.admit(elsewhere, None).key_id == key["X-API-Key-ID"]


def test_another_process_learns_the_lockout_at_its_first_failure(
    http: Client,
    core: services_module.Services,
    clock: FixedClock,
    aws_env: dict[str, str],
) -> None:
    clock.at = at("2026-11-30T12:00:01")
    key = make_key(core, [Scope.READ_THREATS])
    fail(http, key, THRESHOLD)
    other = build_services(aws_env, clock)
    with services_module.override(other):
        # This process has not seen the lockout yet: one more guess, refused.
        fail(http, key, 1)
        refused = http.http.get("/api/usage", headers=key)
    problem(refused, 429, "too_many_failed_attempts")
    assert refused.headers["Retry-After"] == "30"
