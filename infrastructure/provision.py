"""Create the resources declared in ``template.yaml`` on any AWS endpoint.

Tests (under moto) and the local stack (against a moto server) call this, so
what they run on is exactly what CloudFormation deploys. It understands the
small part of CloudFormation the template uses: ``Ref`` and ``Fn::Sub`` of the
``Stage`` parameter and of other resources, ``Fn::GetAtt`` of a queue's
``Arn`` and of a table's ``StreamArn``, ``Fn::If``/``Fn::Equals``/``Fn::Not``
conditions (a resource or output whose ``Condition`` is false is left out),
DynamoDB tables, SQS queues and Secrets Manager secrets (a generated secret
gets a random value of the declared length). Every other resource type (the
alarms, their topic) is CloudFormation's alone and skipped, and so is any
output naming one.
Existing resources are left as they are, so provisioning is idempotent.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import decode_str

TEMPLATE = Path(__file__).with_name("template.yaml")
TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
SECRET = "AWS::SecretsManager::Secret"  # noqa: S105 (a resource type)


class Unresolvable(LookupError):
    """Raised when a value refers to a resource that was not created here."""


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """Parse the CloudFormation template (YAML with short-form tags)."""
    template, matches = decode_str(path.read_text())
    if template is None:
        raise ValueError(f"cannot parse {path.name}: {matches}")
    return dict(template)


class Resolver:
    """Resolves intrinsic functions against one stage's parameters."""

    def __init__(self, template: dict[str, Any], stage: str, region: str) -> None:
        self.template = template
        defaults = {
            name: str(declared["Default"])
            for name, declared in template.get("Parameters", {}).items()
            if "Default" in declared
        }
        self.parameters = {
            **defaults,
            "Stage": stage,
            "AWS::Region": region,
            "AWS::AccountId": "123456789012",
        }
        self.physical: dict[str, str] = {}
        self.arns: dict[str, str] = {}
        self.streams: dict[str, str] = {}

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template.get("Conditions", {})[name]))

    def declared(self, node: dict[str, Any]) -> bool:
        """Tell whether a resource or output exists in this stage (its Condition)."""
        return "Condition" not in node or self.condition(str(node["Condition"]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref":
                if arg in self.parameters:
                    return self.parameters[arg]
                return self._physical(arg)
            if fn == "Fn::Sub":
                return re.sub(
                    r"\$\{([^}]+)\}", lambda m: str(self._sub(m.group(1))), arg
                )
            if fn == "Fn::GetAtt":
                resource, attribute = arg if isinstance(arg, list) else arg.split(".")
                known = self.streams if attribute == "StreamArn" else self.arns
                if attribute not in ("Arn", "StreamArn") or resource not in known:
                    raise Unresolvable(f"{resource}.{attribute}")
                return known[resource]
            if fn == "Fn::If":
                name, yes, no = arg
                return self.value(yes if self.condition(name) else no)
            if fn == "Fn::Equals":
                left, right = (self.value(a) for a in arg)
                return left == right
            if fn == "Fn::Not":
                (condition,) = arg
                return not self.value(condition)
        return {k: self.value(v) for k, v in node.items()}

    def _sub(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if "." in name:
            return self.value({"Fn::GetAtt": name.split(".")})
        return self._physical(name)

    def _physical(self, logical_id: str) -> str:
        if logical_id not in self.physical:
            raise Unresolvable(logical_id)
        return self.physical[logical_id]


def provision(
    stage: str,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    template_path: Path = TEMPLATE,
) -> dict[str, str]:
    """Create every resource for ``stage``; return the template's outputs."""
    template = load_template(template_path)
    resolver = Resolver(template, stage, region)
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
    sqs = session.client("sqs", region_name=region, endpoint_url=endpoint_url)
    secretsmanager = session.client(
        "secretsmanager", region_name=region, endpoint_url=endpoint_url
    )
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind not in (TABLE, QUEUE, SECRET) or not resolver.declared(resource):
            continue
        properties = resolver.value(resource.get("Properties", {}))
        if kind == TABLE:
            resolver.physical[logical_id] = _table(dynamodb, properties)
            stream = _stream_arn(dynamodb, resolver.physical[logical_id])
            if stream:
                resolver.streams[logical_id] = stream
        elif kind == SECRET:
            # Ref of a secret is its ARN, as in CloudFormation.
            resolver.physical[logical_id] = _secret(secretsmanager, properties)
        else:
            url, arn = _queue(sqs, properties)
            resolver.physical[logical_id] = url
            resolver.arns[logical_id] = arn
    return _outputs(resolver, template.get("Outputs", {}))


def _outputs(resolver: Resolver, declared: dict[str, Any]) -> dict[str, str]:
    outputs = {}
    for name, output in declared.items():
        if not resolver.declared(output):
            continue
        try:
            outputs[name] = str(resolver.value(output["Value"]))
        except Unresolvable:
            continue  # it names a resource only CloudFormation creates
    return outputs


def environment(
    outputs: dict[str, str], template_path: Path = TEMPLATE
) -> dict[str, str]:
    """Map outputs to the environment variables their descriptions name."""
    declared = load_template(template_path).get("Outputs", {})
    return {declared[name]["Description"]: value for name, value in outputs.items()}


def _table(client: Any, properties: dict[str, Any]) -> str:
    name = properties["TableName"]
    if name in client.list_tables()["TableNames"]:
        return str(name)
    arguments = {
        key: properties[key]
        for key in (
            "TableName",
            "AttributeDefinitions",
            "KeySchema",
            "BillingMode",
            "GlobalSecondaryIndexes",
            "StreamSpecification",
        )
        if key in properties
    }
    if "StreamSpecification" in arguments:
        arguments["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": arguments["StreamSpecification"]["StreamViewType"],
        }
    client.create_table(**arguments)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return str(name)


def _stream_arn(client: Any, table: str) -> str | None:
    description = client.describe_table(TableName=table)["Table"]
    arn = description.get("LatestStreamArn")
    return str(arn) if arn else None


def _queue(client: Any, properties: dict[str, Any]) -> tuple[str, str]:
    name = properties["QueueName"]
    attributes = {
        key: json.dumps(value) if isinstance(value, dict) else str(value)
        for key, value in properties.items()
        if key not in ("QueueName", "Tags")
    }
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(url), str(arn["Attributes"]["QueueArn"])


def _secret(client: Any, properties: dict[str, Any]) -> str:
    """Create the secret unless it exists (its value is then kept); its ARN."""
    name = properties["Name"]
    try:
        return str(client.describe_secret(SecretId=name)["ARN"])
    except client.exceptions.ResourceNotFoundException:
        pass
    generate = properties.get("GenerateSecretString", {})
    length = int(generate.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    if not generate.get("ExcludePunctuation"):
        alphabet += string.punctuation
    value = "".join(secrets.choice(alphabet) for _ in range(length))
    created = client.create_secret(
        Name=name, Description=properties.get("Description", ""), SecretString=value
    )
    return str(created["ARN"])
