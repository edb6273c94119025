"""``make package``: each deployed stage packaged offline, linted, and inspected.

Each stage is packaged once per worker (the two stages go to different
workers) with ``ops.package``, exactly as ``make package STAGE=<stage>`` does,
into a temporary directory; the tests then read what it built.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infrastructure.provision import TEMPLATE, load_template
from ops.package import (
    ACCOUNT_SPECIFIC,
    Built,
    PackageError,
    lambda_compatible,
    lint,
    package,
    runtime_distributions,
)

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "AWS::Serverless::Function"
STAGES = [
    pytest.param(stage, marks=pytest.mark.xdist_group(f"package-{stage}"))
    for stage in ("dev", "prod")
]


@pytest.fixture(scope="session")
def packages() -> dict[str, Built]:
    """The stages this worker packaged, each once."""
    return {}


@pytest.fixture
def built(
    stage: str, packages: dict[str, Built], tmp_path_factory: pytest.TempPathFactory
) -> Built:
    if stage not in packages:
        scratch = tmp_path_factory.mktemp(f"package-{stage}")
        made = package(stage, out=scratch / "out", work=scratch / "project")
        lint([*sorted(made.directory.rglob("sam.json")), TEMPLATE])
        packages[stage] = made
    return packages[stage]


def _sam(built: Built, single: bool = False) -> dict[str, Any]:
    path = built.directory / ("single/sam.json" if single else "sam.json")
    return dict(json.loads(path.read_text()))


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == FUNCTION
    }


def _stage_config(stage: str) -> dict[str, Any]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return dict(config["stages"][stage])


@pytest.mark.parametrize("stage", STAGES)
def test_stage_packages_offline_into_sam_json_and_a_zip(built: Built) -> None:
    assert (built.directory / "sam.json").is_file()
    assert zipfile.is_zipfile(built.directory / "deployment.zip")
    assert zipfile.is_zipfile(built.directory / "single" / "deployment.zip")


@pytest.mark.parametrize("stage", STAGES)
def test_zip_carries_app_templates_docs_and_runtime_packages(built: Built) -> None:
    names = set(zipfile.ZipFile(built.directory / "deployment.zip").namelist())

    templates = {
        f"chalicelib/{p.relative_to(ROOT / 'chalicelib').as_posix()}"
        for p in (ROOT / "chalicelib" / "sdk_templates").rglob("*")
        if p.is_file()
    }
    assert templates
    assert templates <= names
    assert {
        "app.py",
        "chalice/app.py",
        "chalicelib/apidoc/templates/docs.html.j2",
        "chalicelib/apidoc/templates/docs.js",
        "boto3/__init__.py",
        "pydantic_core/__init__.py",
        "aws_lambda_powertools/__init__.py",
        "jinja2/__init__.py",
    } <= names


@pytest.mark.parametrize("stage", STAGES)
def test_every_module_ships_with_unchecked_bytecode_for_python_3_11(
    built: Built,
) -> None:
    zipped = zipfile.ZipFile(built.directory / "deployment.zip")
    names = set(zipped.namelist())
    modules = sorted(n for n in names if n.endswith(".py"))

    missing = [m for m in modules if importlib.util.cache_from_source(m) not in names]
    assert "app.py" in modules
    assert not missing
    for module in ("app.py", "chalicelib/http/edge.py", "botocore/client.py"):
        header = zipped.read(importlib.util.cache_from_source(module))[:8]
        assert header[:4] == importlib.util.MAGIC_NUMBER  # CPython 3.11's
        # PEP 552 flags: hash-based (bit 0), source not checked (bit 1 clear).
        assert int.from_bytes(header[4:8], "little") == 0b01


@pytest.mark.parametrize("stage", STAGES)
def test_a_cold_import_of_the_package_compiles_no_module(
    built: Built, tmp_path: Path
) -> None:
    zipfile.ZipFile(built.directory / "deployment.zip").extractall(tmp_path)
    # Only the package on the path, no bytecode written: Lambda's read-only
    # /var/task. Every module compiled from source is counted.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import importlib._bootstrap_external as loader\n"
        "compiled = []\n"
        "source_to_code = loader.SourceLoader.source_to_code\n"
        "def counted(self, data, path, *args, **kwargs):\n"
        "    compiled.append(path)\n"
        "    return source_to_code(self, data, path, *args, **kwargs)\n"
        "loader.SourceLoader.source_to_code = counted\n"
        "import app\n"
        "print(len(sys.modules), compiled)\n"
    )

    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", probe, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    loaded, compiled = result.stdout.split(" ", 1)
    assert int(loaded) > 300
    assert compiled.strip() == "[]"


@pytest.mark.parametrize("stage", STAGES)
def test_zip_carries_no_test_local_benchmark_or_operator_code(built: Built) -> None:
    names = zipfile.ZipFile(built.directory / "deployment.zip").namelist()

    tops = {name.split("/", 1)[0] for name in names}
    for absent in ("tests", "local", "benchmarks", "ops", "infrastructure"):
        assert absent not in tops
    for dev_only in ("moto", "pytest", "chalice/cli", "cfnlint", "hypothesis"):
        assert not any(n.startswith(f"{dev_only}/") for n in names), dev_only
    # Bytecode only of the modules shipped: none left over from a local run.
    sources = {n for n in names if n.endswith(".py")}
    bytecode = {n for n in names if n.endswith(".pyc")}
    assert bytecode == {importlib.util.cache_from_source(n) for n in sources}


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_is_traced_and_sized_as_the_stage_says(
    built: Built, stage: str
) -> None:
    from chalice.utils import to_cfn_resource_name

    sized = _stage_config(stage)["lambda_functions"]
    functions = _functions(_sam(built))

    expected = {
        "APIHandler" if name == "api_handler" else to_cfn_resource_name(name): size
        for name, size in sized.items()
    }
    assert set(functions) == set(expected)
    for name, properties in functions.items():
        assert properties["Tracing"] == "Active"
        assert properties["Timeout"] == expected[name]["lambda_timeout"]
        assert properties["MemorySize"] == expected[name]["lambda_memory_size"]


@pytest.mark.parametrize("stage", STAGES)
def test_rest_api_is_regional(built: Built) -> None:
    rest = _sam(built)["Resources"]["RestAPI"]["Properties"]

    assert rest["EndpointConfiguration"] == "REGIONAL"


@pytest.mark.parametrize("stage", STAGES)
def test_every_role_carries_exactly_the_stage_policy(built: Built, stage: str) -> None:
    policy_file = _stage_config(stage)["iam_policy_file"]
    policy = json.loads((ROOT / ".chalice" / policy_file).read_text())
    roles = [
        r["Properties"]
        for r in _sam(built)["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
    ]

    assert roles
    for role in roles:
        assert [p["PolicyDocument"] for p in role["Policies"]] == [policy]


@pytest.mark.parametrize("stage", STAGES)
def test_queue_consumer_and_stream_handler_are_bound_to_the_stage(
    built: Built, stage: str
) -> None:
    functions = _functions(_sam(built))

    queue = functions["DeliverWebhooks"]["Events"]["DeliverWebhooksSqsEventSource"]
    assert queue["Properties"]["Queue"]["Fn::Sub"].endswith(
        f":jupiter-{stage}-webhook-deliveries"
    )
    stream = functions["EventsStream"]["Events"]["EventsStreamDynamodbEventSource"]
    assert f"table/jupiter-{stage}-events/stream/" in stream["Properties"]["Stream"]


@pytest.mark.parametrize("stage", STAGES)
def test_functions_get_every_output_of_the_template(built: Built) -> None:
    variables = {str(o["Description"]) for o in load_template()["Outputs"].values()}

    for name, properties in _functions(_sam(built)).items():
        environment = properties["Environment"]["Variables"]
        assert variables <= set(environment), name


@pytest.mark.parametrize("stage", STAGES)
def test_account_specific_outputs_missing_from_the_stage_are_reported(
    built: Built, stage: str
) -> None:
    committed = _stage_config(stage)["environment_variables"]

    assert set(built.stand_ins) == {v for v in ACCOUNT_SPECIFIC if v not in committed}


@pytest.mark.parametrize("stage", STAGES)
def test_single_stack_functions_read_the_stacks_own_resources(built: Built) -> None:
    single = _sam(built, single=True)
    outputs = {
        str(o["Description"]): (
            {"Fn::If": [o["Condition"], o["Value"], {"Ref": "AWS::NoValue"}]}
            if "Condition" in o
            else o["Value"]
        )
        for o in load_template()["Outputs"].values()
    }

    assert outputs["JUPITER_SERVER_SECRET_ID"]["Fn::If"][0] == "IsDeployed"
    assert {"KeysTable", "WebhookDeliveryQueue", "Api5xxRateAlarm"} <= set(
        single["Resources"]
    )
    for name, properties in _functions(single).items():
        environment = properties["Environment"]["Variables"]
        for variable, value in outputs.items():
            assert environment[variable] == value, (name, variable)
        assert (
            "WebsocketAPI" in environment["JUPITER_WS_MANAGEMENT_ENDPOINT"]["Fn::Sub"]
        )
    stream = _functions(single)["EventsStream"]["Events"]
    assert stream["EventsStreamDynamodbEventSource"]["Properties"]["Stream"] == {
        "Fn::GetAtt": ["EventsTable", "StreamArn"]
    }


@pytest.mark.parametrize("stage", STAGES)
def test_single_stack_functions_have_the_names_the_alarms_watch(
    built: Built, stage: str
) -> None:
    single = _sam(built, single=True)
    watched = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::Sub"].replace(
            "${Stage}", stage
        )
        for alarm in single["Resources"].values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
        and alarm["Properties"].get("Namespace") == "AWS/Lambda"
    }
    names = {p["FunctionName"] for p in _functions(single).values()}

    assert names == watched


def test_lint_reports_what_cfn_lint_finds(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Bogus": 1}}})
    )

    with pytest.raises(PackageError, match="cfn-lint found problems"):
        lint([broken])


def test_runtime_distributions_follow_requirements_transitively() -> None:
    names = {d.metadata["Name"].lower() for d in runtime_distributions()}

    assert {"boto3", "botocore", "pydantic", "pydantic_core", "jmespath"} <= {
        n.replace("-", "_") for n in names
    } | names
    assert not names & {"moto", "pytest", "chalice", "cfn-lint"}


def test_a_pin_the_virtualenv_does_not_satisfy_stops_the_build(
    tmp_path: Path,
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("boto3==0.0.1  # not what is installed\n")

    with pytest.raises(PackageError, match=r"boto3 .* is installed but"):
        runtime_distributions(requirements)


def test_a_requirement_not_installed_stops_the_build(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("surely-not-installed-jupiter==1.0\n")

    with pytest.raises(PackageError, match="not installed"):
        runtime_distributions(requirements)


@pytest.mark.parametrize(
    ("tags", "loads"),
    [
        (["py3-none-any"], True),
        (
            ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"],
            True,
        ),
        (["cp311-cp311-manylinux_2_28_x86_64"], False),
        (["cp311-cp311-manylinux_2_17_aarch64"], False),
        (["cp312-cp312-manylinux_2_17_x86_64"], False),
        (["cp39-abi3-manylinux_2_17_x86_64"], True),
        (["cp311-cp311-macosx_11_0_arm64"], False),
        ([], False),
    ],
)
def test_only_wheels_lambda_python311_x86_64_loads_are_vendored(
    tags: list[str], loads: bool
) -> None:
    assert lambda_compatible(tags) is loads
