"""Package a stage offline: ``chalice package`` into ``dist/<stage>/``, then lint.

    python -m ops.package --stage prod          # make package STAGE=prod

``chalice package`` would ``pip download`` every requirement for the Lambda
platform, which needs the network. The virtualenv already holds exactly the
pinned versions, built for the same platform (CPython 3.11, manylinux
x86_64), so this builds Chalice's ``vendor/`` from it instead: the closure of
``requirements.txt`` (``Requires-Dist`` of each installed distribution), copied
file by file from each distribution's ``RECORD``. A pin that the virtualenv
does not satisfy, or a binary wheel Lambda's python3.11 cannot load, stops the
build. Chalice then runs with no ``requirements.txt`` and zips ``app.py``,
``chalicelib/`` and ``vendor/``: nothing from ``tests/``, ``local/``,
``benchmarks/`` or ``ops/``.

The stage's account-specific variables (queue URLs, the events stream's ARN)
come from the deployed stack (``python -m ops.stages --stack``); where the
stage does not name them yet, the package is built with the values the
template gives for a stand-in account, so the check covers the queue consumer
and the stream handler too, and the command says so.

Every module ships with its bytecode, compiled for CPython 3.11 with
unchecked hashes. Lambda's ``/var/task`` is read-only, so a package of bare
sources is compiled again on every cold start, in full (the app and its
libraries: about three times the import of compiled modules); an unchecked
pyc is used as it is, whatever the zip did to the files' times.

Beside ``sam.json`` it writes ``single/sam.json``: the same functions merged
(``--merge-template``) with ``infrastructure/template.yaml`` into one stack,
whose functions read every resource name from the stack itself.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import hashlib
import importlib.util
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infrastructure.provision import TEMPLATE, Resolver, load_template
from ops.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".chalice" / "config.json"
DIST = ROOT / "dist"
REQUIREMENTS = ROOT / "requirements.txt"
STAND_IN_REGION = "us-east-1"
# Lambda's python3.11 runtime: Amazon Linux 2, glibc 2.26, x86_64.
LAMBDA_GLIBC = (2, 26)
LAMBDA_VERSION = (3, 11)
LAMBDA_PYTHON = "cp{}{}".format(*LAMBDA_VERSION)
BYTECODE = py_compile.PycInvalidationMode.UNCHECKED_HASH
# Outputs whose values hold the account id or a creation time, so only a
# deployed stack can give them (``python -m ops.stages --stack``).
STREAM = "JUPITER_EVENTS_STREAM_ARN"
ACCOUNT_SPECIFIC = {"JUPITER_WEBHOOK_QUEUE_URL", "JUPITER_WEBHOOK_DLQ_URL", STREAM}
# Known only once the WebSocket API exists; the single stack wires it.
MANAGEMENT_ENDPOINT = "JUPITER_WS_MANAGEMENT_ENDPOINT"


class PackageError(Exception):
    """Raised when the package cannot be built; the message says what to fix."""


@dataclass(frozen=True)
class Built:
    """Where a stage's package went, and what was assumed to build it."""

    stage: str
    directory: Path
    stand_ins: dict[str, str]


def runtime_distributions(
    requirements: Path = REQUIREMENTS,
) -> list[metadata.Distribution]:
    """Return the installed distributions ``requirements`` needs, transitively."""
    found: dict[str, metadata.Distribution] = {}
    pending = [Requirement(line) for line in _requirement_lines(requirements)]
    for pinned in pending:
        _check_pin(pinned)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise PackageError(
                f"{requirement.name} is not installed: run make install"
            ) from None
        found[name] = distribution
        pending.extend(_needs(distribution))
    return [found[name] for name in sorted(found)]


def lambda_compatible(tags: Sequence[str]) -> bool:
    """Say whether a wheel with these tags loads on Lambda's python3.11 x86_64."""
    return any(_tag_fits(tag) for tag in tags)


def build_vendor(requirements: Path = REQUIREMENTS, cache: Path = DIST) -> Path:
    """Copy the runtime distributions into a vendor directory (reused if built).

    Built beside its final place and renamed into it, so two packaging runs
    at once (the stages' tests on two workers) never see half a directory.
    """
    distributions = runtime_distributions(requirements)
    pins = "\n".join([*sorted(_names(distributions)), f"bytecode: {BYTECODE.name}"])
    vendor = cache / ".vendor" / hashlib.sha256(pins.encode()).hexdigest()[:16]
    if vendor.with_suffix(".zip").exists():
        return vendor
    vendor.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=vendor.parent, prefix=".building-"))
    try:
        for distribution in distributions:
            _vendor_one(distribution, scratch / "vendor")
        compile_bytecode(scratch / "vendor")
        _zip_tree(scratch / "vendor", scratch / "vendor.zip")
        with contextlib.suppress(OSError):  # another run got there first
            (scratch / "vendor").rename(vendor)
        # The zip last: its presence says the directory is complete.
        (scratch / "vendor.zip").rename(vendor.with_suffix(".zip"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return vendor


def compile_bytecode(directory: Path) -> None:
    """Write each module's bytecode beside it, as Lambda's python3.11 reads it.

    A module that does not compile (a template or an example written for
    another Python) is left to fail at import, as it would without bytecode.
    """
    # Bytecode is only of use to the interpreter version that wrote it.
    if sys.version_info[:2] != LAMBDA_VERSION:
        raise PackageError(
            f"bytecode for Lambda's python3.11 needs Python 3.11 to build it,"
            f" not {sys.version_info.major}.{sys.version_info.minor}"
        )
    compileall.compile_dir(directory, quiet=2, invalidation_mode=BYTECODE, workers=1)


def package(
    stage: str,
    out: Path | None = None,
    work: Path | None = None,
    single: bool = True,
) -> Built:
    """Package ``stage`` into ``out`` (``dist/<stage>``); return what was built.

    ``work`` holds the project as Chalice sees it (``dist/.build/<stage>``).
    """
    out = (out or DIST / stage).resolve()
    project = (work or DIST / ".build" / stage).resolve()
    vendor = build_vendor()
    stand_ins = _stage_project(project, stage, vendor)
    _seed(project, vendor)
    shutil.rmtree(out, ignore_errors=True)
    _chalice_package(project, stage, out)
    if single:
        merge = project / "single-stack.json"
        merge.write_text(json.dumps(single_stack_merge(out / "sam.json", stage)))
        _chalice_package(project, stage, out / "single", merge)
    return Built(stage, out, stand_ins)


def single_stack_merge(sam_path: Path, stage: str) -> dict[str, Any]:
    """Return the merge template that makes one stack of service and resources.

    It adds every parameter, condition, resource and output of
    ``infrastructure/template.yaml`` (``Stage`` defaulting to ``stage``), and
    has each function read the stack's own resources instead of the stage's
    literal variables: ``Ref`` of each table and queue, ``GetAtt`` of the
    events stream (also the stream handler's event source), and the
    @connections endpoint of the stack's WebSocket API. Each function gets
    the name ``chalice deploy`` would give it, which the alarms and the IAM
    policy's log groups expect. (The queue consumer's event source names its
    queue by ARN; the function's ``Ref`` of the queue orders the two.)
    """
    template = _plain(load_template(TEMPLATE))
    template["Parameters"]["Stage"]["Default"] = stage
    sam = json.loads(sam_path.read_text())
    wiring = {
        str(output["Description"]): _conditional(output)
        for output in template.get("Outputs", {}).values()
        if str(output.get("Description", "")).startswith("JUPITER_")
    }
    if "WebsocketAPIStage" in sam["Resources"]:
        stage_name = sam["Resources"]["WebsocketAPIStage"]["Properties"]["StageName"]
        wiring[MANAGEMENT_ENDPOINT] = {
            "Fn::Sub": "https://${WebsocketAPI}.execute-api.${AWS::Region}"
            ".${AWS::URLSuffix}/" + stage_name
        }
    names = deployed_function_names(stage)
    functions: dict[str, Any] = {}
    for logical_id, resource in sam["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        if logical_id not in names:
            raise PackageError(
                f"{logical_id} has no entry in the stage's lambda_functions"
            )
        properties = _wired(resource["Properties"], wiring)
        properties["FunctionName"] = names[logical_id]
        functions[logical_id] = {"Properties": properties}
    return {
        key: template[key]
        for key in ("Parameters", "Conditions", "Outputs")
        if key in template
    } | {"Resources": {**template["Resources"], **functions}}


def _conditional(output: dict[str, Any]) -> Any:
    """An output's value, present only where its resource's condition holds."""
    if "Condition" not in output:
        return output["Value"]
    return {"Fn::If": [output["Condition"], output["Value"], {"Ref": "AWS::NoValue"}]}


def deployed_function_names(stage: str, config: Path = CONFIG) -> dict[str, str]:
    """Map each function's logical id in ``sam.json`` to its deployed name.

    ``chalice deploy`` names the REST handler ``<app>-<stage>`` and every other
    function ``<app>-<stage>-<name>``; the stage's ``lambda_functions`` lists
    every name (a test sees to it).
    """
    from chalice.utils import to_cfn_resource_name

    document = json.loads(config.read_text())
    prefix = f"{document['app_name']}-{stage}"
    names = {"APIHandler": prefix}
    for name in document["stages"][stage].get("lambda_functions", {}):
        if name != "api_handler":
            names[to_cfn_resource_name(name)] = f"{prefix}-{name}"
    return names


def _wired(function: dict[str, Any], wiring: dict[str, Any]) -> dict[str, Any]:
    """Return the properties that point one function at the stack's resources."""
    variables = function.get("Environment", {}).get("Variables", {})
    names = {name for name in variables if name in wiring}
    if MANAGEMENT_ENDPOINT in wiring:
        names.add(MANAGEMENT_ENDPOINT)
    properties: dict[str, Any] = {
        "Environment": {"Variables": {name: wiring[name] for name in sorted(names)}}
    }
    streams = {
        name: {"Properties": {"Stream": wiring[STREAM]}}
        for name, event in function.get("Events", {}).items()
        if event["Type"] == "DynamoDB"
    }
    if streams:
        properties["Events"] = streams
    return properties


def lint(paths: Sequence[Path]) -> None:
    """Run cfn-lint on ``paths``; raise with its findings if any."""
    command = [str(_tool("cfn-lint")), *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackageError(f"cfn-lint found problems:\n{result.stdout}{result.stderr}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m ops.package",
        description="Package a stage offline into dist/<stage>/ and lint it.",
    )
    parser.add_argument("--stage", required=True, choices=STAGES[1:])
    parser.add_argument("--out", type=Path, help="default: dist/<stage>")
    parser.add_argument("--no-single", action="store_true", help="skip single/")
    args = parser.parse_args(argv)
    try:
        built = package(args.stage, args.out, single=not args.no_single)
        templates = sorted(built.directory.rglob("sam.json"))
        lint([*templates, TEMPLATE])
    except PackageError as exc:
        print(f"package {args.stage}: {exc}", file=sys.stderr)
        return 1
    for variable, value in sorted(built.stand_ins.items()):
        print(f"stand-in (deploy the stack, then ops.stages): {variable}={value}")
    for path in (built.directory / "sam.json", built.directory / "deployment.zip"):
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"cfn-lint clean: {', '.join(str(p.relative_to(ROOT)) for p in templates)}")
    return 0


def _requirement_lines(path: Path) -> Iterator[str]:
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            yield line


def _check_pin(requirement: Requirement) -> None:
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        raise PackageError(
            f"{requirement.name} is not installed: run make install"
        ) from None
    if not requirement.specifier.contains(installed, prereleases=True):
        raise PackageError(
            f"{requirement.name} {installed} is installed but requirements.txt asks"
            f" for {requirement.specifier}: run make install"
        )


def _needs(distribution: metadata.Distribution) -> Iterator[Requirement]:
    for line in distribution.requires or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            yield requirement


def _names(distributions: Sequence[metadata.Distribution]) -> Iterator[str]:
    for distribution in distributions:
        yield f"{distribution.metadata['Name']}=={distribution.version}"


def _tag_fits(tag: str) -> bool:
    python, abi, platform = tag.split("-")
    if platform == "any":
        return python.startswith("py3") or python == LAMBDA_PYTHON
    if python != LAMBDA_PYTHON and abi != "abi3":
        return False
    for each in platform.split("."):
        if each in (
            "manylinux1_x86_64",
            "manylinux2010_x86_64",
            "manylinux2014_x86_64",
        ):
            return True
        match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", each)
        if match and (int(match[1]), int(match[2])) <= LAMBDA_GLIBC:
            return True
    return False


def _vendor_one(distribution: metadata.Distribution, vendor: Path) -> None:
    name = distribution.metadata["Name"]
    wheel = distribution.read_text("WHEEL") or ""
    tags = [
        line.split(":", 1)[1].strip()
        for line in wheel.splitlines()
        if line.startswith("Tag:")
    ]
    if not lambda_compatible(tags):
        raise PackageError(
            f"{name} is installed as {', '.join(tags) or 'an unknown wheel'}, which"
            " Lambda's python3.11 (x86_64, glibc 2.26) cannot load"
        )
    root = Path(str(distribution.locate_file(""))).resolve()
    for file in distribution.files or []:
        source = Path(str(distribution.locate_file(file))).resolve()
        if not source.is_relative_to(root) or "__pycache__" in source.parts:
            continue  # console scripts and bytecode: not for Lambda
        target = vendor / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _stage_project(project: Path, stage: str, vendor: Path) -> dict[str, str]:
    """Lay out the project Chalice packages; return the stand-in variables."""
    shutil.rmtree(project, ignore_errors=True)
    (project / ".chalice").mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", project / "app.py")
    shutil.copytree(
        ROOT / "chalicelib",
        project / "chalicelib",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    # Chalice zips every file under chalicelib/, its bytecode with it.
    compile_bytecode(project / "chalicelib")
    (project / "vendor").symlink_to(vendor, target_is_directory=True)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    settings = config["stages"][stage]
    policy = settings.get("iam_policy_file")
    if policy:
        shutil.copy2(ROOT / ".chalice" / policy, project / ".chalice" / policy)
    environment = settings.setdefault("environment_variables", {})
    stand_ins = {
        name: value
        for name, value in stand_in_outputs(stage).items()
        if not environment.get(name)
    }
    environment.update(stand_ins)
    (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    return stand_ins


def stand_in_outputs(stage: str) -> dict[str, str]:
    """Return the account-specific outputs as a stand-in account would see them."""
    template = load_template(TEMPLATE)
    resolver = Resolver(template, stage, region=STAND_IN_REGION)
    account = resolver.parameters["AWS::AccountId"]
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind not in ("AWS::SQS::Queue", "AWS::DynamoDB::Table"):
            continue
        properties = resolver.value(resource.get("Properties", {}))
        if kind == "AWS::SQS::Queue":
            name = properties["QueueName"]
            resolver.physical[logical_id] = (
                f"https://sqs.{STAND_IN_REGION}.amazonaws.com/{account}/{name}"
            )
            resolver.arns[logical_id] = (
                f"arn:aws:sqs:{STAND_IN_REGION}:{account}:{name}"
            )
        else:
            name = properties["TableName"]
            resolver.physical[logical_id] = name
            resolver.streams[logical_id] = (
                f"arn:aws:dynamodb:{STAND_IN_REGION}:{account}:table/{name}"
                "/stream/2026-01-01T00:00:00.000"
            )
    return {
        str(output["Description"]): str(resolver.value(output["Value"]))
        for output in template.get("Outputs", {}).values()
        if str(output["Description"]) in ACCOUNT_SPECIFIC
    }


def _seed(project: Path, vendor: Path) -> None:
    """Put the zip Chalice would build where Chalice looks for a built one.

    Chalice reuses ``.chalice/deployments/<hash>.zip`` when the hash of the
    requirements, the app's files and ``vendor/`` matches, and otherwise zips
    all of them again (some 60 MB, most of a package's time). The vendor part
    was zipped once; this appends the app's files to a copy, file for file
    what Chalice adds (its own ``_iter_app_filenames``). If Chalice's naming
    ever changes, it simply builds the zip itself.
    """
    from chalice.deploy.packager import DependencyBuilder, LambdaDeploymentPackager
    from chalice.utils import UI, OSUtils

    osutils = OSUtils()
    packager = LambdaDeploymentPackager(osutils, DependencyBuilder(osutils), UI())
    target = Path(packager.deployment_package_filename(str(project), "python3.11"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(vendor.with_suffix(".zip"), target)
    with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as zipped:
        for path, name in packager._iter_app_filenames(str(project)):
            zipped.write(path, name)
            if not name.startswith("chalicelib/"):
                # app.py and Chalice's own two modules, which Chalice adds
                # one by one, without the bytecode chalicelib/ carries.
                _write_bytecode(zipped, Path(path), name)


def _write_bytecode(zipped: zipfile.ZipFile, source: Path, name: str) -> None:
    cached = importlib.util.cache_from_source(name)
    with tempfile.TemporaryDirectory() as scratch:
        pyc = Path(scratch) / "module.pyc"
        py_compile.compile(
            str(source), str(pyc), dfile=name, doraise=True, invalidation_mode=BYTECODE
        )
        zipped.write(pyc, cached)


def _chalice_package(
    project: Path, stage: str, out: Path, merge: Path | None = None
) -> None:
    command = [str(_tool("chalice")), "package", "--stage", stage]
    if merge is not None:
        command += ["--merge-template", str(merge)]
    # The stage's variables, not the calling shell's, decide what app.py binds
    # (the queue's stage, the stream), as with ``chalice deploy``.
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPITER_")}
    # Packaging calls no AWS API, but Chalice insists on knowing a region.
    env.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", STAND_IN_REGION))
    result = subprocess.run(
        [*command, str(out)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PackageError(f"chalice package failed:\n{result.stdout}{result.stderr}")


def _zip_tree(directory: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(directory).as_posix())


def _tool(name: str) -> Path:
    return Path(sys.executable).with_name(name)


def _plain(node: Any) -> Any:
    """Return ``node`` as plain dicts and lists (cfn-lint's nodes carry marks)."""
    return json.loads(json.dumps(node))


if __name__ == "__main__":
    sys.exit(main())
