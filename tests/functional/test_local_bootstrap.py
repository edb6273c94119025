"""The local stack's bootstrap: the admin key file and the server secret."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from chalicelib import aws
from chalicelib import services as services_module
from chalicelib.admission.gateway import Credentials
from chalicelib.policy import Scope
from local import stack


def admin_file(state_dir: Path) -> dict[str, str]:
    document: dict[str, str] = json.loads((state_dir / stack.ADMIN_FILE).read_text())
    return document


def test_first_start_creates_a_working_admin_key_and_prints_it_once(
    svc: services_module.Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.ensure_admin_key(tmp_path)

    stored = admin_file(tmp_path)
    assert set(stored) == {"key_id", "key_secret"}
    assert stat.S_IMODE((tmp_path / stack.ADMIN_FILE).stat().st_mode) == 0o600
    assert stored["key_secret"] in capsys.readouterr().out
    principal = svc.gateway.admit(
        Credentials(stored["key_id"], stored["key_secret"], "127.0.0.1"), None
    )
    assert principal.scopes == {Scope.ADMIN}
    assert principal.owner_id == stack.ADMIN_OWNER


def test_next_start_keeps_the_key_and_prints_no_secret(
    svc: services_module.Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.ensure_admin_key(tmp_path)
    first = admin_file(tmp_path)
    capsys.readouterr()

    stack.ensure_admin_key(tmp_path)

    assert admin_file(tmp_path) == first
    output = capsys.readouterr().out
    assert first["key_id"] in output
    assert first["key_secret"] not in output


def test_a_revoked_admin_key_is_replaced(
    svc: services_module.Services, tmp_path: Path
) -> None:
    stack.ensure_admin_key(tmp_path)
    first = admin_file(tmp_path)
    aws.dynamodb().update_item(
        TableName=svc.settings.keys_table,
        Key={"key_id": {"S": first["key_id"]}},
        UpdateExpression="SET st = :revoked",
        ExpressionAttributeValues={":revoked": {"S": "revoked"}},
    )

    stack.ensure_admin_key(tmp_path)

    assert admin_file(tmp_path)["key_id"] != first["key_id"]


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"key_id": "jptr_missing"}',
        '{"key_id": "jptr_unknown000000000000000", "key_secret": "' + "0" * 64 + '"}',
    ],
    ids=["garbage", "no-secret", "unknown-key"],
)
def test_an_unusable_admin_file_is_replaced(
    svc: services_module.Services, tmp_path: Path, content: str
) -> None:
    (tmp_path / stack.ADMIN_FILE).write_text(content)

    stack.ensure_admin_key(tmp_path)

    assert admin_file(tmp_path)["key_id"].startswith("jptr_")


def test_a_wrong_stored_secret_gets_a_new_key(
    svc: services_module.Services, tmp_path: Path
) -> None:
    stack.ensure_admin_key(tmp_path)
    first = admin_file(tmp_path)
    path = tmp_path / stack.ADMIN_FILE
    path.write_text(json.dumps({**first, "key_secret": "f" * 64}))

    stack.ensure_admin_key(tmp_path)

    assert admin_file(tmp_path)["key_id"] != first["key_id"]


def test_server_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = stack.server_secret(tmp_path)

    assert len(first) == 64
    assert stack.server_secret(tmp_path) == first
    mode = (tmp_path / stack.SECRET_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
