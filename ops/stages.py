"""Keep each stage's environment in ``.chalice/config.json`` in step with the stack.

Table names are fixed by ``infrastructure/template.yaml`` (``jupiter-<stage>-
<name>``), so they are known without asking CloudFormation. Queue URLs hold the
account id, so they can only come from a deployed stack's outputs. Each output's
description names the variable that carries it. The WebSocket API's
@connections endpoint exists once ``chalice deploy`` has created the API; it is
read from the record Chalice keeps (``.chalice/deployed/<stage>.json``).

    python -m ops.stages                              # tables, every stage
    python -m ops.stages --stage prod --stack jupiter-prod   # plus every output
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infrastructure.provision import TEMPLATE, Resolver, load_template

STAGES = ("local", "dev", "prod")
TABLE = "AWS::DynamoDB::Table"
CONFIG = Path(__file__).resolve().parents[1] / ".chalice" / "config.json"
DEPLOYED = CONFIG.parent / "deployed"
MANAGEMENT_ENDPOINT = "JUPITER_WS_MANAGEMENT_ENDPOINT"


def stage_tables(stage: str, template_path: Path = TEMPLATE) -> dict[str, str]:
    """Map each table output's environment variable to the stage's table name."""
    template = load_template(template_path)
    resolver = Resolver(template, stage, region="us-east-1")
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == TABLE:
            properties = resolver.value(resource["Properties"])
            resolver.physical[logical_id] = str(properties["TableName"])
    tables: dict[str, str] = {}
    for output in template.get("Outputs", {}).values():
        value = output["Value"]
        target = value.get("Ref") if isinstance(value, dict) else None
        if target in resolver.physical:
            tables[str(output["Description"])] = resolver.physical[target]
    return tables


def stack_outputs(client: Any, stack_name: str) -> dict[str, str]:
    """Map a deployed stack's outputs to the variables their descriptions name."""
    stack = client.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {
        str(o["Description"]): str(o["OutputValue"])
        for o in stack.get("Outputs", [])
        if str(o.get("Description", "")).startswith("JUPITER_")
    }


def websocket_endpoint(stage: str, deployed: Path = DEPLOYED) -> dict[str, str]:
    """Return the @connections endpoint of the stage's deployed WebSocket API.

    Chalice records ``wss://<id>.execute-api.<region>.<suffix>/<stage>/``;
    broadcasts post to the same host and stage over https. Empty until
    ``chalice deploy`` has run for the stage.
    """
    record = deployed / f"{stage}.json"
    if not record.exists():
        return {}
    for resource in json.loads(record.read_text()).get("resources", []):
        url = str(resource.get("websocket_api_url", ""))
        if resource.get("resource_type") == "websocket_api" and "://" in url:
            return {
                MANAGEMENT_ENDPOINT: "https://" + url.split("://", 1)[1].rstrip("/")
            }
    return {}


def sync_config(
    path: Path = CONFIG,
    deployed: dict[str, dict[str, str]] | None = None,
    records: Path = DEPLOYED,
) -> list[str]:
    """Write every stage's table variables (and ``deployed`` outputs); list changes.

    ``records`` is where Chalice keeps what it deployed, per stage.
    """
    config = json.loads(path.read_text())
    changed: list[str] = []
    for stage, settings in config["stages"].items():
        environment = settings.setdefault("environment_variables", {})
        wanted = {
            **stage_tables(stage),
            **websocket_endpoint(stage, records),
            **(deployed or {}).get(stage, {}),
        }
        for variable, value in wanted.items():
            if environment.get(variable) != value:
                environment[variable] = value
                changed.append(f"{stage}: {variable}={value}")
    if changed:
        path.write_text(json.dumps(config, indent=2) + "\n")
    return changed


def main(argv: Sequence[str] | None = None, config: Path = CONFIG) -> int:
    """Run the command; return the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if bool(args.stack) != bool(args.stage):
        parser.error("--stage and --stack go together")
    deployed: dict[str, dict[str, str]] = {}
    if args.stack:
        try:
            client = boto3.session.Session().client(
                "cloudformation", region_name=args.region
            )
            deployed[args.stage] = stack_outputs(client, args.stack)
        except (ClientError, BotoCoreError) as exc:
            print(f"cannot read stack {args.stack}: {exc}", file=sys.stderr)
            return 1
    for change in sync_config(config, deployed):
        print(change)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.stages",
        description="Write the stack's resource names into .chalice/config.json.",
    )
    parser.add_argument("--stage", choices=STAGES[1:], help="the deployed stage")
    parser.add_argument("--stack", help="its infrastructure stack's name")
    parser.add_argument("--region", help="AWS region (default: from the profile)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
