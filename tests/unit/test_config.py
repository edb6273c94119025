"""Settings: read lazily from the environment, errors name the variable."""

from __future__ import annotations

import pytest

from chalicelib.config import (
    ENVIRONMENT,
    Settings,
    load_settings,
    server_secret,
    settings,
)
from chalicelib.errors import ConfigurationError

REQUIRED = sorted(
    ENVIRONMENT[name]
    for name, info in Settings.model_fields.items()
    if info.is_required()
)
SECRET = "s" * 40


def valid_environment() -> dict[str, str]:
    """Every required variable with a plausible value."""
    env = {variable: f"jupiter-test-{variable.lower()}" for variable in REQUIRED}
    env["JUPITER_SERVER_SECRET"] = SECRET
    return env


def test_a_complete_environment_loads() -> None:
    config = load_settings(valid_environment())
    assert config.server_secret == SECRET
    assert config.cors_origins == ()
    assert config.max_body_bytes == 1_048_576


@pytest.mark.parametrize("variable", REQUIRED)
def test_missing_variable_is_named(variable: str) -> None:
    env = valid_environment()
    del env[variable]
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env)
    assert variable in raised.value.detail
    assert raised.value.status == 500
    assert raised.value.code == "configuration_error"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JUPITER_STAGE", "staging"),
        ("JUPITER_MAX_BODY_BYTES", "lots"),
        ("JUPITER_MAX_BODY_BYTES", "99999999999"),
        ("JUPITER_API_CORS_ORIGINS", "https://ok.example, ftp://files.example"),
        ("JUPITER_TRACING", "perhaps"),
        ("JUPITER_KEYS_TABLE", "k"),
    ],
)
def test_bad_value_is_named(variable: str, value: str) -> None:
    env = {**valid_environment(), variable: value}
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env)
    assert variable in raised.value.detail


def test_a_server_secret_or_its_secret_id_is_required() -> None:
    env = valid_environment()
    del env["JUPITER_SERVER_SECRET"]

    with pytest.raises(ConfigurationError) as raised:
        load_settings(env)

    assert "JUPITER_SERVER_SECRET " in raised.value.detail
    assert "JUPITER_SERVER_SECRET_ID" in raised.value.detail


def test_a_secret_id_alone_loads_without_reading_the_secret() -> None:
    env = valid_environment()
    del env["JUPITER_SERVER_SECRET"]
    # Nothing answers there: reading the secret now would fail the load.
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"

    config = load_settings({**env, "JUPITER_SERVER_SECRET_ID": "jupiter-dev-secret"})

    assert config.server_secret is None
    assert config.server_secret_id == "jupiter-dev-secret"


def test_the_configured_secret_is_the_server_secret() -> None:
    assert server_secret(load_settings(valid_environment())) == SECRET


def test_short_server_secret_is_named_but_never_echoed() -> None:
    weak = "not-long-enough-secret"
    env = {**valid_environment(), "JUPITER_SERVER_SECRET": weak}
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env)
    assert "JUPITER_SERVER_SECRET" in raised.value.detail
    assert weak not in raised.value.detail
    assert weak not in repr(load_settings(valid_environment()))


def test_cors_origins_are_split_and_trimmed() -> None:
    env = {
        **valid_environment(),
        "JUPITER_API_CORS_ORIGINS": " https://a.example/ ,http://localhost:3000,,",
    }
    config = load_settings(env)
    assert config.cors_origins == ("https://a.example", "http://localhost:3000")


def test_settings_read_the_environment_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, value in valid_environment().items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("JUPITER_MAX_BODY_BYTES", "2048")
    assert settings().max_body_bytes == 2048
    monkeypatch.setenv("JUPITER_MAX_BODY_BYTES", "4096")
    assert settings().max_body_bytes == 4096
    monkeypatch.delenv("JUPITER_KEYS_TABLE")
    with pytest.raises(ConfigurationError, match="JUPITER_KEYS_TABLE"):
        settings()
