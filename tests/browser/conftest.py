"""Browser journeys: Debian's Chromium driven by Playwright against the app served on a free port."""

from __future__ import annotations

import os
import threading
from urllib.parse import quote

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from portal.sign_in import SlidingCookieSessionInterface
from tests.browser.experience import axe_violations, with_axe

# Debian's chromium-headless-shell is the same Chromium release built without the browser's user interface
# (what Playwright itself runs headless): the journeys cost about half the CPU they cost in /usr/bin/chromium,
# which is used where the shell is not installed. PORTAL_CHROMIUM names another binary.
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
CHROMIUM = os.environ.get("PORTAL_CHROMIUM") or (
    HEADLESS_SHELL if os.path.exists(HEADLESS_SHELL) else "/usr/bin/chromium"
)
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
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not found: install Debian's chromium-headless-shell (or chromium) "
                                   "to run browser journeys")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


class PageRecorder:
    """WSGI middleware that keeps every full HTML page a browser navigated to (``Sec-Fetch-Dest: document``,
    not an htmx fragment, not a redirect): what the journey's user saw, to be checked with axe-core."""

    def __init__(self, app):
        self.app = app
        self.pages: list[tuple[str, str, str, int, bytes]] = []

    def __call__(self, environ, start_response):
        if environ.get("HTTP_SEC_FETCH_DEST") != "document" or environ.get("HTTP_HX_REQUEST"):
            return self.app(environ, start_response)
        seen = {}

        def start(status, headers, exc_info=None):
            seen["status"] = int(status.split()[0])
            seen["html"] = any(k.lower() == "content-type" and v.startswith("text/html") for k, v in headers)
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        if not seen.get("html") or 300 <= seen["status"] < 400:
            return body
        try:
            html = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
        self.pages.append((environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), seen["status"], html))
        return [html]


_AXE_CHECKED: set[tuple] = set()


def _tour_endpoints(app) -> set[str]:
    """Endpoints that the experience tour checks on a real page: the recorder need not check them again."""
    from tests.browser.pages import PUBLIC_PAGES, TOURS

    class AnyId:
        def __getattr__(self, name):
            return "1"

    adapter = app.url_map.bind("127.0.0.1")
    endpoints = set()
    for pages in [PUBLIC_PAGES, *[tour[2] for tour in TOURS.values()]]:
        for _name, path_of, _shot in pages:
            endpoints.add(adapter.match(path_of(AnyId()), "GET")[0])
    return endpoints


# The page on which check_recorded_pages renders recorded HTML again, kept for the session: a new page costs
# Chromium a renderer process (about half a second of CPU), and every goto below replaces the whole document.
_AXE_PAGE: dict = {}


def _axe_page(browser):
    """(page, current): the session's axe page, serving ``current``'s status and HTML for every document."""
    if _AXE_PAGE.get("browser") is not browser:
        context = with_axe(browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo",
                                               viewport={"width": 1280, "height": 800}))
        current: dict = {}

        def serve(route):
            if route.request.resource_type == "document":
                route.fulfill(status=current["status"], body=current["html"],
                              content_type="text/html; charset=utf-8")
            else:
                route.continue_()

        page = context.new_page()
        page.route("**/*", serve)
        _AXE_PAGE.update(browser=browser, page=page, current=current)
    return _AXE_PAGE["page"], _AXE_PAGE["current"]


def check_recorded_pages(app, browser, base: str, pages) -> None:
    """axe-core on each page a journey reached, once per session per (endpoint, method, status), rendered
    again from the HTML the journey received (so the journey itself runs at full speed)."""
    covered = _tour_endpoints(app)
    adapter = app.url_map.bind("127.0.0.1")
    todo = []
    for method, path, query, status, html in pages:
        try:
            endpoint = adapter.match(path, method)[0]
        except HTTPException:
            endpoint = path
        key = (endpoint, method, status)
        if key in _AXE_CHECKED or (method == "GET" and status == 200 and endpoint in covered):
            continue
        _AXE_CHECKED.add(key)
        todo.append((f"{method} {path} ({endpoint}, {status})", base + quote(path) + (f"?{query}" if query else ""),
                     status, html))
    if not todo:
        return
    page, current = _axe_page(browser)
    problems = []
    try:
        for what, url, status, html in todo:
            current.update(status=status, html=html)
            page.goto(url)
            problems += [f"{what}: [{v['impact']}] {v['id']} ({v['help']}): {' | '.join(v['nodes'])}"
                         for v in axe_violations(page)]
        page.goto("about:blank")  # nothing of this journey's pages runs on between tests
    except BaseException:
        _AXE_PAGE.clear()  # the next check starts from a new page
        page.context.close()
        raise
    assert not problems, "axe-core on pages the journey visited:\n" + "\n".join(problems)


class _BrowserClockSessions(SlidingCookieSessionInterface):
    """The session cookie without ``Expires``: Chromium judges it by the machine's clock, while a journey may
    set the portal's clock to another moment (``time_machine``) and a cookie that expires 14 hours after a
    moment in the past would be dropped at once. The portal still refuses a session older than its lifetime
    (the signature's age)."""

    def get_expiration_time(self, app, session):
        return None


@pytest.fixture
def live_server(app, browser):
    """The app on 127.0.0.1 with a free port, for the length of one test; yields its base URL. Every page
    the test's browser navigates to is checked with axe-core afterwards (serious or critical: the test fails)."""
    recorder = PageRecorder(app)
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    sessions, app.session_interface = app.session_interface, _BrowserClockSessions()
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield base
        check_recorded_pages(app, browser, base, recorder.pages)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        app.session_interface = sessions


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
