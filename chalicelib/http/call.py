"""What a route handler receives: the admitted key and the validated request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel

from chalicelib.admission.gateway import Principal

if TYPE_CHECKING:
    from chalicelib.keys.service import Actor


class Call(NamedTuple):
    """One request, after admission and validation."""

    request_id: str
    source_ip: str
    user_agent: str
    path_params: dict[str, str]
    headers: dict[str, str]
    principal: Principal | None
    body: BaseModel | None
    query: BaseModel | None
    raw_body: bytes

    def body_as(self, model: type[Any]) -> Any:
        assert isinstance(self.body, model)
        return self.body

    def query_as(self, model: type[Any]) -> Any:
        assert isinstance(self.query, model)
        return self.query

    @property
    def key(self) -> Principal:
        """The admitted key (routes that are not public always have one)."""
        assert self.principal is not None
        return self.principal

    @property
    def actor(self) -> Actor:
        # Imported here: only the key routes act as an actor, and the key
        # service's models are no part of any other route's cold start.
        from chalicelib.keys.service import Actor

        key = self.key
        return Actor(
            key_id=key.key_id,
            owner_id=key.owner_id,
            scopes=key.scopes,
            tier=key.tier,
            source_ip=self.source_ip,
            user_agent=self.user_agent,
            request_id=self.request_id,
        )
