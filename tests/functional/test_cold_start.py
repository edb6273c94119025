"""The cold-start benchmark, with one counted process of each kind.

``make bench`` runs many more; here the point is that every figure is measured
and the comparison is computed, not how fast anything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import cold_start
from benchmarks.cold_start import Kind
from benchmarks.report import Report, render
from tests.functional.test_heap_in_lambda import COLLECTOR_DRIVER

KINDS = (
    "jupiter_traced",
    "jupiter",
    "bare",
    "bare_traced",
    "bare_floor",
    "bare_held",
    "package",
    "package_sources",
)

# Serves the first request as the benchmark does, then lists what was imported.
MODULES_DRIVER = cold_start.DRIVER.replace(
    "served = time.perf_counter()",
    "served = time.perf_counter()\nprint(json.dumps(sorted(sys.modules)), flush=True)",
)
assert MODULES_DRIVER != cold_start.DRIVER
# Modules only some routes or other Lambda functions need.
NOT_FOR_A_FIRST_GET = (
    "jinja2",
    "aws_lambda_powertools.utilities.idempotency",
    "chalicelib.apidoc.openapi",
    "chalicelib.apidoc.docs_page",
    "chalicelib.sdks.generator",
    "chalicelib.realtime.service",
    "chalicelib.realtime.handlers",
    "chalicelib.webhooks.delivery",
    "chalicelib.webhooks.transport",
    "chalicelib.sessions.service",
    "chalicelib.analytics.service",
    # app.py names the queue and the stream it binds without them
    # (chalicelib/bindings.py).
    "chalicelib.events.dispatcher",
    "chalicelib.webhooks.queue",
    # Quota events are recorded twice a month at most (chalicelib/admission/quota.py).
    "chalicelib.events.outbox",
    # Only the key routes act as an actor (chalicelib/http/call.py).
    "chalicelib.keys.service",
    "chalicelib.keys.models",
    # The registry names the handlers and models of other routes; unused, they
    # are never imported.
    "chalicelib.threats.api",
    "chalicelib.threats.models",
    "chalicelib.sessions.models",
    "chalicelib.webhooks.models",
    "chalicelib.analytics.models",
    "chalicelib.apidoc.api",
    # The clients and the attribute-value codec are botocore's and the
    # service's own (see chalicelib/dynamo.py); only idempotent POSTs load boto3.
    "boto3",
    "s3transfer",
    # The X-Ray SDK needs none of it; wrapt from 2.2 imports it (see
    # requirements.txt).
    "asyncio",
)


@pytest.fixture(scope="module")
def report() -> Report:
    return cold_start.run(processes=1)


def test_every_kind_of_process_is_timed_in_each_part(report: Report) -> None:
    kinds = report.figures["kinds"]

    assert set(kinds) == set(KINDS)
    for figures in kinds.values():
        for part in ("total", "import", "first_request", "cpu"):
            assert figures[part]["n"] == 1
            assert 0 < figures[part]["median_ms"] <= figures[part]["p90_ms"]


def test_a_process_is_timed_from_its_spawn_past_its_import(report: Report) -> None:
    for figures in report.figures["kinds"].values():
        split = figures["import"]["median_ms"] + figures["first_request"]["median_ms"]
        assert figures["total"]["median_ms"] > split


def test_ratios_compare_jupiter_with_the_bare_app(report: Report) -> None:
    kinds, ratios = report.figures["kinds"], report.figures["ratios"]

    deployed = kinds["jupiter_traced"]["total"]["median_ms"]
    bare = kinds["bare"]["total"]["median_ms"]
    assert ratios["tracing_on"] == round(deployed / bare, 3)
    assert set(ratios) >= {"tracing_on", "tracing_off", "both_traced", "over_floor"}
    assert report.figures["meets_target"] is (ratios["tracing_on"] <= 1.3)


def test_the_first_request_is_an_authenticated_one(report: Report) -> None:
    assert report.figures["first_request"] == "GET /api/usage with a valid key"
    assert report.figures["stage"] == "dev"


def test_imports_are_profiled_by_package(report: Report) -> None:
    imports = report.figures["imports_by_package_ms"]

    assert "chalicelib" in imports["jupiter_traced"]
    assert "chalicelib" not in imports["bare"]
    assert "botocore" in imports["bare"]


def test_report_prints_one_row_per_figure(report: Report) -> None:
    table = render(report)

    assert table.startswith("Cold start")
    assert table.count("\n| ") == len(report.rows) + 1
    json.dumps(report.figures)


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Kind]]:
    """Every kind of process, with their store running."""
    with cold_start._store() as url:
        made = cold_start._kinds(url, tmp_path_factory.mktemp("cold"))
        yield {kind.name: kind for kind in made}


@pytest.fixture
def deployed(kinds: dict[str, Kind]) -> Kind:
    """The deployed configuration (tracing on)."""
    return kinds["jupiter_traced"]


@pytest.mark.parametrize(
    ("name", "held"), [("jupiter_traced", True), ("bare_held", True), ("bare", False)]
)
def test_the_collector_is_held_until_the_first_answer_where_the_kind_says(
    kinds: dict[str, Kind], name: str, held: bool
) -> None:
    imported_on, _, enabled, frozen = _listed_by_first_request(
        kinds[name], COLLECTOR_DRIVER
    )
    was_held = not imported_on

    assert (was_held, enabled) == (held, True)
    assert (frozen > 0) is held


def _listed_by_first_request(kind: Kind, driver: str) -> list[Any]:
    """Serve ``kind``'s first request with ``driver``; return the list it printed."""
    served = subprocess.run(
        [sys.executable, "-c", driver, json.dumps(kind.event)],
        cwd=kind.directory,
        env=kind.env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = served.stdout.splitlines()
    result = [line for line in lines if line.startswith(cold_start.RESULT)]
    assert json.loads(result[0].removeprefix(cold_start.RESULT))["status"] == 200
    # The app's own metrics lines are objects; what the driver adds is a list.
    listed: list[Any] = json.loads(next(line for line in lines if line[:1] == "["))
    return listed


def _imported_by_first_request(kind: Kind) -> set[str]:
    return set(_listed_by_first_request(kind, MODULES_DRIVER))


def test_a_first_authenticated_get_imports_only_what_it_uses(deployed: Kind) -> None:
    imported = _imported_by_first_request(deployed)

    assert {"chalicelib.admission.gateway", "aws_xray_sdk.core"} <= imported
    assert imported.isdisjoint(NOT_FOR_A_FIRST_GET)


def test_importtime_lines_are_summed_by_top_level_package() -> None:
    log = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:      1500 |       1500 |     botocore.utils",
            "import time:       500 |       2000 |   botocore",
            "import time:      2000 |       4000 | app",
        ]
    )

    assert cold_start.by_package(log) == {"botocore": 2.0, "app": 2.0}


def test_percentile_is_the_nearest_rank() -> None:
    figures = cold_start.stats([i / 1000 for i in range(1, 11)])

    assert figures == {"median_ms": 5.5, "p90_ms": 9.0, "min_ms": 1.0, "n": 10}


def _kind(directory: Path) -> Kind:
    return Kind("broken", directory, {"PATH": ""}, {})


def test_a_child_that_fails_is_reported_with_its_errors(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("raise RuntimeError('no app here')\n")

    with pytest.raises(RuntimeError, match="no app here"):
        cold_start._spawn(_kind(tmp_path))


def test_a_child_that_answers_an_error_is_refused(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "def app(event, context):\n    return {'statusCode': 401}\n"
    )

    with pytest.raises(RuntimeError, match="broken answered 401"):
        cold_start._spawn(_kind(tmp_path))


def test_a_child_that_hangs_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app.py").write_text("import time\ntime.sleep(600)\n")
    monkeypatch.setattr(cold_start, "CHILD_TIMEOUT", 1.0)

    with pytest.raises(RuntimeError, match="broken gave no result"):
        cold_start._spawn(_kind(tmp_path))


def test_a_store_that_exits_is_reported() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()

    with pytest.raises(RuntimeError, match=r"exited \(3\)"):
        cold_start._wait_until_answering("http://127.0.0.1:9", process)
