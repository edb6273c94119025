"""SDK fixtures: each SDK rendered from the app's OpenAPI document into a folder.

The tools the SDK tests run (node, mcs, mono) are looked up here: when one is
missing the tests that need it are skipped locally, and fail in CI (CI=true),
where .ci/run installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chalicelib.apidoc.openapi import build_openapi
from chalicelib.routes import REGISTRY
from chalicelib.sdks.generator import render_sdk

SDK_TESTS = Path(__file__).resolve().parent


def write_sdk(
    language: str, target: Path, base_url: str = "http://127.0.0.1:5012"
) -> Path:
    """Render ``language``'s SDK from the registry into ``target``."""
    for path, text in render_sdk(language, build_openapi(REGISTRY), base_url).items():
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text)
    return target


def require_tool(name: str) -> str:
    """Return the path of ``name``; skip locally, fail in CI, when it is missing."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (.ci/run installs it: see its apt-get line)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def python_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sdk("python", tmp_path_factory.mktemp("python-sdk"))


@pytest.fixture(scope="session")
def javascript_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sdk("javascript", tmp_path_factory.mktemp("javascript-sdk"))


@pytest.fixture(scope="session")
def unity_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_unity(write_sdk("unity", tmp_path_factory.mktemp("unity-sdk")))


def compile_unity(folder: Path) -> Path:
    """Compile the Unity SDK in ``folder`` with the stand-ins and the driver."""
    mcs = require_tool("mcs")
    require_tool("mono")
    program = folder / "SdkCheck.exe"
    sources = [
        *sorted(str(p) for p in (folder / "Runtime").glob("*.cs")),
        str(SDK_TESTS / "unity" / "UnityEngineStandIns.cs"),
        str(SDK_TESTS / "unity" / "SdkCheck.cs"),
    ]
    compiled = subprocess.run(
        [mcs, "-nologo", "-warnaserror+", "-out:" + str(program), *sources],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return program
