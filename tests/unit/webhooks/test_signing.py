"""Standard Webhooks signatures, checked against both reference libraries."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import svix.webhooks

from chalicelib.webhooks.signing import (
    new_secret,
    sign,
    signed_headers,
    signing_key,
)

BODY = b'{"event_type":"threat.detected","event_id":"evt_1","data":{}}'


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(signing_key(secret)) == 32
    assert new_secret() != secret


def test_the_signature_matches_the_reference_implementation() -> None:
    secret, stamp = new_secret(), int(time.time())
    reference = standardwebhooks.Webhook(secret).sign(
        "evt_1", datetime.fromtimestamp(stamp, UTC), BODY.decode()
    )
    assert sign(secret, "evt_1", stamp, BODY) == reference


def test_the_spec_example_signature() -> None:
    # The example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


@pytest.mark.parametrize("library", [standardwebhooks.Webhook, svix.webhooks.Webhook])
def test_both_libraries_verify_the_headers(library: type) -> None:
    secret = new_secret()
    headers = signed_headers("evt_1", int(time.time()), BODY, [secret])
    library(secret).verify(BODY, headers)


@pytest.mark.parametrize("library", [standardwebhooks.Webhook, svix.webhooks.Webhook])
def test_two_secrets_give_two_signatures_each_verifying(library: type) -> None:
    new, old = new_secret(), new_secret()
    headers = signed_headers("evt_1", int(time.time()), BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    library(new).verify(BODY, headers)
    library(old).verify(BODY, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        library(new_secret()).verify(BODY, headers)


def test_a_changed_body_does_not_verify() -> None:
    secret = new_secret()
    headers = signed_headers("evt_1", int(time.time()), BODY, [secret])
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(BODY + b" ", headers)


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        signing_key("whsec_not*base64")


def test_the_key_is_the_decoded_part_after_the_prefix() -> None:
    raw = bytes(range(24))
    secret = "whsec_" + base64.b64encode(raw).decode()
    assert signing_key(secret) == raw
