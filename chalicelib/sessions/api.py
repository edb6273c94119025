"""Handlers of the VR session endpoints."""

from __future__ import annotations

from chalicelib.http.call import Call
from chalicelib.services import services
from chalicelib.sessions.models import (
    CreateSessionRequest,
    ListSessionsQuery,
    Session,
    SessionList,
)


def create_session(call: Call) -> Session:
    return services().sessions.start(
        call.key, call.body_as(CreateSessionRequest), call.request_id
    )


def list_sessions(call: Call) -> SessionList:
    return services().sessions.list_sessions(call.key, call.query_as(ListSessionsQuery))


def get_session(call: Call) -> Session:
    return services().sessions.get(call.key, call.path_params["session_id"])


def end_session(call: Call) -> Session:
    return services().sessions.end(
        call.key, call.path_params["session_id"], call.request_id
    )
