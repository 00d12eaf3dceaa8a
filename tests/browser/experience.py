"""Checks that every journey can run on the page in front of it: accessibility (axe-core), phone layout,
Japanese formats, and the README's screenshots.

axe-core comes from tests/vendor (the npm package, pinned); it is evaluated through the DevTools protocol,
which the page's strict CSP does not govern, so the app never serves it and the CSP stays as it is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE_DIR = ROOT / "tests" / "vendor" / "axe-core-4.14.1"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE_WIDTH = 360
TOUCH_TARGET = 44
# PORTAL_AXE_IMPACTS=minor,moderate,serious,critical lists the lesser findings too (to look at, not in CI).
FAILING_IMPACTS = tuple(os.environ.get("PORTAL_AXE_IMPACTS", "serious,critical").split(","))

_axe_source: str | None = None


def _axe() -> str:
    global _axe_source
    if _axe_source is None:
        _axe_source = (AXE_DIR / "axe.min.js").read_text(encoding="utf-8")
    return _axe_source


def with_axe(context):
    """Load axe-core into every page of ``context`` before the page's own scripts (cheaper than injecting
    it page by page when a test checks many pages)."""
    context.add_init_script(path=str(AXE_DIR / "axe.min.js"))
    return context


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe())  # a script, run by the DevTools protocol: no <script> tag, no eval()
    return page.evaluate(
        """async (impacts) => {
          // preload: false: no second download of every stylesheet for the one rule that reads them
          const result = await axe.run(document, {resultTypes: ["violations"], preload: false, iframes: false});
          return result.violations.filter(v => impacts.includes(v.impact)).map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary.split("\\n")[1]),
          }));
        }""",
        list(FAILING_IMPACTS),
    )


def assert_accessible(page, what: str = "") -> None:
    violations = axe_violations(page)
    assert not violations, f"{what or page.url}: " + "; ".join(
        f"[{v['impact']}] {v['id']} ({v['help']}): {' | '.join(v['nodes'])}" for v in violations
    )


def assert_fits_phone(page, what: str = "") -> None:
    """No sideways scrolling at the phone's width, and every table reflows (or scrolls inside its box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{what or page.url}: {width}px wide on a {viewport}px screen"
    stiff = page.evaluate(
        """() => Array.from(document.querySelectorAll("main table")).filter(t => {
             if (!t.offsetParent) return false;
             const row = t.querySelector("tbody tr");
             const reflows = row && getComputedStyle(row).display === "block";
             return !reflows && !t.closest(".table-wrap");
           }).map(t => t.className || t.id || "table")"""
    )
    assert not stiff, f"{what or page.url}: tables that neither reflow nor scroll in a box: {stiff}"


def assert_touch_targets(page, what: str = "") -> None:
    """Links and buttons are at least 44 px high and wide (links inside a sentence excepted, as in WCAG 2.5.8)."""
    small = page.evaluate(
        """(minimum) => {
          // An inline link with words right before or after it, in the same element, is part of a sentence.
          const inSentence = el => {
            if (el.tagName !== "A" || getComputedStyle(el).display !== "inline") return false;
            return [el.previousSibling, el.nextSibling].some(
              n => n && n.nodeType === Node.TEXT_NODE && n.textContent.trim().length > 0);
          };
          return Array.from(document.querySelectorAll(
              "a[href], button, summary, input[type=submit], input[type=button], [role=button]"))
            .filter(el => el.offsetParent !== null && !el.closest(".skip-link") && !inSentence(el))
            .map(el => [el, el.getBoundingClientRect()])
            .filter(([el, r]) => r.width > 0 && (r.height < minimum - 0.5 || r.width < minimum - 0.5))
            .map(([el, r]) => `${el.tagName.toLowerCase()} "${el.innerText.trim().slice(0, 20)}" `
                              + `${Math.round(r.width)}x${Math.round(r.height)}`);
        }""",
        TOUCH_TARGET,
    )
    assert not small, f"{what or page.url}: touch targets under {TOUCH_TARGET}px: {small}"


# Visible text that is not Japanese-formatted: ISO dates, 12-hour clocks, English month names, and
# amounts of 1,000 or more without the thousands separator.
_NOT_JAPANESE = [
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "ISO date"),
    (re.compile(r"\b\d{1,2}:\d{2}\s?(?:AM|PM|am|pm)\b"), "12-hour time"),
    (re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d"), "English month"),
    (re.compile(r"(?<![\d,.])\d{4,}\s?(?:円|人|件)"), "number without separators"),
]


def assert_japanese_formats(page, what: str = "") -> None:
    text = page.inner_text("main")
    found = [f"{label}: {m.group(0)!r}" for pattern, label in _NOT_JAPANESE for m in pattern.finditer(text)]
    assert not found, f"{what or page.url}: {found[:5]}"


def screenshot(page, name: str, *, full_page: bool = False) -> None:
    """docs/screenshots/<name>.png, only when PORTAL_SCREENSHOTS=1 (`make screenshots`)."""
    if os.environ.get("PORTAL_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page, animations="disabled", scale="css",
                    caret="hide")
