"""Handler of the event log endpoint."""

from __future__ import annotations

from chalicelib.events.log import EventList, ListEventsQuery
from chalicelib.http.call import Call
from chalicelib.services import services


def list_events(call: Call) -> EventList:
    return services().events.recent(call.key, call.query_as(ListEventsQuery))
