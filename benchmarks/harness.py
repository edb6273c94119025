"""What in-process benchmarks share: a moto sandbox, proxy events, a call recorder.

The sandbox provisions the tables from ``infrastructure/`` under ``mock_aws``
and sets the service's environment for the duration of the block only, so a
benchmark can run inside a test process without leaking its settings.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

# Fake credentials and no X-Ray before anything creates a boto3 session.
for _name, _value in (
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ.setdefault(_name, _value)
os.environ["AWS_XRAY_SDK_ENABLED"] = "false"

from moto import mock_aws  # noqa: E402

from chalicelib import services as services_module  # noqa: E402
from infrastructure.provision import environment, provision  # noqa: E402

SOURCE_IP = "198.51.100.23"


@contextmanager
def sandbox(stage: str = "local") -> Iterator[dict[str, str]]:
    """Provision ``stage`` under moto and set its environment; undo both after."""
    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws():
            env = {
                **environment(provision(stage)),
                "JUPITER_STAGE": stage,
                "JUPITER_SERVER_SECRET": secrets.token_hex(32),
                "JUPITER_TRACING": "false",
            }
            os.environ.update(env)
            services_module.reset()
            with _request_log_written():
                yield env
    finally:
        services_module.reset()
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _request_log_written() -> Iterator[None]:
    """Format and write every request log line, as Lambda's runtime would.

    Without a handler Python drops INFO records before formatting them, which
    would leave the cost of the access log out of the measurement.
    """
    with open(os.devnull, "w") as sink:  # noqa: PTH123 - a stream, not a path
        handler = logging.StreamHandler(sink)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            yield
        finally:
            root.removeHandler(handler)


def proxy_event(
    method: str,
    path: str,
    headers: dict[str, str],
    body: str | None = None,
    path_params: dict[str, str] | None = None,
    resource: str | None = None,
) -> dict[str, Any]:
    """Build an API Gateway REST proxy event, as Lambda hands it to the app."""
    resource = resource or path
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/bench{path}",
            "stage": "bench",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": SOURCE_IP, "userAgent": "jupiter-bench"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def lambda_context() -> Any:
    """Return the few attributes of a Lambda context anything might read."""
    return SimpleNamespace(
        aws_request_id=str(uuid.uuid4()),
        function_name="jupiter-api-bench",
        memory_limit_in_mb=1024,
        get_remaining_time_in_millis=lambda: 15_000,
    )


@dataclass
class CallRecorder:
    """Counts a client's API calls (botocore ``before-call``) and keeps their params.

    ``before-call`` fires once per API call, before any retry, so on moto
    (which never asks for one) it counts round trips.
    """

    client: Any
    counts: Counter[str] = field(default_factory=Counter)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __enter__(self) -> CallRecorder:
        events = self.client.meta.events
        events.register("provide-client-params.dynamodb", self._keep)
        events.register("before-call.dynamodb", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        events = self.client.meta.events
        events.unregister("provide-client-params.dynamodb", self._keep)
        events.unregister("before-call.dynamodb", self._count)

    def _keep(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        # A reference only: copying here would bill the copy to the request.
        self.calls.append((model.name, params))

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def total(self) -> int:
        return sum(self.counts.values())

    def clear(self) -> None:
        self.counts.clear()
        self.calls.clear()


@dataclass
class Timings:
    """Wall-clock and process CPU seconds of each measured block.

    On a shared machine the wall clock also counts time spent waiting for a
    core; CPU time does not, so it is the steadier measure of work done.
    """

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @contextmanager
    def measure(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)
