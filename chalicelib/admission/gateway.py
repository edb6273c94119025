"""The admission write: one conditional ``UpdateItem`` per request.

Its condition carries everything that decides the request: the key exists, is
active, unexpired, the secret hash matches (the current one, or the previous
one during a rotation's grace period), the source address is allowed, the
route's scope is held, and every window has room. Its update counts the request
in every window and stamps the last-used time.

When the condition fails, ``ReturnValuesOnConditionCheckFailure=ALL_OLD``
returns the item as it was, and :func:`_diagnose` tells the reason apart
without a read. When the failure was only a stale belief about the windows,
the process learns the true item and retries once or twice.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs, metrics, tracing
from chalicelib.admission.plan import add_limiter
from chalicelib.admission.window import Usage, retry_after, usage
from chalicelib.clock import Clock
from chalicelib.dynamo import Expression, from_item
from chalicelib.errors import (
    AuthenticationFailed,
    PermissionDenied,
    RateLimited,
    StoreUnavailable,
)
from chalicelib.keys.credentials import hash_secret, same_hash, well_formed
from chalicelib.policy import Scope, Tier, grants

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from chalicelib.admission.ip_guard import IpGuard

logger = logging.getLogger(__name__)

# Adds the limit conditions and counter updates for a request at ``now``.
Limiter = Callable[[Expression, dict[str, Any] | None, float], None]

ACTIVE = "active"
MAX_ATTEMPTS = 3
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


# The values on every request's path are NamedTuples, not frozen dataclasses:
# a dataclass's methods are generated with exec when its module is imported,
# about half a millisecond of each cold start per class.
class Credentials(NamedTuple):
    """What a request presents: its key headers and where it comes from."""

    key_id: str | None
    secret: str | None
    source_ip: str


class Principal(NamedTuple):
    """An admitted key, and its windows right after counting the request."""

    key_id: str
    owner_id: str
    scopes: frozenset[Scope]
    tier: Tier
    usage: Usage

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes


class BeliefCache:
    """What this process last saw of each key's item, bounded LRU.

    It only ever shapes the write; the write's condition re-checks validity
    every time, so a stale entry can cost a retry but never admit a revoked,
    expired or rotated-out key.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._capacity = capacity

    def get(self, key_id: str) -> dict[str, Any] | None:
        item = self._items.get(key_id)
        if item is not None:
            self._items.move_to_end(key_id)
        return item

    def put(self, key_id: str, item: dict[str, Any]) -> None:
        self._items[key_id] = item
        self._items.move_to_end(key_id)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)


class Gateway:
    """Admits requests against the keys table."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        clock: Clock,
        guard: IpGuard,
        cache: BeliefCache | None = None,
        on_quota_refused: Callable[[dict[str, Any]], None] | None = None,
        limiter: Limiter = add_limiter,
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        self._guard = guard
        self._cache = cache or BeliefCache()
        self._on_quota_refused = on_quota_refused
        # The limiter half of the write; tests swap in weakened plans to show
        # that the real one is what keeps concurrent writers within the limit.
        self._limiter = limiter

    def admit(self, credentials: Credentials, scope: Scope | None) -> Principal:
        """Authenticate, authorize, limit and count one request."""
        with _admission(scope):
            return self._admit_presented(credentials, scope)

    def _admit_presented(
        self, credentials: Credentials, scope: Scope | None
    ) -> Principal:
        self._guard.check(credentials.source_ip)
        if not well_formed(credentials.key_id, credentials.secret):
            self._refuse_credentials(
                credentials, "missing or malformed API key headers"
            )
        assert credentials.key_id is not None and credentials.secret is not None
        return self._admit(credentials, hash_secret(credentials.secret), scope)

    def admit_hashed(
        self, key_id: str, secret_hash: str, source_ip: str, scope: Scope | None
    ) -> Principal:
        """Admit a message of a session that authenticated earlier.

        A WebSocket connection presents its secret once; each later message is
        checked and counted with the same write, against the secret's hash kept
        with the connection, so a revoked or rotated-out key stops at once.
        """
        with _admission(scope):
            self._guard.check(source_ip)
            credentials = Credentials(key_id, None, source_ip)
            return self._admit(credentials, secret_hash, scope)

    def _admit(
        self, credentials: Credentials, secret_hash: str, scope: Scope | None
    ) -> Principal:
        assert credentials.key_id is not None
        for _ in range(MAX_ATTEMPTS):
            now = self._clock.now()
            believed = self._cache.get(credentials.key_id)
            expr = self._expression(credentials, secret_hash, scope, believed, now)
            admitted, item = self._write(credentials.key_id, expr)
            if item is None:
                self._refuse_credentials(credentials, "invalid API key")
            assert item is not None
            self._cache.put(credentials.key_id, item)
            if admitted:
                return _principal(item, now)
            self._diagnose(credentials, secret_hash, scope, item, now)
        raise StoreUnavailable("admission did not settle; retry shortly")

    def _expression(
        self,
        credentials: Credentials,
        secret_hash: str,
        scope: Scope | None,
        believed: dict[str, Any] | None,
        now: float,
    ) -> Expression:
        expr = Expression()
        conditions = expr.conditions
        # The key exists and is active.
        conditions.append(f"{expr.name('st')} = {expr.value(ACTIVE)}")
        # It has no expiry, or the expiry is still ahead.
        ex = expr.name("ex")
        conditions.append(
            f"attribute_not_exists({ex}) OR {ex} > {expr.value(int(now))}"
        )
        # The secret matches the current hash, or the previous one in its grace.
        h, sh, ph, pe = (
            expr.value(secret_hash),
            expr.name("sh"),
            expr.name("ph"),
            expr.name("pe"),
        )
        conditions.append(
            f"{sh} = {h} OR ({ph} = {h} AND {pe} > {expr.value(int(now))})"
        )
        # The allowlist is immutable, so a remembered one can be checked here;
        # otherwise the write insists there is none and learns it if wrong.
        if not _allowed_by_belief(believed, credentials.source_ip):
            conditions.append(f"attribute_not_exists({expr.name('ip')})")
        # The route's scope, or ADMIN.
        if scope is not None:
            sc = expr.name("sc")
            conditions.append(
                f"contains({sc}, {expr.value(scope.value)})"
                f" OR contains({sc}, {expr.value(Scope.ADMIN.value)})"
            )
        self._limiter(expr, believed, now)
        expr.sets.append(f"{expr.name('lu')} = {expr.value(int(now))}")
        return expr

    def _write(
        self, key_id: str, expr: Expression
    ) -> tuple[bool, dict[str, Any] | None]:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"key_id": {"S": key_id}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **expr.update_kwargs(),
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ConditionalCheckFailedException":
                old: Any = exc.response.get("Item")
                return False, from_item(old) if old else None
            logs.line(
                logger,
                "admission_store_error",
                logging.WARNING,
                error=error.get("Code"),
            )
            raise StoreUnavailable("the key store is unavailable") from exc
        except BotoCoreError as exc:
            logs.line(
                logger,
                "admission_store_error",
                logging.WARNING,
                error=type(exc).__name__,
            )
            raise StoreUnavailable("the key store is unreachable") from exc
        return True, from_item(response["Attributes"])

    def _diagnose(
        self,
        credentials: Credentials,
        secret_hash: str,
        scope: Scope | None,
        item: dict[str, Any],
        now: float,
    ) -> None:
        """Raise the reason the write failed, or return to retry a stale belief."""
        if not _secret_matches(item, secret_hash, now):
            self._refuse_credentials(credentials, "invalid API key")
        if item.get("st") != ACTIVE:
            raise AuthenticationFailed(
                "this API key has been revoked", "api_key_revoked"
            )
        if "ex" in item and int(item["ex"]) <= now:
            raise AuthenticationFailed("this API key has expired", "api_key_expired")
        if "ip" in item and not _allowed_by_belief(item, credentials.source_ip):
            raise AuthenticationFailed(
                "this API key may not be used from this address", "ip_not_allowed"
            )
        if not grants(frozenset(Scope(s) for s in item.get("sc", ())), scope):
            assert scope is not None
            raise PermissionDenied(f"this API key lacks the {scope.value} scope")
        windows = usage(item, now)
        refusing = windows.refusing()
        if not refusing:
            return
        names = ", ".join(w.name for w in refusing)
        wait = retry_after(refusing, now)
        if windows.month_bytes in refusing:
            # Records a quota event whose first recording was lost; a no-op
            # once the item's flags show it recorded.
            if self._on_quota_refused is not None:
                self._on_quota_refused(item)
            error = RateLimited(
                "the monthly data quota is used up",
                wait,
                "quota_exceeded",
                windows.month_bytes.name,
            )
        else:
            error = RateLimited(
                f"rate limit reached ({names} window)", wait, limit=refusing[0].name
            )
        error.usage = windows
        raise error

    def _refuse_credentials(self, credentials: Credentials, detail: str) -> None:
        self._guard.record_failure(credentials.source_ip)
        raise AuthenticationFailed(detail)


@contextlib.contextmanager
def _admission(scope: Scope | None) -> Iterator[None]:
    """Trace one admission and count its outcome.

    Admitted; Limited by the refusing limit (``Limit``: hour, burst, day,
    month, or the lockout's code); Denied by the problem code (``Reason``).
    """
    with tracing.subsegment("admission", scope=scope.value if scope else None):
        try:
            yield
        except RateLimited as error:
            metrics.count("Limited", Limit=error.limit)
            raise
        except (AuthenticationFailed, PermissionDenied) as error:
            metrics.count("Denied", Reason=error.code)
            raise
        metrics.count("Admitted")


def _secret_matches(item: dict[str, Any], secret_hash: str, now: float) -> bool:
    if same_hash(str(item.get("sh", "")), secret_hash):
        return True
    previous = item.get("ph")
    return bool(
        previous
        and same_hash(str(previous), secret_hash)
        and int(item.get("pe", 0)) > now
    )


def _allowed_by_belief(item: dict[str, Any] | None, source_ip: str) -> bool:
    """Tell whether a known item's allowlist admits ``source_ip``.

    An unknown item, or one without an allowlist, returns False so the write
    asserts the allowlist is absent.
    """
    if item is None or "ip" not in item:
        return False
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr) for cidr in item["ip"])


def _principal(item: dict[str, Any], now: float) -> Principal:
    return Principal(
        key_id=str(item["key_id"]),
        owner_id=str(item["ow"]),
        scopes=frozenset(Scope(s) for s in item["sc"]),
        tier=Tier(str(item["tr"])),
        usage=usage(item, now),
    )
