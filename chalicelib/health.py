"""``GET /api/health``: is the service up, and can it reach its store?"""

from __future__ import annotations

import logging
from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError
from chalice.app import Response

from chalicelib import __version__, aws
from chalicelib.http.call import Call
from chalicelib.models import Model
from chalicelib.services import services

logger = logging.getLogger(__name__)


class Health(Model):
    """The service's health."""

    status: Literal["ok", "degraded"]
    version: str
    stage: str
    store: Literal["reachable", "unreachable"]


def health(call: Call) -> Response:
    config = services().settings
    reachable = _store_reachable(config.keys_table)
    body = Health(
        status="ok" if reachable else "degraded",
        version=__version__,
        stage=config.stage,
        store="reachable" if reachable else "unreachable",
    )
    return Response(
        body=body.model_dump_json(),
        status_code=200 if reachable else 503,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def _store_reachable(table: str) -> bool:
    try:
        aws.dynamodb().describe_table(TableName=table)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("health check: store unreachable (%s)", type(exc).__name__)
        return False
    return True
