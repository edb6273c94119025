"""Handlers of the threat endpoints."""

from __future__ import annotations

from chalicelib.http.call import Call
from chalicelib.services import services
from chalicelib.threats.models import (
    CreateThreatRequest,
    ListThreatsQuery,
    ResolveThreatRequest,
    Threat,
    ThreatList,
)
from chalicelib.threats.service import Origin


def _origin(call: Call) -> Origin:
    return Origin(owner_id=call.key.owner_id, request_id=call.request_id)


def list_threats(call: Call) -> ThreatList:
    return services().threats.list_threats(call.query_as(ListThreatsQuery))


def get_threat(call: Call) -> Threat:
    return services().threats.get(call.path_params["threat_id"])


def create_threat(call: Call) -> Threat:
    return services().threats.report(call.body_as(CreateThreatRequest), _origin(call))


def resolve_threat(call: Call) -> Threat:
    body = call.body if call.body is not None else ResolveThreatRequest()
    assert isinstance(body, ResolveThreatRequest)
    return services().threats.resolve(
        call.path_params["threat_id"], body, _origin(call)
    )
