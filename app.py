"""Jupiter API: the Chalice application. Thin by design: all logic is in chalicelib."""

from __future__ import annotations

import logging

from chalice.app import Chalice

from chalicelib.http.edge import Edge
from chalicelib.routes import REGISTRY

app = Chalice(app_name="jupiter-api")
app.log.setLevel(logging.INFO)
logging.getLogger("chalicelib").setLevel(logging.INFO)

Edge(app, REGISTRY).mount()
