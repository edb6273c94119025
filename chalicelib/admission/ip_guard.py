"""Brute-force protection: failed authentications are limited per source IP.

Each failure is counted in a fixed five-minute window on the address's item.
Past ``threshold`` failures the address is locked out, for 30 s the first
time and twice as long each time after (capped at an hour); the level decays
when the item's TTL removes it a day after the last failure.

Checking every request against the table would add a read to the hot path,
so a lockout is learned from the failure write itself and remembered by the
process until it ends. Another process learns it at that address's next
failure there, so an attacker gains at most one extra guess per process.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs
from chalicelib.clock import Clock
from chalicelib.dynamo import from_item
from chalicelib.errors import RateLimited

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 300
BASE_LOCKOUT_SECONDS = 30
MAX_LOCKOUT_SECONDS = 3600
FORGET_AFTER_SECONDS = 86_400


class IpGuard:
    """Counts failed authentications per address and enforces lockouts."""

    def __init__(
        self, client: DynamoDBClient, table: str, clock: Clock, threshold: int = 10
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        self._threshold = threshold
        self._locked_until: dict[str, float] = {}

    def check(self, source_ip: str) -> None:
        """Refuse an address that this process knows to be locked out."""
        until = self._locked_until.get(source_ip)
        if until is None:
            return
        now = self._clock.now()
        if until <= now:
            del self._locked_until[source_ip]
            return
        raise RateLimited(
            "too many failed authentication attempts from this address",
            max(1, math.ceil(until - now)),
            "too_many_failed_attempts",
        )

    def record_failure(self, source_ip: str) -> None:
        """Count one failure; lock the address out past the threshold."""
        now = self._clock.now()
        window = int(now // WINDOW_SECONDS)
        try:
            item = self._count(source_ip, window, now)
            if int(item["fc"]) >= self._threshold and int(item.get("bu", 0)) <= now:
                item = self._lock(source_ip, item, now)
        except (ClientError, BotoCoreError) as exc:
            # Failing to count must not turn a 401 into a 503; log and move on.
            logs.line(
                logger,
                "auth_failure_unrecorded",
                logging.WARNING,
                error=type(exc).__name__,
            )
            return
        if int(item.get("bu", 0)) > now:
            self._locked_until[source_ip] = float(item["bu"])

    def _count(self, source_ip: str, window: int, now: float) -> dict[str, Any]:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"ip": {"S": source_ip}},
                UpdateExpression="SET fc = fc + :one, #t = :ttl",
                ConditionExpression="fw = :w",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":w": {"N": str(window)},
                    ":ttl": {"N": str(int(now) + FORGET_AFTER_SECONDS)},
                },
                ExpressionAttributeNames={"#t": "ttl"},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            response = self._client.update_item(
                TableName=self._table,
                Key={"ip": {"S": source_ip}},
                UpdateExpression="SET fw = :w, fc = :one, #t = :ttl",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":w": {"N": str(window)},
                    ":ttl": {"N": str(int(now) + FORGET_AFTER_SECONDS)},
                },
                ExpressionAttributeNames={"#t": "ttl"},
                ReturnValues="ALL_NEW",
            )
        return from_item(response["Attributes"])

    def _lock(self, source_ip: str, item: dict[str, Any], now: float) -> dict[str, Any]:
        level = int(item.get("lv", 0))
        seconds = min(MAX_LOCKOUT_SECONDS, BASE_LOCKOUT_SECONDS * 2**level)
        response = self._client.update_item(
            TableName=self._table,
            Key={"ip": {"S": source_ip}},
            UpdateExpression="SET bu = :until, lv = :level, fc = :zero",
            ExpressionAttributeValues={
                ":until": {"N": str(int(now) + seconds)},
                ":level": {"N": str(level + 1)},
                ":zero": {"N": "0"},
            },
            ReturnValues="ALL_NEW",
        )
        logs.line(logger, "address_locked_out", seconds=seconds)
        return from_item(response["Attributes"])
