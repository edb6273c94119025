"""Cold start: a fresh process imports the app and serves its first request.

Measured against a bare Chalice app (``benchmarks.cold_bare_app``: Chalice, boto3,
one route doing one DynamoDB ``GetItem``) in the same run, on the same moto
server, through the same entry point: a driver started with ``python -c`` in
the app's directory imports ``app`` as Lambda's bootstrap does, then calls
``app(event, context)`` with an API Gateway proxy event. The clock runs in
this process from just before the child is spawned to the moment its result
line arrives, so the interpreter's own start is included, for both apps.

Jupiter runs with the dev stage's environment from ``.chalice/config.json``
(the server secret read from Secrets Manager, X-Ray tracing on) and the
resources ``infrastructure/`` declares. Its first request is a real
authenticated one, ``GET /api/usage`` with a valid key: admission, the byte
count and the response model all run. The child's environment is Lambda's
(``LAMBDA_TASK_ROOT``, a sampled ``_X_AMZN_TRACE_ID``), which matters: outside
Lambda the X-Ray SDK builds a botocore client for sampling rules at import,
inside it samples locally. Subsegments go over UDP to a daemon address where
nothing listens, as cheap as the real daemon.

Eight kinds of process run interleaved, the order rotating each round, so a
slow spell of a shared machine hits them all. Six run from the source tree,
whose bytecode Python caches as it goes: Jupiter with tracing on (what is
deployed) and off, the bare app, the bare app patched for X-Ray, the bare
app patched for X-Ray answering through a pydantic model (what an app on
Jupiter's libraries pays as they come), and the bare app holding the garbage
collector off until its first answer, as Jupiter does in Lambda
(``chalicelib/heap.py``), which shows what that hold alone is worth. The
target compares the deployed Jupiter with the plain bare app.

In Lambda, ``/var/task`` is read-only and holds what the deployment package
holds, so two more kinds serve the same request from the dev stage's
unpacked ``deployment.zip`` (``ops.package``), with its libraries only and
no bytecode written (``-S -B``): as it ships, with bytecode, and with the
bytecode removed, which is what a zip of bare sources costs.
One run of each kind first compiles bytecode and warms the file cache; it is
not counted. Then one run of each app under ``python -X importtime`` shows
where import time goes, by top-level package.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3

from benchmarks.harness import proxy_event
from benchmarks.report import Report
from chalicelib.clock import SystemClock
from chalicelib.keys.models import CreateKeyRequest
from chalicelib.keys.service import KeyService
from chalicelib.policy import Scope, Tier
from infrastructure.provision import environment, provision

PROCESSES = 16
TARGET = 1.3
STAGE = "dev"
REGION = "us-east-1"
PROJECT_DIR = Path(__file__).resolve().parents[1]
BARE_APP = Path(__file__).with_name("cold_bare_app.py")
BARE_TABLE = "cold-start-bare"
STORE_START_TIMEOUT = 60.0
CHILD_TIMEOUT = 120.0
HEAVIEST = 12

# Run as ``python -c DRIVER EVENT`` in the app's directory: ``sys.path[0]`` is
# then that directory, and ``app`` is imported from it as Lambda imports it.
# The app writes to stdout too (its metrics documents), so the driver's line
# is the one that starts with RESULT.
RESULT = "@cold-start-result "
DRIVER = """\
import time
started = time.perf_counter()
import json, sys, types
from app import app
imported = time.perf_counter()
context = types.SimpleNamespace(
    aws_request_id="cold-start",
    function_name="cold-start",
    memory_limit_in_mb=1024,
    get_remaining_time_in_millis=lambda: 15000,
)
response = app(json.loads(sys.argv[1]), context)
served = time.perf_counter()
print(RESULT + json.dumps({
    "status": response["statusCode"],
    "import_s": imported - started,
    "request_s": served - imported,
    "cpu_s": time.process_time(),
}), flush=True)
""".replace("RESULT", repr(RESULT))


@dataclass(frozen=True)
class Kind:
    """One kind of process: which app, in which environment, serving which event."""

    name: str
    directory: Path
    env: dict[str, str]
    event: dict[str, Any]
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One fresh process: spawn to first response, and the child's own split."""

    total: float
    imported: float
    request: float
    cpu: float


def run(processes: int = PROCESSES) -> Report:
    """Start ``processes`` fresh processes of each kind, interleaved; compare."""
    with (
        tempfile.TemporaryDirectory(prefix="jupiter-cold-") as scratch,
        _store() as url,
    ):
        kinds = _kinds(url, Path(scratch))
        for kind in kinds:
            _spawn(kind)
        samples: dict[str, list[Sample]] = {kind.name: [] for kind in kinds}
        for round_ in range(processes):
            turn = round_ % len(kinds)
            for kind in kinds[turn:] + kinds[:turn]:
                samples[kind.name].append(_spawn(kind))
        imports = {kind.name: _import_profile(kind) for kind in kinds}
    figures = _figures(samples, imports)
    return Report(
        name="cold_start",
        title="Cold start (fresh process to first response, moto server)",
        columns=("measure", "Jupiter", "bare Chalice + boto3", "ratio"),
        rows=_rows(figures),
        figures=figures,
    )


# The store: one moto server for every child, so each pays only its own start.


@contextmanager
def _store() -> Iterator[str]:
    """Run the serialized moto server in a child process; yield its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "local.moto_server", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--until-stdin-closes"],
        cwd=PROJECT_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_answering(url, process)
        yield url
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STORE_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the moto server exited ({process.returncode})")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the moto server did not answer within {STORE_START_TIMEOUT}s")


# The kinds of process, and the data they read.


def _kinds(url: str, scratch: Path) -> list[Kind]:
    jupiter_env = _jupiter_env(url)
    usage = proxy_event("GET", "/api/usage", _create_key(url, jupiter_env))
    bare_dir = scratch / "bare"
    bare_dir.mkdir()
    shutil.copyfile(BARE_APP, bare_dir / "app.py")
    bare_env = {**_lambda_env(url, bare_dir), "BARE_TABLE": _bare_table(url)}
    item = proxy_event("GET", "/api/item", {})
    jupiter = {**_lambda_env(url, PROJECT_DIR), **jupiter_env}
    floor = {"BARE_TRACING": "true", "BARE_PYDANTIC": "true"}
    shipped, sources = _unpacked_package(scratch)
    # Only the package and the standard library, and no bytecode written.
    read_only = ("-S", "-B")
    return [
        Kind(
            "jupiter_traced", PROJECT_DIR, {**jupiter, "JUPITER_TRACING": "true"}, usage
        ),
        Kind("jupiter", PROJECT_DIR, {**jupiter, "JUPITER_TRACING": "false"}, usage),
        Kind("bare", bare_dir, bare_env, item),
        Kind("bare_traced", bare_dir, {**bare_env, "BARE_TRACING": "true"}, item),
        Kind("bare_floor", bare_dir, {**bare_env, **floor}, item),
        Kind("bare_held", bare_dir, {**bare_env, "BARE_HELD": "true"}, item),
        Kind(
            "package",
            shipped,
            {**_lambda_env(url, shipped), **jupiter_env, "JUPITER_TRACING": "true"},
            usage,
            read_only,
        ),
        Kind(
            "package_sources",
            sources,
            {**_lambda_env(url, sources), **jupiter_env, "JUPITER_TRACING": "true"},
            usage,
            read_only,
        ),
    ]


def _unpacked_package(scratch: Path) -> tuple[Path, Path]:
    """Unpack the dev stage's deployment.zip twice: as shipped, and bytecode-free."""
    from ops.package import package

    built = package(STAGE, out=scratch / "dist", work=scratch / "build", single=False)
    shipped, sources = scratch / "package", scratch / "package-sources"
    for directory in (shipped, sources):
        with zipfile.ZipFile(built.directory / "deployment.zip") as zipped:
            zipped.extractall(directory)
    for cache in sorted(sources.rglob("__pycache__")):
        shutil.rmtree(cache)
    return shipped, sources


def _lambda_env(url: str, directory: Path) -> dict[str, str]:
    """A Lambda function's environment, built from nothing but what it needs."""
    root = "1-5759e988-bd862e3fe1be46a994272793"
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "LAMBDA_TASK_ROOT": str(directory),
        "AWS_LAMBDA_FUNCTION_NAME": "cold-start",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "cold-start",
        "AWS_SECRET_ACCESS_KEY": "cold-start",
        # No profile files: Lambda has none, and the machine's must not count.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL": url,
        "_X_AMZN_TRACE_ID": f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1",
    }


def _jupiter_env(url: str) -> dict[str, str]:
    """The dev stage's variables and the resources ``infrastructure/`` declares.

    Provisioning generates the server secret in Secrets Manager, as
    CloudFormation does; its output names it.
    """
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    env: dict[str, str] = dict(config["stages"][STAGE]["environment_variables"])
    env.update(environment(provision(STAGE, REGION, url)))
    return env


def _create_key(url: str, env: dict[str, str]) -> dict[str, str]:
    client: Any = boto3.session.Session().client(
        "dynamodb", region_name=REGION, endpoint_url=url
    )
    keys = KeyService(
        client,
        env["JUPITER_KEYS_TABLE"],
        env["JUPITER_AUDIT_TABLE"],
        SystemClock(),
        secrets.token_hex(32),
        events_table=env["JUPITER_EVENTS_TABLE"],
    )
    created = keys.create_unchecked(
        CreateKeyRequest(
            name="cold-start",
            owner_id="org_cold_start",
            permissions=[Scope.READ_THREATS],
            tier=Tier.ENTERPRISE,
        ),
        created_by="bench",
    )
    return {"X-API-Key-ID": created.key_id, "X-API-Key-Secret": created.key_secret}


def _bare_table(url: str) -> str:
    client: Any = boto3.session.Session().client(
        "dynamodb", region_name=REGION, endpoint_url=url
    )
    client.create_table(
        TableName=BARE_TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName=BARE_TABLE, Item={"pk": {"S": "item"}})
    return BARE_TABLE


# One fresh process, timed from spawn to its result line.


def _spawn(kind: Kind) -> Sample:
    with tempfile.TemporaryFile("w+") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, *kind.flags, "-c", DRIVER, json.dumps(kind.event)],
            cwd=kind.directory,
            env=kind.env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        # A child that hangs is killed, so its empty line ends the wait.
        watchdog = threading.Timer(CHILD_TIMEOUT, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            line = _result_line(process.stdout)
            total = time.perf_counter() - started
            process.communicate()
        finally:
            watchdog.cancel()
        errors.seek(0)
        return _sample(kind, line, total, errors.read())


def _result_line(stdout: IO[str]) -> str:
    """Read up to the driver's result line; what the app printed is skipped."""
    for line in stdout:
        if line.startswith(RESULT):
            return line.removeprefix(RESULT)
    return ""


def _sample(kind: Kind, line: str, total: float, errors: str) -> Sample:
    try:
        result = json.loads(line)
    except json.JSONDecodeError:
        raise RuntimeError(f"{kind.name} gave no result:\n{errors[-3000:]}") from None
    if result["status"] != 200:
        raise RuntimeError(
            f"{kind.name} answered {result['status']}:\n{errors[-3000:]}"
        )
    return Sample(total, result["import_s"], result["request_s"], result["cpu_s"])


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


def _import_profile(kind: Kind) -> dict[str, float]:
    """Self time of every import in one process, in ms, by top-level package."""
    with tempfile.TemporaryFile("w+") as errors:
        subprocess.run(
            [
                sys.executable,
                *kind.flags,
                "-X",
                "importtime",
                "-c",
                DRIVER,
                json.dumps(kind.event),
            ],
            cwd=kind.directory,
            env=kind.env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            check=True,
            timeout=CHILD_TIMEOUT,
        )
        errors.seek(0)
        return by_package(errors.read())


def by_package(importtime: str) -> dict[str, float]:
    """Sum ``-X importtime`` self times by top-level package: the heaviest, in ms."""
    totals: Counter[str] = Counter()
    for match in _IMPORT_LINE.finditer(importtime):
        totals[match.group(2).split(".")[0]] += int(match.group(1))
    return {name: round(us / 1000, 1) for name, us in totals.most_common(HEAVIEST)}


# Figures and the table.


def stats(samples: list[float]) -> dict[str, float]:
    """Median, 90th percentile (nearest rank) and minimum, in ms."""
    ordered = sorted(samples)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(p90 * 1000, 1),
        "min_ms": round(ordered[0] * 1000, 1),
        "n": len(ordered),
    }


def _figures(
    samples: dict[str, list[Sample]], imports: dict[str, dict[str, float]]
) -> dict[str, Any]:
    kinds = {
        name: {
            "total": stats([s.total for s in runs]),
            "import": stats([s.imported for s in runs]),
            "first_request": stats([s.request for s in runs]),
            "cpu": stats([s.cpu for s in runs]),
        }
        for name, runs in samples.items()
    }

    # Three places, so a ratio just above the target is not rounded onto it.
    def ratio(mine: str, theirs: str, part: str = "total") -> float:
        return round(
            kinds[mine][part]["median_ms"] / kinds[theirs][part]["median_ms"], 3
        )

    ratios = {
        "tracing_on": ratio("jupiter_traced", "bare"),
        "tracing_off": ratio("jupiter", "bare"),
        "cpu_tracing_on": ratio("jupiter_traced", "bare", "cpu"),
        "cpu_tracing_off": ratio("jupiter", "bare", "cpu"),
        "both_traced": ratio("jupiter_traced", "bare_traced"),
        "over_floor": ratio("jupiter_traced", "bare_floor"),
        "over_held": ratio("jupiter_traced", "bare_held"),
        "import_tracing_on": ratio("jupiter_traced", "bare", "import"),
        "import_tracing_off": ratio("jupiter", "bare", "import"),
        "package": ratio("package", "bare"),
        "package_sources": ratio("package_sources", "bare"),
        "package_bytecode_gain": ratio("package_sources", "package"),
    }
    return {
        "stage": STAGE,
        "first_request": "GET /api/usage with a valid key",
        "target_ratio": TARGET,
        "meets_target": ratios["tracing_on"] <= TARGET,
        "kinds": kinds,
        "ratios": ratios,
        "imports_by_package_ms": imports,
    }


def _rows(figures: dict[str, Any]) -> list[tuple[str, ...]]:
    kinds, ratios = figures["kinds"], figures["ratios"]

    def cell(name: str, part: str) -> str:
        figure = kinds[name][part]
        return f"{figure['median_ms']:.0f} ms (p90 {figure['p90_ms']:.0f})"

    verdict = "meets" if figures["meets_target"] else "misses"
    rows: list[tuple[str, ...]] = [
        (
            "spawn to first response, tracing on (dev/prod)",
            cell("jupiter_traced", "total"),
            cell("bare", "total"),
            f"{ratios['tracing_on']:.3f}x ({verdict} {TARGET}x)",
        ),
        (
            "spawn to first response, tracing off",
            cell("jupiter", "total"),
            cell("bare", "total"),
            f"{ratios['tracing_off']:.2f}x",
        ),
        (
            "spawn to first response, both patched for X-Ray",
            cell("jupiter_traced", "total"),
            cell("bare_traced", "total"),
            f"{ratios['both_traced']:.2f}x",
        ),
        (
            "spawn to first response, bare with X-Ray and a pydantic model",
            cell("jupiter_traced", "total"),
            cell("bare_floor", "total"),
            f"{ratios['over_floor']:.2f}x",
        ),
        (
            "spawn to first response, bare holding the collector as Jupiter does",
            cell("jupiter_traced", "total"),
            cell("bare_held", "total"),
            f"{ratios['over_held']:.2f}x",
        ),
    ]
    rows += [
        (
            "spawn to first response, from the deployment package (read-only)",
            cell("package", "total"),
            cell("bare", "total"),
            f"{ratios['package']:.2f}x",
        ),
        (
            "the same, the package's bytecode removed",
            cell("package_sources", "total"),
            cell("bare", "total"),
            f"{ratios['package_sources']:.2f}x"
            f" ({ratios['package_bytecode_gain']:.2f}x the shipped package)",
        ),
    ]
    parts = (
        ("cpu", "CPU time to first response"),
        ("import", "import of app"),
        ("first_request", "first request"),
    )
    for part, label in parts:
        for name, tracing in (("jupiter_traced", "on"), ("jupiter", "off")):
            ratio = kinds[name][part]["median_ms"] / kinds["bare"][part]["median_ms"]
            rows.append(
                (
                    f"{label}, tracing {tracing}",
                    cell(name, part),
                    cell("bare", part),
                    f"{ratio:.2f}x",
                )
            )
    imports = figures["imports_by_package_ms"]
    rows.append(
        (
            "heaviest imports, tracing on (self ms)",
            _heaviest(imports["jupiter_traced"]),
            _heaviest(imports["bare"]),
            "",
        )
    )
    return rows


def _heaviest(packages: dict[str, float], count: int = 4) -> str:
    return ", ".join(f"{name} {ms:.0f}" for name, ms in list(packages.items())[:count])
