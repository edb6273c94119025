"""SSRF: URL forms refused at registration (400) and addresses refused at delivery."""

from __future__ import annotations

import time

from chalice.test import Client

from chalicelib import services as services_module
from chalicelib.events.outbox import DomainEvent
from local.sqs import QueueConsumer
from tests.functional.webhooks.conftest import call, fake_dns, install, pump, register
from tests.functional.webhooks.receiver import Receiver

DNS = {
    "hooks.example": ["93.184.216.34"],
    "internal.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.216.34", "127.0.0.1"],
    "v6-private.example": ["fd12:3456::1"],
    "mapped.example": ["::ffff:192.168.0.1"],
    "localhost": ["127.0.0.1", "::1"],
}

# (URL, a phrase the refusal must contain)
REFUSED = [
    ("http://2130706433/", "non-canonical spelling of the IPv4 address 127.0.0.1"),
    ("http://017700000001/", "non-canonical spelling of the IPv4 address 127.0.0.1"),
    ("http://0x7f000001/", "non-canonical spelling of the IPv4 address 127.0.0.1"),
    ("http://0x7f.1/", "non-canonical spelling of the IPv4 address 127.0.0.1"),
    ("http://127.1/", "non-canonical spelling of the IPv4 address 127.0.0.1"),
    ("http://0177.0.0.1/", "non-canonical spelling of the IPv4 address 127.0.0.1"),
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://localhost/hook", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:169.254.169.254]/", "link-local (cloud metadata), embedded"),
    ("http://[::ffff:127.0.0.1]/", "loopback, embedded in IPv6"),
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local (cloud metadata), embedded"),
    ("http://[2002:a9fe:a9fe::1]/", "6to4"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"),
    ("http://[fd00::1]/", "private (unique local)"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "zone identifiers"),
    ("http://[ff02::1]/", "multicast"),
    ("http://169.254.169.254/latest/meta-data/", "link-local (cloud metadata)"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "shared (carrier-grade NAT)"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://internal.example/hook", "resolves to 10.1.2.3, which is private"),
    ("http://metadata.example/", "resolves to 169.254.169.254"),
    ("http://mixed.example/", "resolves to 127.0.0.1, which is loopback"),
    ("http://v6-private.example/", "unique local"),
    ("http://mapped.example/", "private, embedded in IPv6"),
    ("http://nowhere.example/", "does not resolve"),
    ("ftp://hooks.example/", "scheme 'ftp' is not https"),
    ("file:///etc/passwd", "scheme 'file' is not https"),
    ("gopher://hooks.example/", "scheme 'gopher' is not https"),
    ("javascript:alert(1)//x", "scheme 'javascript' is not https"),
    ("http://user:pw@hooks.example/", "user information"),
    ("http://hooks.example@127.0.0.1/", "user information"),
    ("http://127.0.0.1#@hooks.example/", "fragment"),
    ("http://hooks.example\\@127.0.0.1/", "'\\'"),
    ("http://hooks.example :80/", "whitespace"),
    ("http://hooks.example:0/", "port"),
    ("http://hooks.example:70000/", "port"),
    ("http://bücher.example/", "punycode"),
    ("http:///hook", "no host"),
]


def test_registration_refuses_every_dangerous_url_form_with_a_clear_400(
    client: Client, key: dict[str, str], svc: services_module.Services
) -> None:
    # One test over the whole table: each case costs one request, not a
    # freshly provisioned store. Every mismatch is listed, not just the first.
    install(svc, resolver=fake_dns(DNS), JUPITER_WEBHOOK_ALLOW_LOOPBACK="false")
    assert len(REFUSED) >= 20
    mismatches = []
    for url, reason in REFUSED:
        body = {"url": url, "events": ["*"]}
        status, problem = call(client, "POST", "/api/webhooks", key, body)
        errors = problem.get("errors") or [{}]
        message = str(errors[0].get("message"))
        if (
            status != 400
            or problem["code"] != "validation_error"
            or errors[0].get("field") != "body.url"
            or reason not in message
        ):
            mismatches.append((url, status, message))
    assert mismatches == []


def test_a_public_name_is_accepted(
    client: Client, key: dict[str, str], svc: services_module.Services
) -> None:
    install(svc, resolver=fake_dns(DNS), JUPITER_WEBHOOK_ALLOW_LOOPBACK="false")
    created = register(client, key, "http://hooks.example/hook")
    assert created["url"] == "http://hooks.example/hook"


def test_a_name_that_turns_private_after_registration_is_refused_at_delivery(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
) -> None:
    answers = dict(DNS)
    hooks = install(svc, resolver=fake_dns(answers))
    endpoint = register(client, key, "http://hooks.example/hook")
    answers["hooks.example"] = ["169.254.169.254"]  # DNS rebinding
    hooks.sink.deliver(DomainEvent("quota.warning", {"owner_id": "org_a"}, time.time()))
    pump(consumer, lambda: consumer.poll_once() == 0)

    path = f"/api/webhooks/{endpoint['webhook_id']}/deliveries"
    status, log = call(client, "GET", path, key)
    assert status == 200
    (attempt,) = log["attempts"]
    assert attempt["outcome"] == "refused"
    assert attempt["status_code"] is None
    assert attempt["error"] == (
        "refused: hooks.example resolves to 169.254.169.254,"
        " which is link-local (cloud metadata)"
    )
    path = f"{path}/{attempt['delivery_id']}"
    _status, state = call(client, "GET", path, key)
    assert state["status"] == "failed"


def test_loopback_is_dialled_only_when_the_local_stage_allows_it(
    client: Client,
    key: dict[str, str],
    svc: services_module.Services,
    consumer: QueueConsumer,
) -> None:
    receiver = Receiver().start()
    try:
        hooks = install(svc)
        endpoint = register(client, key, receiver.url)
        install(svc, JUPITER_WEBHOOK_ALLOW_LOOPBACK="false")
        hooks.sink.deliver(DomainEvent("quota.warning", {"owner_id": "org_a"}, 0.0))
        pump(consumer, lambda: consumer.poll_once() == 0)
        assert receiver.received == []
        path = f"/api/webhooks/{endpoint['webhook_id']}/deliveries"
        _status, log = call(client, "GET", path, key)
        assert "loopback" in log["attempts"][0]["error"]
    finally:
        receiver.stop()
