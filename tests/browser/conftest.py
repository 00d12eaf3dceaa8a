"""Browser journeys: Debian's Chromium driven by Playwright against the app served on a free port."""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not found: install Debian's chromium to run browser journeys")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture
def live_server(app):
    """The app on 127.0.0.1 with a free port, for the length of one test; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _context(browser, playwright, device: str | None):
    options = {"locale": "ja-JP", "timezone_id": "Asia/Tokyo"}
    if device:
        options.update({k: v for k, v in playwright.devices[device].items() if k != "default_browser_type"})
    else:
        options["viewport"] = {"width": 1280, "height": 900}
    return browser.new_context(**options)


@pytest.fixture
def phone(browser, playwright):
    """A page in an iPhone-sized Chromium context, in Japanese and Tokyo time."""
    context = _context(browser, playwright, "iPhone 13")
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser, playwright):
    context = _context(browser, playwright, None)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Contexts that a journey opens itself: desktop-sized, Japanese, Tokyo time."""
    return {**browser_context_args, "locale": "ja-JP", "timezone_id": "Asia/Tokyo",
            "viewport": {"width": 1280, "height": 800}}
