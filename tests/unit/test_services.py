"""Services: each role built on first use, and swapped in copies for tests."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.clock import FixedClock
from chalicelib.config import load_settings
from chalicelib.services import Services
from tests.unit.test_config import valid_environment


@pytest.fixture
def built() -> Services:
    # No role makes a call when it is built, so any object stands in for the client.
    client: Any = object()
    return Services(load_settings(valid_environment()), FixedClock(0.0), client)


def test_a_role_is_built_once_on_first_use(built: Services) -> None:
    assert "gateway" not in vars(built)

    assert built.gateway is built.gateway
    assert "gateway" in vars(built)
    assert "webhooks" not in vars(built)


def test_a_copy_shares_built_roles_and_uses_the_swapped_ones(built: Services) -> None:
    requests = built.requests
    swapped: Any = object()

    copy = built.replacing(gateway=swapped)

    assert copy.gateway is swapped
    assert copy.requests is requests
    assert built.gateway is not swapped


def test_swapping_something_that_is_not_a_role_is_refused(built: Services) -> None:
    with pytest.raises(TypeError, match="not a role of Services: gatway"):
        built.replacing(gatway=object())
