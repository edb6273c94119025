"""Create an ADMIN key in a deployed stage and print it, once.

    python -m ops.create_admin_key --stage prod --owner org_ops --name "first admin"

It runs with the operator's AWS credentials (not the service's role) against the
stage's tables, whose names come from ``infrastructure/template.yaml``. The key
and its secret are printed on stdout as JSON, the only time the secret exists
outside the caller's hands; the creation is written to the audit table like any
other, with ``operator:<login>`` as the actor.
"""

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from pydantic import ValidationError

from chalicelib.clock import SystemClock
from chalicelib.errors import JupiterError
from chalicelib.keys.models import CreateKeyRequest
from chalicelib.keys.service import KeyService
from chalicelib.policy import Scope, Tier
from ops.stages import STAGES, stage_tables

KEYS = "JUPITER_KEYS_TABLE"
AUDIT = "JUPITER_AUDIT_TABLE"


class OperatorError(Exception):
    """Raised when the command cannot run; the message says what to fix."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the process exit status."""
    args = _parser().parse_args(argv)
    try:
        request = CreateKeyRequest(
            name=args.name,
            owner_id=args.owner,
            permissions=[Scope.ADMIN],
            tier=Tier(args.tier),
        )
    except ValidationError as exc:
        print(f"invalid key: {_fields(exc)}", file=sys.stderr)
        return 2
    try:
        client = _client(args.region, args.endpoint_url)
        created = create_admin_key(client, args.stage, request, _login())
    except OperatorError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps({"stage": args.stage, **created}, indent=2))
    print("Store the secret now: it is not shown again.", file=sys.stderr)
    return 0


def create_admin_key(
    client: Any, stage: str, request: CreateKeyRequest, operator: str
) -> dict[str, Any]:
    """Create the key in ``stage``'s tables; return its fields and secret."""
    tables = stage_tables(stage)
    for table in (tables[KEYS], tables[AUDIT]):
        _require_table(client, table, stage)
    # Creating a key never signs a cursor; the service's own secret stays in
    # the stage, and a throwaway one satisfies the constructor.
    service = KeyService(
        client, tables[KEYS], tables[AUDIT], SystemClock(), secrets.token_hex(32)
    )
    try:
        created = service.create_unchecked(request, created_by=f"operator:{operator}")
    except JupiterError as exc:
        raise OperatorError(f"could not create the key: {exc.detail}") from exc
    return created.model_dump(mode="json", exclude_none=True)


def _client(region: str | None, endpoint_url: str | None) -> Any:
    try:
        return boto3.session.Session().client(
            "dynamodb", region_name=region, endpoint_url=endpoint_url
        )
    except NoRegionError:
        raise OperatorError("no AWS region: pass --region or set AWS_REGION") from None


def _require_table(client: Any, table: str, stage: str) -> None:
    try:
        client.describe_table(TableName=table)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        if code == "ResourceNotFoundException":
            raise OperatorError(
                f"table {table} does not exist: deploy infrastructure/template.yaml"
                f" with Stage={stage} in this account and region first"
            ) from None
        raise OperatorError(f"cannot read table {table}: {code}") from None
    except BotoCoreError as exc:
        raise OperatorError(f"cannot reach DynamoDB: {exc}") from None


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _fields(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
        for error in exc.errors()
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.create_admin_key",
        description="Create an ADMIN key in a deployed stage and print it once.",
    )
    parser.add_argument("--stage", required=True, choices=STAGES)
    parser.add_argument("--owner", required=True, help="owner id, e.g. org_ops")
    parser.add_argument("--name", required=True, help="what the key is for")
    parser.add_argument(
        "--tier", default=Tier.ENTERPRISE.value, choices=[t.value for t in Tier]
    )
    parser.add_argument("--region", help="AWS region (default: from the profile)")
    parser.add_argument(
        "--endpoint-url", help="DynamoDB endpoint (default: AWS, or AWS_ENDPOINT_URL)"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
