"""``python -m chalicelib.sdks [DIR]``: write every SDK, unpacked and zipped.

``make sdks`` runs this into ``dist/sdks/``. The SDKs are rendered from the
same OpenAPI document the service serves.
"""

from __future__ import annotations

import sys
from pathlib import Path

from chalicelib.apidoc.openapi import build_openapi
from chalicelib.routes import REGISTRY
from chalicelib.sdks.generator import (
    DEFAULT_BASE_URL,
    LANGUAGES,
    PACKAGE_NAMES,
    render_sdk,
    zip_sdk,
)


def write_all(target: Path, base_url: str = DEFAULT_BASE_URL) -> list[Path]:
    """Write each SDK's folder and zip under ``target``; return the zips."""
    document = build_openapi(REGISTRY)
    zips = []
    for language in LANGUAGES:
        files = render_sdk(language, document, base_url)
        folder = target / PACKAGE_NAMES[language]
        for path, text in files.items():
            destination = folder / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text, encoding="utf-8")
        archive = target / f"{PACKAGE_NAMES[language]}.zip"
        archive.write_bytes(zip_sdk(language, files))
        zips.append(archive)
    return zips


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "dist/sdks")
    base_url = argv[2] if len(argv) > 2 else DEFAULT_BASE_URL
    for archive in write_all(target, base_url):
        sys.stdout.write(f"wrote {archive}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
