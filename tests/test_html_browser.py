"""The HTML report in a real headless Chromium (Debian's, driven by Playwright).

The numbers a reader sees, the filter, sorting, the page without JavaScript, and that markup
from the dataset runs nothing. A full-page screenshot is kept in tests/artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dslint.finding import Severity
from dslint.report import Report
from dslint.reporters.html import HtmlReporter
from reportdata import EMAIL, IMG_PAYLOAD, SCRIPT_PAYLOAD, render_in, sample_report

CHROMIUM = Path(os.environ.get("DSLINT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (.ci/run installs Debian's chromium)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    folder = tmp_path_factory.mktemp("browser")
    report = sample_report(folder)
    page = folder / "report.html"
    page.write_text(render_in(folder, HtmlReporter(), report), encoding="utf-8")
    return report, page


def _note_request(events: list[str], url: str) -> None:
    if not url.startswith("file:"):
        events.append(f"request: {url}")


def _open(browser: Any, page_path: Path, javascript: bool = True) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    events: list[str] = []
    page.on("dialog", lambda dialog: (events.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda message: events.append(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: events.append(f"pageerror: {error}"))
    page.on("request", lambda request: _note_request(events, request.url))
    page.goto(page_path.as_uri())
    return context, page, events


def _visible_rules(page: Any) -> list[str]:
    rows = page.locator("#findings-table tbody tr:not([hidden])")
    return [rows.nth(i).get_attribute("data-rule") for i in range(rows.count())]


def test_summary_numbers_match_the_report(browser: Any, rendered: tuple[Report, Path]) -> None:
    report, path = rendered
    context, page, events = _open(browser, path)
    try:
        counts = report.counts()
        assert page.text_content("#sum-files") == f"{len(report.files):,}"
        assert page.text_content("#sum-examples") == f"{report.examples:,}"
        assert page.text_content("#sum-findings") == f"{len(report.findings):,}"
        for severity in Severity:
            assert page.text_content(f"#sum-{severity.value}") == f"{counts[severity]:,}"
        total = sum(t for t in (120, 4_600, 35, 180, 90, 2_400, 150, 130, 110))
        assert page.inner_text("#sum-tokens").startswith(f"{total:,}")
        assert page.locator("#chart-tokens line.limit").count() == 1
        assert page.text_content("#tokens-over") == "1 example over the limit."
        assert page.locator("#findings-table tbody tr").count() == len(report.findings)
        assert page.text_content("#shown-count") == (
            f"{len(report.findings)} of {len(report.findings)} findings shown"
        )
        assert not [e for e in events if "error" in e.split(":")[0] or e.startswith("request")]
    finally:
        context.close()


def test_filters_and_sorting(browser: Any, rendered: tuple[Report, Path]) -> None:
    report, path = rendered
    context, page, _ = _open(browser, path)
    try:
        assert page.is_visible("#controls")
        page.select_option("#filter-severity", "warning")
        warnings = [f.code for f in report.findings if f.severity is Severity.WARNING]
        assert _visible_rules(page) == warnings
        assert page.text_content("#shown-count") == (
            f"{len(warnings)} of {len(report.findings)} findings shown"
        )
        page.select_option("#filter-category", "privacy")
        assert _visible_rules(page) == ["P901"]
        page.select_option("#filter-severity", "")
        page.select_option("#filter-category", "")
        page.select_option("#filter-rule", "S103")
        assert _visible_rules(page) == ["S103"]
        page.select_option("#filter-rule", "")
        page.select_option("#filter-file", "data/train.jsonl")
        assert len(_visible_rules(page)) == sum(1 for f in report.findings if f.path)
        page.select_option("#filter-file", "")
        page.fill("#filter-text", "invalid json")
        assert _visible_rules(page) == ["S001"]
        page.fill("#filter-text", "")

        page.click("th[data-key=line] button")
        lines = page.eval_on_selector_all(
            "#findings-table tbody tr", "rows => rows.map(r => Number(r.dataset.line))"
        )
        assert lines == sorted(lines)
        page.click("th[data-key=line] button")
        lines = page.eval_on_selector_all(
            "#findings-table tbody tr", "rows => rows.map(r => Number(r.dataset.line))"
        )
        assert lines == sorted(lines, reverse=True)
        assert page.get_attribute("th[data-key=line]", "aria-sort") == "descending"
    finally:
        context.close()


def test_dataset_markup_executes_nothing(browser: Any, rendered: tuple[Report, Path]) -> None:
    _, path = rendered
    context, page, events = _open(browser, path)
    try:
        row = page.locator("#findings-table tbody tr[data-rule=Q001]")
        row.locator("summary").click()
        shown = row.locator(".turn.hit pre").inner_text()
        assert shown == ""  # the empty assistant message is the one highlighted
        example = row.locator(".example").inner_text()
        assert SCRIPT_PAYLOAD in example and IMG_PAYLOAD in example  # shown as text
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("main script, main img, main [onerror]").count() == 0
        assert not [e for e in events if e.startswith(("dialog", "pageerror", "request"))]
        # The privacy finding's value is redacted in the example shown.
        private = page.locator("#findings-table tbody tr[data-rule=P901]")
        private.locator("summary").click()
        assert "[redacted]" in private.locator(".turn.hit pre").inner_text()
        assert EMAIL not in page.content()

        ARTIFACTS.mkdir(exist_ok=True)
        page.select_option("#filter-severity", "")
        page.screenshot(path=str(ARTIFACTS / "html-report.png"), full_page=True)
    finally:
        context.close()


def test_readable_without_javascript(browser: Any, rendered: tuple[Report, Path]) -> None:
    report, path = rendered
    context, page, _ = _open(browser, path, javascript=False)
    try:
        assert not page.is_visible("#controls")
        assert page.get_attribute("#findings-table", "class") is None  # no sort arrows
        assert page.locator("#findings-table tbody tr:visible").count() == len(report.findings)
        assert page.text_content("#sum-examples") == f"{report.examples:,}"
        row = page.locator("#findings-table tbody tr[data-rule=S103]")
        row.locator("summary").click()  # <details> opens without script
        assert row.locator(".turn.hit .role").inner_text().startswith("BOT")
        assert page.locator("#chart-rules rect").count() == len({f.code for f in report.findings})
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "html-report-no-js.png"), full_page=True)
    finally:
        context.close()


def test_no_stray_requests_or_csp_violations(browser: Any, rendered: tuple[Report, Path]) -> None:
    _, path = rendered
    context, page, events = _open(browser, path)
    try:
        page.click("th[data-key=rule] button")
        page.wait_for_timeout(200)
        assert not [e for e in events if "Content Security Policy" in e or e.startswith("request")]
    finally:
        context.close()
