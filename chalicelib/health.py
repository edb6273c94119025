"""``GET /api/health``: is the service up, and can it reach its store?

A store that cannot be reached makes it a 503 ``store_unavailable`` problem
with ``Retry-After``, like every other request that needs the store.
"""

from __future__ import annotations

import logging
from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError
from chalice.app import Response

from chalicelib import __version__, aws, logs
from chalicelib.errors import StoreUnavailable
from chalicelib.http.call import Call
from chalicelib.models import Model
from chalicelib.services import services

logger = logging.getLogger(__name__)


class Health(Model):
    """The service's health."""

    status: Literal["ok"]
    version: str
    stage: str
    store: Literal["reachable"]


def health(call: Call) -> Response:
    config = services().settings
    if not _store_reachable(config.keys_table):
        raise StoreUnavailable("the store is unreachable")
    body = Health(
        status="ok", version=__version__, stage=config.stage, store="reachable"
    )
    return Response(
        body=body.model_dump_json(),
        status_code=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def _store_reachable(table: str) -> bool:
    try:
        aws.dynamodb().describe_table(TableName=table)
    except (ClientError, BotoCoreError) as exc:
        logs.line(
            logger,
            "health_store_unreachable",
            logging.WARNING,
            error=type(exc).__name__,
        )
        return False
    return True
