"""The demo threat feed ``make run`` seeds on its first start.

A few hundred threats over the last 30 days, in a realistic mix of types and
severities, most of the older ones resolved a few hours after detection. The
threats are batch-written with the counters their history adds up to (built
by the same functions the service uses, so analytics match them exactly) but
without events: they are history, not news, and a start should not broadcast
hundreds of old threats. A marker in the state directory keeps a restart from
seeding twice.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.analytics import buckets, counters
from chalicelib.dynamo import to_item
from chalicelib.threats import listing
from chalicelib.threats.models import CreateThreatRequest, Severity, ThreatType
from chalicelib.threats.service import (
    FAMILY,
    detection_counts,
    mark_resolved,
    new_item,
    resolution_counts,
)

MARKER = "demo-feed-seeded"
COUNT = 300
DAYS = 30
OWNER = "local-demo"
BATCH = 25

TYPES = {
    ThreatType.PHISHING: 25,
    ThreatType.MALWARE: 20,
    ThreatType.INTRUSION: 15,
    ThreatType.DDOS: 10,
    ThreatType.RANSOMWARE: 8,
    ThreatType.DATA_EXFILTRATION: 8,
    ThreatType.INSIDER: 6,
    ThreatType.OTHER: 8,
}
SEVERITIES = {
    Severity.LOW: 30,
    Severity.MEDIUM: 35,
    Severity.HIGH: 25,
    Severity.CRITICAL: 10,
}
TARGETS = [
    "payments-db-01",
    "vpn-gw-02",
    "mail-relay-01",
    "hr-portal",
    "k8s-node-17",
    "build-runner-04",
    "crm-api",
    "ceo-laptop",
    "edge-lb-eu-1",
    "backup-vault",
]
DESCRIPTIONS = {
    ThreatType.PHISHING: "credential-harvesting email campaign spoofing the SSO page",
    ThreatType.MALWARE: "trojan beaconing to a known command-and-control domain",
    ThreatType.INTRUSION: "brute-force login followed by a successful SSH session",
    ThreatType.DDOS: "SYN flood above 2 Gbit/s against the public edge",
    ThreatType.RANSOMWARE: "mass file renames with a ransom note dropped",
    ThreatType.DATA_EXFILTRATION: "large outbound transfer to an unknown storage host",
    ThreatType.INSIDER: "bulk download of customer records outside working hours",
    ThreatType.OTHER: "anomalous process tree flagged by the EDR",
}
# Documentation address ranges (RFC 5737): never real hosts.
NETWORKS = ("192.0.2", "198.51.100", "203.0.113")


@dataclass(frozen=True)
class DemoThreat:
    """One seeded threat: what was reported, when, and when it was resolved."""

    request: CreateThreatRequest
    detected: float
    resolved: float | None


def plan(now: float, count: int = COUNT, seed: int = 2026) -> list[DemoThreat]:
    """Return ``count`` threats over the last ``DAYS`` days, oldest first."""
    rng = random.Random(seed)  # noqa: S311 - a repeatable demo, not a secret
    threats = []
    for _ in range(count):
        # Denser toward the present, as a live feed looks.
        age = DAYS * 86_400 * rng.random() ** 1.6
        detected = now - age
        kind = rng.choices(list(TYPES), weights=list(TYPES.values()))[0]
        severity = rng.choices(list(SEVERITIES), weights=list(SEVERITIES.values()))[0]
        request = CreateThreatRequest(
            type=kind,
            severity=severity,
            source_ip=f"{rng.choice(NETWORKS)}.{rng.randint(1, 254)}",
            target=rng.choice(TARGETS),
            description=DESCRIPTIONS[kind],
            indicators=[
                f"{rng.getrandbits(128):032x}",
                f"cdn-{rng.getrandbits(24):06x}.example.net",
            ],
        )
        took = rng.lognormvariate(9.5, 1.0)  # median about 3.7 hours
        resolved = detected + took if rng.random() < 0.8 else None
        if resolved is not None and resolved >= now - 60:
            resolved = None
        threats.append(DemoThreat(request, detected, resolved))
    return sorted(threats, key=lambda t: t.detected)


def seed(state_dir: Path, now: float, count: int = COUNT) -> int:
    """Seed the feed once per state directory; return how many threats."""
    marker = state_dir / MARKER
    if marker.exists():
        return 0
    from chalicelib import aws
    from chalicelib.config import settings

    config = settings()
    client = aws.dynamodb()
    items, totals = _history(plan(now, count), now)
    for offset in range(0, len(items), BATCH):
        batch = [
            {"PutRequest": {"Item": to_item(i)}} for i in items[offset : offset + BATCH]
        ]
        _write_batch(client, config.threats_table, batch)
    for key, (increments, ttl) in totals.items():
        update = counters.bump(config.aggregates_table, key, increments, ttl)
        client.update_item(**update["Update"])
    client.update_item(
        TableName=config.aggregates_table,
        Key={"pk": {"S": listing.CATALOG_KEY}},
        UpdateExpression="ADD months :m",
        ExpressionAttributeValues={":m": {"SS": sorted({str(i["tp"]) for i in items})}},
    )
    marker.write_text(f"{len(items)}\n")
    return len(items)


def _history(
    threats: list[DemoThreat], now: float
) -> tuple[list[dict[str, Any]], dict[str, tuple[dict[str, int], int]]]:
    """Return the threat items and the counters their history adds up to.

    The same functions the service uses build both, so the analytics of the
    seeded feed are exactly those of threats reported and resolved live.
    """
    items = []
    totals: dict[str, tuple[dict[str, int], int]] = {}
    for threat in threats:
        item = new_item(threat.request, threat.detected, threat.detected, OWNER)
        _count(totals, threat.detected, now, detection_counts(item))
        if threat.resolved is not None:
            mark_resolved(item, int(threat.resolved * 1000), "contained by the SOC")
            _count(totals, threat.resolved, now, resolution_counts(item))
        items.append(item)
    return items, totals


def _count(
    totals: dict[str, tuple[dict[str, int], int]],
    at: float,
    now: float,
    increments: dict[str, int],
) -> None:
    for granularity in buckets.live(at, now):
        start = granularity.start(at)
        key = buckets.key(FAMILY, granularity, start)
        ttl = start + granularity.seconds + granularity.retention
        sums = totals.setdefault(key, ({}, ttl))[0]
        for name, amount in increments.items():
            sums[name] = sums.get(name, 0) + amount


def _write_batch(client: Any, table: str, batch: list[dict[str, Any]]) -> None:
    pending: Any = {table: batch}
    for _ in range(10):
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
        if not pending:
            return
        time.sleep(0.1)
    raise RuntimeError("the store kept refusing the demo feed")
