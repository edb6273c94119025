"""Standard Webhooks signatures, checked against both reference libraries."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import svix.webhooks
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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


# ------------------------------------------------------------ properties

LIBRARIES = [standardwebhooks.Webhook, svix.webhooks.Webhook]
# Receivers hand the libraries text: bodies are UTF-8 (the service sends JSON).
json_bodies = st.dictionaries(
    st.text(max_size=10), st.one_of(st.none(), st.integers(), st.text(max_size=40))
).map(lambda doc: json.dumps(doc, ensure_ascii=False).encode())
bodies = st.one_of(json_bodies, st.text(max_size=2_000).map(str.encode))
ids = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
)
secrets_ = st.binary(min_size=1, max_size=64).map(
    lambda raw: "whsec_" + base64.b64encode(raw).decode()
)
# Any instant for the signature; within the libraries' five-minute tolerance of
# now where they also check the time.
instants = st.integers(0, 2**33)
drift = st.integers(-240, 240)
PROPERTIES = settings(max_examples=200, deadline=None)


def headers_now(
    secrets_in_force: list[str], webhook_id: str, body: bytes, offset: int
) -> dict[str, str]:
    return signed_headers(webhook_id, int(time.time()) + offset, body, secrets_in_force)


def verify(library: type, secret: str, body: bytes, headers: dict[str, str]) -> None:
    """Verify as a receiver would; any body, JSON or not (svix never parses)."""
    if library is standardwebhooks.Webhook:
        library(secret).verify(body, headers, json_parse=False)
    else:
        library(secret).verify(body, headers)


def forged(library: type, secret: str, body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verify(library, secret, body, headers)


@PROPERTIES
@given(secret=secrets_, webhook_id=ids, stamp=instants, body=bodies)
def test_any_signature_is_what_both_libraries_compute(
    secret: str, webhook_id: str, stamp: int, body: bytes
) -> None:
    when = datetime.fromtimestamp(stamp, UTC)
    ours = sign(secret, webhook_id, stamp, body)
    for library in LIBRARIES:
        assert library(secret).sign(webhook_id, when, body.decode()) == ours


@PROPERTIES
@given(secret=secrets_, webhook_id=ids, offset=drift, body=bodies)
def test_any_signed_delivery_verifies_with_both_libraries(
    secret: str, webhook_id: str, offset: int, body: bytes
) -> None:
    headers = headers_now([secret], webhook_id, body, offset)
    for library in LIBRARIES:
        verify(library, secret, body, headers)


@PROPERTIES
@given(new=secrets_, old=secrets_, webhook_id=ids, offset=drift, body=bodies)
def test_during_a_rotation_either_secret_verifies(
    new: str, old: str, webhook_id: str, offset: int, body: bytes
) -> None:
    headers = headers_now([new, old], webhook_id, body, offset)
    for library in LIBRARIES:
        verify(library, new, body, headers)
        verify(library, old, body, headers)


@PROPERTIES
@given(secret=secrets_, webhook_id=ids, offset=drift, body=bodies, data=st.data())
def test_any_altered_body_id_or_timestamp_fails_verification(
    secret: str, webhook_id: str, offset: int, body: bytes, data: st.DataObject
) -> None:
    headers = headers_now([secret], webhook_id, body, offset)
    other_body = data.draw(bodies.filter(lambda b: b != body))
    other_id = data.draw(ids.filter(lambda i: i != webhook_id))
    # Still inside the tolerance, so only the signature can refuse it.
    shift = data.draw(st.integers(-50, 50).filter(bool))
    moved = {
        **headers,
        "webhook-timestamp": str(int(headers["webhook-timestamp"]) + shift),
    }
    for library in LIBRARIES:
        forged(library, secret, other_body, headers)
        forged(library, secret, body, {**headers, "webhook-id": other_id})
        forged(library, secret, body, moved)


@PROPERTIES
@given(secret=secrets_, other=secrets_, webhook_id=ids, body=bodies)
def test_another_secret_never_verifies(
    secret: str, other: str, webhook_id: str, body: bytes
) -> None:
    assume(other != secret)
    headers = headers_now([secret], webhook_id, body, 0)
    for library in LIBRARIES:
        forged(library, other, body, headers)
