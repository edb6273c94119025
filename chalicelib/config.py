"""Settings read from the environment, lazily, and validated on first use.

Chalice's test client patches the environment only for the duration of a call,
so nothing here is read at import time: handlers call :func:`settings` instead.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chalicelib.aws_actions import watch
from chalicelib.errors import ConfigurationError

Stage = Literal["local", "dev", "prod"]
MIN_SECRET_LENGTH = 32

# Environment variable for each setting. One table, so the error message can
# name the variable a person has to fix rather than a Python attribute.
ENVIRONMENT = {
    "stage": "JUPITER_STAGE",
    "region": "AWS_DEFAULT_REGION",
    "aws_endpoint_url": "AWS_ENDPOINT_URL",
    "keys_table": "JUPITER_KEYS_TABLE",
    "audit_table": "JUPITER_AUDIT_TABLE",
    "events_table": "JUPITER_EVENTS_TABLE",
    "ip_guard_table": "JUPITER_IP_GUARD_TABLE",
    "threats_table": "JUPITER_THREATS_TABLE",
    "sessions_table": "JUPITER_SESSIONS_TABLE",
    "aggregates_table": "JUPITER_AGGREGATES_TABLE",
    "idempotency_table": "JUPITER_IDEMPOTENCY_TABLE",
    "events_stream_arn": "JUPITER_EVENTS_STREAM_ARN",
    "connections_table": "JUPITER_CONNECTIONS_TABLE",
    "frames_table": "JUPITER_FRAMES_TABLE",
    "ws_management_endpoint": "JUPITER_WS_MANAGEMENT_ENDPOINT",
    "ws_auth_deadline_seconds": "JUPITER_WS_AUTH_DEADLINE_SECONDS",
    "ws_fanout_concurrency": "JUPITER_WS_FANOUT_CONCURRENCY",
    "server_secret": "JUPITER_SERVER_SECRET",
    "server_secret_id": "JUPITER_SERVER_SECRET_ID",
    "cors_origins": "JUPITER_API_CORS_ORIGINS",
    "max_body_bytes": "JUPITER_MAX_BODY_BYTES",
    "tracing": "JUPITER_TRACING",
    "public_url": "JUPITER_PUBLIC_URL",
    "public_ws_url": "JUPITER_PUBLIC_WS_URL",
    "webhooks_table": "JUPITER_WEBHOOKS_TABLE",
    "webhook_deliveries_table": "JUPITER_WEBHOOK_DELIVERIES_TABLE",
    "webhook_queue_url": "JUPITER_WEBHOOK_QUEUE_URL",
    "webhook_dlq_url": "JUPITER_WEBHOOK_DLQ_URL",
    "webhook_schedule": "JUPITER_WEBHOOK_SCHEDULE",
    "webhook_jitter": "JUPITER_WEBHOOK_JITTER",
    "webhook_timeout_seconds": "JUPITER_WEBHOOK_TIMEOUT_SECONDS",
    "webhook_disable_after_seconds": "JUPITER_WEBHOOK_DISABLE_AFTER_SECONDS",
    "webhook_allow_loopback": "JUPITER_WEBHOOK_ALLOW_LOOPBACK",
}


class Settings(BaseModel):
    """Validated service settings."""

    model_config = {"frozen": True, "extra": "forbid"}

    stage: Stage = "local"
    region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    keys_table: str = Field(min_length=3)
    audit_table: str = Field(min_length=3)
    events_table: str = Field(min_length=3)
    ip_guard_table: str = Field(min_length=3)
    threats_table: str = Field(min_length=3)
    sessions_table: str = Field(min_length=3)
    aggregates_table: str = Field(min_length=3)
    idempotency_table: str = Field(min_length=3)
    # Set where the events table's stream drives the dispatcher (AWS); the
    # one-minute sweep then leaves fresh events to the stream handler.
    events_stream_arn: str | None = None
    connections_table: str = Field(min_length=3)
    frames_table: str = Field(min_length=3)
    # The @connections endpoint broadcasts post to (https://<api>/<stage>);
    # unset, it is learned from the first WebSocket event and recorded.
    ws_management_endpoint: str | None = None
    ws_auth_deadline_seconds: int = Field(default=5, ge=1, le=60)
    ws_fanout_concurrency: int = Field(default=16, ge=1, le=128)
    # The key that signs pagination cursors. Deployed stages keep it out of the
    # function's configuration: they name a Secrets Manager secret (name or
    # ARN) instead, read by server_secret() when a role first needs it.
    server_secret: str | None = Field(
        default=None, min_length=MIN_SECRET_LENGTH, repr=False
    )
    server_secret_id: str | None = Field(default=None, min_length=1)
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=10_485_760)
    tracing: bool = False
    # The base URL clients call (before /api); the OpenAPI document's server.
    # Unset, it is taken from each request's Host and X-Forwarded-Proto.
    public_url: str | None = None
    # The WebSocket URL clients connect to; unset, ws(s)://<public URL>/ws.
    public_ws_url: str | None = None
    webhooks_table: str = Field(min_length=3)
    webhook_deliveries_table: str = Field(min_length=3)
    webhook_queue_url: str = Field(min_length=3)
    webhook_dlq_url: str = Field(min_length=3)
    # Seconds before each attempt, comma-separated; unset, the stage's default
    # (see chalicelib.webhooks.schedule) applies.
    webhook_schedule: str | None = None
    webhook_jitter: float = Field(default=0.1, ge=0, le=0.5)
    webhook_timeout_seconds: float = Field(default=15, gt=0, le=60)
    webhook_disable_after_seconds: int = Field(default=5 * 86_400, ge=60)
    # Deliveries to 127.0.0.0/8 and ::1; only the local stage may allow them.
    webhook_allow_loopback: bool = False

    @model_validator(mode="after")
    def _has_a_server_secret(self) -> Settings:
        if self.server_secret is None and self.server_secret_id is None:
            raise ValueError(
                "set JUPITER_SERVER_SECRET or JUPITER_SERVER_SECRET_ID (the secret"
                " in Secrets Manager)"
            )
        return self

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not origin.startswith(("http://", "https://")):
                raise ValueError(f"origin {origin!r} must start with http(s)://")
        return value

    @field_validator("webhook_schedule")
    @classmethod
    def _schedule_is_seconds(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = [p.strip() for p in value.split(",")]
        if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 20:
            raise ValueError("must be 1 to 20 comma-separated whole seconds")
        return ",".join(parts)

    @field_validator("webhook_allow_loopback")
    @classmethod
    def _loopback_only_locally(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("stage") != "local":
            raise ValueError("loopback webhook targets are allowed only in local")
        return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (the process environment by default)."""
    source = os.environ if environ is None else environ
    raw = {field: source[var] for field, var in ENVIRONMENT.items() if var in source}
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


def server_secret(config: Settings) -> str:
    """Return the server secret: the configured one, or the one Secrets Manager holds.

    Read on first use, not with the settings: only roles that sign cursors need
    it, so a cold start that serves, say, ``GET /api/usage`` never pays for the
    client and the call. Read once per process and secret.
    """
    if config.server_secret is not None:
        return config.server_secret
    assert config.server_secret_id is not None  # one of the two is required
    return _read_secret(config.server_secret_id, config.region, config.aws_endpoint_url)


@lru_cache(maxsize=4)
def _read_secret(secret_id: str, region: str, endpoint_url: str | None) -> str:
    """Read a secret's string from Secrets Manager; name the variable on failure.

    Secrets Manager rather than an SSM SecureString: its client's model is a
    tenth the size of SSM's, and a cold start loads the model in full (about
    5 ms against 40); and CloudFormation generates the secret, so no person
    ever handles it.
    """
    # Imported here: chalicelib.aws reads settings from this module.
    from chalicelib import aws

    client: Any = watch(
        aws.client("secretsmanager", region_name=region, endpoint_url=endpoint_url)
    )
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except (ClientError, BotoCoreError) as exc:
        reason = (
            exc.response.get("Error", {}).get("Code", "error")
            if isinstance(exc, ClientError)
            else type(exc).__name__
        )
        raise ConfigurationError(
            f"JUPITER_SERVER_SECRET_ID: cannot read {secret_id} ({reason})"
        ) from None
    value = response.get("SecretString")
    if not isinstance(value, str):
        raise ConfigurationError(
            f"JUPITER_SERVER_SECRET_ID: {secret_id} holds no secret string"
        )
    if len(value) < MIN_SECRET_LENGTH:
        # The length, never the value.
        raise ConfigurationError(
            f"JUPITER_SERVER_SECRET_ID: {secret_id} holds {len(value)} characters;"
            f" at least {MIN_SECRET_LENGTH} are needed"
        )
    return value


def forget_secrets() -> None:
    """Forget every secret read (tests, between stores)."""
    _read_secret.cache_clear()


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "settings"
        variable = ENVIRONMENT.get(field, field)
        problems.append(f"{variable}: {error['msg']}")
    return "invalid configuration: " + "; ".join(problems)


@lru_cache(maxsize=1)
def _cached(signature: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings(dict(signature))


def settings() -> Settings:
    """Return the settings for the current environment, validated once per value."""
    signature = tuple(
        (var, os.environ[var]) for var in ENVIRONMENT.values() if var in os.environ
    )
    return _cached(signature)
