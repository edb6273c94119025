"""Each stage's IAM policy grants exactly what the test suite's AWS calls needed.

``make test`` runs the whole suite with ``JUPITER_RECORD_AWS_ACTIONS`` set (see
:mod:`tests.support.policy`), then this module on its own: pytest's ``addopts``
leave ``tests/policy`` out of every other run, since it reads what the whole
suite recorded. It fails when the recording is missing or did not come from
both the in-process tests and the local stack, when a stage's policy does not
allow a recorded call on that stage's resource, and when the policy grants an
action or resource that neither a recorded call nor one of the platform's calls
(``PLATFORM_CALLS``) needed.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

from chalicelib.aws_actions import RECORD_VARIABLE, Permission
from tests.support.policy import (
    DEPLOYED,
    PLATFORM_CALLS,
    ROOT,
    allows,
    denied,
    platform_arn,
    platform_calls_made,
    read_recording,
    undeclared,
    unneeded,
)

RECORDING = Path(os.environ.get(RECORD_VARIABLE) or ROOT / "dist" / "aws-actions")


@cache
def recorded() -> frozenset[Permission]:
    """Everything recorded, wherever; fails the test if there is nothing."""
    every = frozenset().union(*read_recording(RECORDING).values())
    assert every, f"nothing recorded in {RECORDING}: run make test"
    return every


def test_recording_comes_from_the_in_process_tests_and_the_local_stack() -> None:
    for origin, permissions in read_recording(RECORDING).items():
        assert permissions, (
            f"no AWS call recorded by the {origin} in {RECORDING}: run the whole "
            f"suite first with {RECORD_VARIABLE} set (make test does)"
        )


def test_every_recorded_resource_is_declared_for_every_stage() -> None:
    assert not undeclared(recorded()), "calls on resources no stage declares"


@pytest.mark.parametrize("stage", DEPLOYED)
def test_policy_allows_every_recorded_call(stage: str) -> None:
    assert not denied(stage, recorded()), f"{stage}'s policy denies these calls"


@pytest.mark.parametrize("stage", DEPLOYED)
def test_policy_grants_no_action_or_resource_no_call_needed(stage: str) -> None:
    assert not unneeded(stage, recorded()), f"{stage}'s policy grants these unused"


@pytest.mark.parametrize("stage", DEPLOYED)
def test_policy_allows_the_platforms_calls(stage: str) -> None:
    refused = [
        (call.action, call.reason)
        for call in PLATFORM_CALLS
        if not allows(stage, call.action, platform_arn(call, stage))
    ]

    assert not refused


def test_the_code_itself_makes_none_of_the_platforms_calls() -> None:
    made = platform_calls_made(recorded())

    assert not made, "the code makes these: take them out of PLATFORM_CALLS"
