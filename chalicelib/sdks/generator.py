"""Render the client SDKs and the code samples from the OpenAPI document.

Each language is a folder of Jinja2 templates under ``chalicelib/sdk_templates/``
(also reachable as the top-level ``sdk_templates/`` symlink); every file in it
is rendered to the same relative path without its ``.j2`` suffix. The templates
loop over the operations, so a new route needs no template edit.
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from chalicelib import __version__
from chalicelib.sdks.description import (
    Document,
    Operation,
    camel,
    cs_name,
    describe,
    example_value,
    pascal,
    python_name,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "sdk_templates"
LANGUAGES = ("python", "javascript", "unity")
SAMPLE_LANGUAGES = ("curl", "python", "javascript", "unity")
DEFAULT_BASE_URL = "http://127.0.0.1:5012"
PACKAGE_NAMES = {
    "python": "jupiter-vr-client-python",
    "javascript": "jupiter-vr-client-javascript",
    "unity": "jupiter-vr-client-unity",
}
# A fixed time for every zip entry, so the same SDK always zips to the same bytes.
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


@cache
def environment() -> Environment:
    """Return the Jinja2 environment of the SDK templates."""
    env = Environment(  # noqa: S701 - renders source code, never HTML
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        camel=camel,
        pascal=pascal,
        py=python_name,
        cs_name=cs_name,
        py_literal=py_literal,
        js_literal=js_literal,
        cs_string=cs_string,
        json=lambda value: json.dumps(value, ensure_ascii=False),
        shell_quote=shell_quote,
    )
    env.globals.update(example_value=example_value)
    return env


def render_sdk(
    language: str, document: Document, base_url: str = DEFAULT_BASE_URL
) -> dict[str, str]:
    """Return the files of ``language``'s SDK, by relative path."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown SDK language {language!r}")
    context = _context(document, base_url)
    env = environment()
    files = {}
    for template in sorted((TEMPLATES / language).rglob("*.j2")):
        name = template.relative_to(TEMPLATES).as_posix()
        output = template.relative_to(TEMPLATES / language).as_posix()
        files[output.removesuffix(".j2")] = env.get_template(name).render(context)
    return files


def sample(
    language: str, operation: Operation, base_url: str = DEFAULT_BASE_URL
) -> str:
    """Return the code sample calling ``operation`` in ``language``."""
    template = environment().get_template(f"samples/{language}.j2")
    return template.render(op=operation, base_url=base_url).strip()


def zip_sdk(language: str, files: dict[str, str]) -> bytes:
    """Return ``files`` zipped under the SDK's folder name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in sorted(files.items()):
            entry = zipfile.ZipInfo(f"{PACKAGE_NAMES[language]}/{path}", _ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, text)
    return buffer.getvalue()


def _context(document: Document, base_url: str) -> dict[str, Any]:
    operations = describe(document)
    by_route = {f"{op.method} {op.path}": op for op in operations}
    return {
        "operations": operations,
        "by_route": by_route,
        "version": document.get("info", {}).get("version", __version__),
        "title": document.get("info", {}).get("title", "Jupiter API"),
        "base_url": base_url.rstrip("/"),
        "sample": lambda language, op: sample(language, op, base_url),
    }


def py_literal(value: Any) -> str:
    """Return ``value`` (JSON data) as a Python literal."""
    return repr(value)


def js_literal(value: Any) -> str:
    """Return ``value`` (JSON data) as a JavaScript literal."""
    return json.dumps(value, ensure_ascii=False)


def cs_string(value: str) -> str:
    """Return ``value`` as a C# verbatim string literal."""
    return '@"' + value.replace('"', '""') + '"'


def shell_quote(value: str) -> str:
    """Return ``value`` single-quoted for a POSIX shell."""
    return "'" + value.replace("'", "'\"'\"'") + "'"
