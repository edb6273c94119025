"""The docs page in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import PROJECT_DIR, LocalStack, create_key
from tests.sdk.conftest import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

TABS = ("overview", "authentication", "rest", "websocket", "sdks", "limits")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_DIR / "dist"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = require_tool("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("the playwright package is not installed (requirements-dev.txt)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


class Watch:
    """What the page did: console errors and every request it sent."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def outside(self) -> list[str]:
        return [u for u in self.requests if urlsplit(u).hostname != "127.0.0.1"]


def try_it(page: Any, operation: str) -> dict[str, Any]:
    article = page.locator(f"#op-{operation}")
    article.locator("summary").click()
    article.locator(".send").click()
    article.locator(".status.ok, .status.err").wait_for(timeout=15_000)
    status = article.locator(".status").text_content()
    text = article.locator(".response").text_content()
    return {"status": status, "body": json.loads(text[text.index("\n{") :])}


def open_docs(browser: Any, stack: LocalStack, width: int, height: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": height})
    watch = Watch(page)
    page.goto(stack.url("/api/docs"))
    return page, watch


def test_docs_page_tabs_and_try_it_work_with_a_typed_key(
    browser: Any, stack: LocalStack
) -> None:
    key = create_key(stack, ["READ_THREATS"], owner="org_docs")
    page, watch = open_docs(browser, stack, 1280, 900)

    for tab in TABS:
        page.click(f"#tab-{tab}")
        assert page.is_visible(f"#panel-{tab}")
        assert page.locator("[role=tabpanel]:visible").count() == 1
    page.click("#tab-rest")
    page.fill("#key-id", key["key_id"])
    page.fill("#key-secret", key["key_secret"])
    health = try_it(page, "get_health")
    threats = try_it(page, "list_threats")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "docs-page.png"), full_page=False)

    assert health["status"].startswith("200") and health["body"]["status"] == "ok"
    assert threats["status"].startswith("200")
    assert isinstance(threats["body"]["threats"], list)
    assert watch.errors == []
    assert watch.outside() == []
    assert key["key_secret"] not in page.url
    assert all(key["key_secret"] not in url for url in watch.requests)
    storage = page.evaluate("() => [localStorage.length, sessionStorage.length]")
    assert storage == [0, 0]
    page.close()


def test_docs_page_is_usable_on_a_phone_sized_screen(
    browser: Any, stack: LocalStack
) -> None:
    page, watch = open_docs(browser, stack, 390, 844)

    page.click("#tab-limits")
    table = page.locator("#tier-table")
    assert table.is_visible()
    scroll_width = page.evaluate("() => document.body.scrollWidth")
    page.click("#tab-rest")
    page.locator("#op-list_threats").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "docs-page-phone.png"))

    assert scroll_width <= 390
    assert watch.errors == [] and watch.outside() == []
    page.close()


def test_copy_buttons_copy_the_sample(browser: Any, stack: LocalStack) -> None:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(stack.url("/api/docs"))
    page.click("#tab-rest")
    sample = page.locator("#op-get_health .sample").first
    sample.locator(".copy").click()
    sample.locator(".copy.done").wait_for(timeout=5_000)

    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == sample.locator("code").text_content()
    assert copied.startswith("curl ")
    context.close()
