"""The docs page: one self-contained HTML file rendered from the API description.

Its style and script are inline and nothing is loaded from elsewhere, so it
works offline; the Content-Security-Policy pins both by hash and lets the page
talk only to this service.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from chalicelib.policy import GIB, TIER_LIMITS
from chalicelib.sdks.description import Document, Operation, describe
from chalicelib.sdks.generator import LANGUAGES, SAMPLE_LANGUAGES, cs_string, sample

TEMPLATES = Path(__file__).resolve().parent / "templates"
TABS = (
    ("overview", "Overview"),
    ("authentication", "Authentication"),
    ("rest", "REST Endpoints"),
    ("websocket", "WebSocket"),
    ("sdks", "Client SDKs"),
    ("limits", "Rate Limits"),
)
SAMPLE_TITLES = {
    "curl": "cURL",
    "python": "Python",
    "javascript": "JavaScript",
    "unity": "Unity",
}


@dataclass(frozen=True)
class Page:
    """The rendered page and the policy that goes with it."""

    html: str
    content_security_policy: str


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(openapi: Document, asyncapi: Document, base_url: str) -> Page:
    """Render the page for a service reached at ``base_url``."""
    env = _environment()
    style = env.get_template("docs.css").render()
    script = env.get_template("docs.js").render()
    operations = describe(openapi)
    html = env.get_template("docs.html.j2").render(
        title=openapi["info"]["title"],
        version=openapi["info"]["version"],
        summary=openapi["info"].get("summary", ""),
        base_url=base_url,
        tabs=TABS,
        tags=_by_tag(operations, base_url),
        aliases=_aliases(operations),
        frames=_frames(asyncapi),
        ws_url=_ws_url(asyncapi),
        tiers=_tiers(),
        languages=LANGUAGES,
        style=style,
        script=script,
    )
    return Page(html=html, content_security_policy=_policy(style, script))


def _by_tag(
    operations: list[Operation], base_url: str
) -> dict[str, list[dict[str, Any]]]:
    tags: dict[str, list[dict[str, Any]]] = {}
    for op in operations:
        tags.setdefault(op.tag, []).append(
            {
                "op": op,
                "body": (
                    json.dumps(op.body_example, indent=2) if op.has_body else None
                ),
                "samples": [
                    (SAMPLE_TITLES[language], sample(language, op, base_url))
                    for language in SAMPLE_LANGUAGES
                ],
            }
        )
    return tags


def _aliases(operations: list[Operation]) -> dict[str, Any]:
    """Tell which of the SDKs' convenience calls this service has."""
    routes = {f"{op.method} {op.path}": op for op in operations}
    session = routes.get("POST /api/vr/sessions")
    example = json.dumps(session.body_example) if session else None
    return {
        "threats": "GET /api/threats" in routes,
        "analytics": "GET /api/analytics/{metric}" in routes,
        "vr_session": example,
        "vr_session_py": repr(session.body_example) if session else None,
        "vr_session_cs": cs_string(example) if example else None,
    }


def _frames(asyncapi: Document) -> dict[str, list[dict[str, Any]]]:
    messages = asyncapi["components"]["messages"]
    result: dict[str, list[dict[str, Any]]] = {"receive": [], "send": []}
    for operation in asyncapi["operations"].values():
        name = operation["messages"][0]["$ref"].rsplit("/", 1)[-1]
        message = messages[name]
        result[operation["action"]].append(
            {
                "name": name,
                "summary": message["summary"],
                "example": json.dumps(message["examples"][0]["payload"], indent=2),
            }
        )
    return result


def _ws_url(asyncapi: Document) -> str:
    server = asyncapi["servers"]["service"]
    return f"{server['protocol']}://{server['host']}{server['pathname']}"


def _tiers() -> list[dict[str, Any]]:
    return [
        {
            "name": tier.value,
            "per_hour": f"{limits.per_hour:,}",
            "burst": f"{limits.burst:,}",
            "per_day": f"{limits.per_day:,}",
            "data": _size(limits.bytes_per_month),
            "connections": limits.connections,
        }
        for tier, limits in TIER_LIMITS.items()
    ]


def _size(size: int) -> str:
    gib = size / GIB
    return f"{gib / 1024:g} TB" if gib >= 1024 else f"{gib:g} GB"


def _policy(style: str, script: str) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src '{_digest(script)}'",
            f"style-src '{_digest(style)}'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _digest(text: str) -> str:
    raw = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(raw).decode("ascii")
