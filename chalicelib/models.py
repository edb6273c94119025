"""The base of the service's request, response and frame models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A pydantic model whose validator and serializer are built on first use.

    By default pydantic builds a model's schema when its class is defined: a
    millisecond or more for each of the service's models, and ``app.py``
    imports them all while a request uses a few. Deferred, a model is built
    the first time it validates, serializes or describes itself, so a cold
    start pays only for the models its first request needs.
    """

    model_config = ConfigDict(defer_build=True)
