"""The API documentation renders in a real browser under the site's CSP."""

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def _open(page, url: str) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: message.type == "error" and errors.append(message.text),
    )
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    response = page.goto(url)
    assert response is not None
    assert response.status == 200
    return errors


def test_swagger_ui_renders_operations_without_csp_violation(fresh_page):
    page = fresh_page
    console_errors = _open(page, "/api/docs/")

    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/checkouts/{checkout_id}/payment/" in p for p in paths)
    assert len(paths) >= 20
    assert page.evaluate("window.cspViolations") == []
    assert [e for e in console_errors if "Content Security Policy" in e] == []


def test_redoc_renders_operations_without_csp_violation(fresh_page):
    page = fresh_page
    console_errors = _open(page, "/api/redoc/")

    # ReDoc lays out the whole schema on the main thread before the first
    # operation shows: about 1 CPU-second alone, far more on a loaded CI box.
    try:
        page.wait_for_selector(
            "text=/api/v1/checkouts/{checkout_id}/payment/", timeout=90_000
        )
    except PlaywrightTimeoutError:
        # Say what ReDoc showed instead: its own error box, a failed fetch of
        # the schema, or a page still loading.
        pytest.fail(
            "ReDoc showed no operation; console errors: "
            f"{console_errors}; CSP violations: "
            f"{page.evaluate('window.cspViolations')}; page text: "
            f"{page.inner_text('body')[:500]!r}"
        )
    # ReDoc's sidebar always asks Redocly's CDN for its logo: refused on
    # purpose (no third-party loads), and the only violation allowed.
    logo = "img-src https://cdn.redoc.ly/redoc/logo-mini.svg"
    assert [v for v in page.evaluate("window.cspViolations") if v != logo] == []
    assert [
        e
        for e in console_errors
        if "Content Security Policy" in e and "cdn.redoc.ly" not in e
    ] == []
