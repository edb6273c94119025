"""Every operation of the OpenAPI document gets a method in every SDK."""

from __future__ import annotations

import ast
import io
import re
import zipfile
from typing import Any

import pytest
from pydantic import BaseModel

from chalicelib.apidoc.openapi import build_openapi
from chalicelib.http.registry import Registry, Route
from chalicelib.routes import REGISTRY
from chalicelib.sdks.description import camel, describe, pascal
from chalicelib.sdks.generator import (
    LANGUAGES,
    SAMPLE_LANGUAGES,
    TEMPLATES,
    render_sdk,
    sample,
    zip_sdk,
)

DOCUMENT = build_openapi(REGISTRY)
OPERATIONS = describe(DOCUMENT)
PYTHON = render_sdk("python", DOCUMENT)
JAVASCRIPT = render_sdk("javascript", DOCUMENT)
UNITY = render_sdk("unity", DOCUMENT)


def python_methods(files: dict[str, str]) -> set[str]:
    tree = ast.parse(files["jupiter_vr_client/client.py"])
    client = next(
        n
        for n in tree.body
        if isinstance(n, ast.ClassDef) and n.name == "JupiterVRClient"
    )
    return {n.name for n in client.body if isinstance(n, ast.FunctionDef)}


def javascript_methods(files: dict[str, str]) -> set[str]:
    return set(re.findall(r"^  (\w+)\(", files["index.js"], re.MULTILINE))


def unity_methods(files: dict[str, str]) -> set[str]:
    return set(
        re.findall(r"public IEnumerator (\w+)\(", files["Runtime/JupiterVRClient.cs"])
    )


def test_every_operation_has_a_method_in_all_three_sdks() -> None:
    names = [op.name for op in OPERATIONS]
    assert names, "the document lists no operation"
    assert set(names) <= python_methods(PYTHON)
    assert {camel(n) for n in names} <= javascript_methods(JAVASCRIPT)
    assert {pascal(n) for n in names} <= unity_methods(UNITY)


def test_typescript_declarations_cover_every_operation() -> None:
    declared = set(re.findall(r"^  (\w+)\(", JAVASCRIPT["index.d.ts"], re.MULTILINE))
    assert {op.camel for op in OPERATIONS} <= declared


def test_the_design_calls_exist_when_their_routes_do() -> None:
    routes = {f"{op.method} {op.path}" for op in OPERATIONS}
    expected = {
        "GET /api/threats": ("get_threats", "getThreats", "GetThreats"),
        "POST /api/vr/sessions": (
            "create_vr_session",
            "createVRSession",
            "CreateVRSession",
        ),
        "GET /api/analytics/{metric}": (
            "get_analytics",
            "getAnalytics",
            "GetAnalytics",
        ),
    }
    for route, (py, js, cs) in expected.items():
        if route in routes:
            assert py in python_methods(PYTHON)
            assert js in javascript_methods(JAVASCRIPT)
            assert cs in unity_methods(UNITY)


def test_a_new_route_reaches_every_sdk_without_a_template_edit() -> None:
    class Widget(BaseModel):
        widget_id: str

    def handler(call: Any) -> Widget:
        return Widget(widget_id="w")

    extra = Route(
        "get_widget",
        "GET",
        "/api/widgets/{widget_id}",
        handler,
        "Read a widget",
        "Widgets",
        response=Widget,
    )
    document = build_openapi(Registry([*REGISTRY.routes, extra]))
    assert "get_widget" in python_methods(render_sdk("python", document))
    assert "getWidget" in javascript_methods(render_sdk("javascript", document))
    assert "GetWidget" in unity_methods(render_sdk("unity", document))


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_sdk_zip_has_a_readme_and_an_example(language: str) -> None:
    files = render_sdk(language, DOCUMENT)
    archive = zipfile.ZipFile(io.BytesIO(zip_sdk(language, files)))
    names = archive.namelist()
    assert any(n.endswith("/README.md") for n in names)
    assert any("/examples/" in n.lower() for n in names)
    assert all(info.date_time == (2024, 1, 1, 0, 0, 0) for info in archive.infolist())


@pytest.mark.parametrize("language", LANGUAGES)
def test_zips_are_reproducible(language: str) -> None:
    files = render_sdk(language, DOCUMENT)
    assert zip_sdk(language, files) == zip_sdk(language, dict(files))


def test_generated_python_compiles() -> None:
    for path, text in PYTHON.items():
        if path.endswith(".py"):
            compile(text, path, "exec")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_every_operation_has_a_sample_in_each_language(operation: Any) -> None:
    for language in SAMPLE_LANGUAGES:
        code = sample(language, operation)
        assert code
    python = sample("python", operation)
    compile(python, operation.name, "exec")
    assert f"client.{operation.name}(" in python
    assert f"client.{operation.camel}(" in sample("javascript", operation)
    assert f"client.{operation.pascal}(" in sample("unity", operation)


def test_readmes_show_the_same_samples_as_the_docs() -> None:
    for operation in OPERATIONS:
        assert sample("python", operation) in PYTHON["README.md"]
        assert sample("javascript", operation) in JAVASCRIPT["README.md"]
        assert sample("unity", operation) in UNITY["README.md"]


def test_templates_are_reachable_from_the_top_level_folder() -> None:
    top = TEMPLATES.parent.parent / "sdk_templates"
    assert top.resolve() == TEMPLATES.resolve()
    assert (top / "python" / "jupiter_vr_client" / "client.py.j2").is_file()


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="cobol"):
        render_sdk("cobol", DOCUMENT)
