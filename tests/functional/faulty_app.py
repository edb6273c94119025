"""A Chalice app that fails the load run: 500 on threat reads, 429 on usage.

Served like the load benchmark's bare app (``python -m
tests.functional.faulty_app PORT``), so the load clients meet real error
answers from the same local server.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from chalice.app import Chalice, Response

from benchmarks.bare_app import serve

app = Chalice(app_name="jupiter-faulty")


class Broken(RuntimeError):
    """Raised by every threat read, so that Chalice answers 500."""


@app.route("/api/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.route("/api/threats/{threat_id}")
def get_threat(threat_id: str) -> dict[str, Any]:
    raise Broken(threat_id)


@app.route("/api/usage")
def usage() -> Response:
    return Response(
        body={"code": "rate_limit_exceeded"},
        status_code=429,
        headers={"Retry-After": "1"},
    )


if __name__ == "__main__":
    asyncio.run(serve(app, int(sys.argv[1])))
