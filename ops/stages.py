"""What each stage's resources are called, read from infrastructure/template.yaml.

Table names are fixed by the template (``jupiter-<stage>-<name>``), so they can
be known without asking CloudFormation: the operator commands and the stage
configuration (``.chalice/config.json``) both take them from here. After adding a
table to the template, ``python -m ops.stages`` writes its variable into every
stage of ``.chalice/config.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from infrastructure.provision import TEMPLATE, Resolver, load_template

STAGES = ("local", "dev", "prod")
TABLE = "AWS::DynamoDB::Table"
CONFIG = Path(__file__).resolve().parents[1] / ".chalice" / "config.json"


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
        target = (
            output["Value"].get("Ref") if isinstance(output["Value"], dict) else None
        )
        if target in resolver.physical:
            tables[str(output["Description"])] = resolver.physical[target]
    return tables


def sync_config(path: Path = CONFIG) -> list[str]:
    """Set every stage's table variables in ``.chalice/config.json``; list changes."""
    config = json.loads(path.read_text())
    changed: list[str] = []
    for stage, settings in config["stages"].items():
        environment = settings.setdefault("environment_variables", {})
        for variable, table in stage_tables(stage).items():
            if environment.get(variable) != table:
                environment[variable] = table
                changed.append(f"{stage}: {variable}={table}")
    if changed:
        path.write_text(json.dumps(config, indent=2) + "\n")
    return changed


if __name__ == "__main__":
    for change in sync_config():
        print(change)
