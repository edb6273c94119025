"""The Lambda package Chalice builds carries the SDK and docs templates.

Chalice packages ``app.py`` and ``chalicelib/`` (and ``vendor/``) and walks
them without following symlinks, so the templates live in
``chalicelib/sdk_templates/``; the top-level ``sdk_templates`` is a symlink to
them for people looking for the templates at the project's root.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from chalice.deploy.packager import AppOnlyDeploymentPackager, DependencyBuilder
from chalice.utils import UI, OSUtils

from chalicelib.sdks.generator import LANGUAGES

PROJECT = Path(__file__).resolve().parents[3]


def package(tmp_path: Path) -> set[str]:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(PROJECT / "app.py", project / "app.py")
    shutil.copytree(
        PROJECT / "chalicelib",
        project / "chalicelib",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    osutils = OSUtils()
    packager = AppOnlyDeploymentPackager(osutils, DependencyBuilder(osutils), UI())
    built = packager.create_deployment_package(str(project), "python3.11")
    return set(zipfile.ZipFile(built).namelist())


def test_lambda_package_contains_every_sdk_and_docs_template(tmp_path: Path) -> None:
    names = package(tmp_path)

    templates = PROJECT / "chalicelib" / "sdk_templates"
    expected = {
        f"chalicelib/{path.relative_to(PROJECT / 'chalicelib').as_posix()}"
        for path in templates.rglob("*.j2")
    }
    assert {p.split("/")[2] for p in expected} >= set(LANGUAGES)
    assert expected <= names
    assert "chalicelib/apidoc/templates/docs.html.j2" in names
    assert "chalicelib/apidoc/templates/docs.js" in names


def test_top_level_sdk_templates_is_the_packaged_folder() -> None:
    top = PROJECT / "sdk_templates"
    assert top.is_symlink()
    assert top.resolve() == (PROJECT / "chalicelib" / "sdk_templates").resolve()
