"""No secret in any log record (every logger at DEBUG) nor in any table."""

from __future__ import annotations

import json
import logging

import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib import services as services_module
from tests.functional.admission.conftest import JSON, body


def test_no_secret_appears_in_any_log_record_or_table(
    http: Client,
    core: services_module.Services,
    admin_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("", "chalicelib", "jupiter-api", "botocore", "boto3"):
        caplog.set_level(logging.DEBUG, logger=name)
    payload = {"name": "k", "owner_id": "org_s", "permissions": ["READ_THREATS"]}
    created = body(
        http.http.post(
            "/api/keys", headers={**admin_headers, **JSON}, body=json.dumps(payload)
        )
    )
    key = {"X-API-Key-ID": created["key_id"], "X-API-Key-Secret": created["key_secret"]}
    assert http.http.get("/api/usage", headers=key).status_code == 200
    rotated = body(
        http.http.post(
            f"/api/keys/{created['key_id']}/rotate",
            headers={**admin_headers, **JSON},
            body=json.dumps({"grace_period_seconds": 30}),
        )
    )
    new_key = {**key, "X-API-Key-Secret": rotated["key_secret"]}
    assert http.http.get("/api/usage", headers=new_key).status_code == 200
    # A secret sent where the key id belongs must not be logged either.
    misplaced = {"X-API-Key-ID": rotated["key_secret"], "X-API-Key-Secret": "x"}
    assert http.http.get("/api/usage", headers=misplaced).status_code == 401
    assert (
        http.http.get("/api/keys?owner_id=org_s", headers=admin_headers).status_code
        == 200
    )

    secrets_ = [
        created["key_secret"],
        rotated["key_secret"],
        admin_headers["X-API-Key-Secret"],
    ]
    assert len(caplog.records) > 20  # the capture really ran at DEBUG
    for record in caplog.records:
        rendered = record.getMessage() + (record.exc_text or "") + repr(record.args)
        for secret in secrets_:
            assert secret not in rendered, (record.name, record.levelname)
    assert not any(secret in caplog.text for secret in secrets_)

    client = aws.dynamodb()
    config = core.settings
    for table in (config.keys_table, config.audit_table, config.events_table):
        stored = json.dumps(client.scan(TableName=table)["Items"])
        for secret in secrets_:
            assert secret not in stored, table
