"""The runner's Stripe.js in a real browser (Debian's Chromium via Playwright).

Published localstripe's confirmCardPayment always shows the fake 3-D Secure
box and then gets a 400 for a card that needs no authentication
(localstripe#253). The shimmed script confirms first and shows the box only
when the intent is requires_action.
"""

import pytest
import requests

from tests.stripe_runner.test_localstripe_runner import AUTH, PUBLIC_KEY, runner

pytestmark = [pytest.mark.browser, pytest.mark.localstripe]

PAGE = """<!doctype html>
<html><body>
<div id="card"></div>
<script src="/js.stripe.com/v3/"></script>
<script>
  window.stripe = Stripe("PUBLIC_KEY");
  window.card = window.stripe.elements().create("card");
  window.card.mount("#card");
</script>
</body></html>
""".replace("PUBLIC_KEY", PUBLIC_KEY)


def create_intent(base: str) -> dict:
    response = requests.post(
        f"{base}/v1/payment_intents",
        data={"amount": 1000, "currency": "eur"},
        auth=AUTH,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def pay_in_browser(browser, base: str, card_number: str) -> tuple[bool, dict]:
    """Fill the card element, confirm; return (3DS box shown, Stripe.js result).

    Uses the session's shared Chromium (tests/conftest.py): a second
    sync_playwright() in the same thread would fail inside its event loop.
    """
    secret = create_intent(base)["client_secret"]
    context = browser.new_context()
    try:
        page = context.new_page()
        # Serve the test page from localstripe's own origin.
        page.route(
            f"{base}/checkout-page",
            lambda route: route.fulfill(content_type="text/html", body=PAGE),
        )
        page.goto(f"{base}/checkout-page")
        page.fill("input[placeholder=number]", card_number)
        page.fill("input[placeholder=exp_month]", "12")
        page.fill("input[placeholder=exp_year]", "34")
        page.fill("input[placeholder=cvc]", "123")
        page.fill("input[placeholder=postal_code]", "75001")
        page.evaluate(
            """(secret) => {
              window.result = null;
              window.stripe
                .confirmCardPayment(secret, {payment_method: {card: window.card}})
                .then((r) => { window.result = r; });
            }""",
            secret,
        )
        box = page.get_by_role("button", name="Complete authentication")
        handle = page.wait_for_function(
            "() => window.result || document.querySelector('p + button')",
            timeout=10_000,
        )
        shown = handle.evaluate("(value) => value instanceof HTMLElement")
        if shown:
            box.click()
        page.wait_for_function("() => window.result", timeout=10_000)
        return shown, page.evaluate("() => window.result")
    finally:
        context.close()


def test_stripe_js_card_without_3ds_succeeds_without_3ds_box(browser, tmp_path):
    with runner(tmp_path / "store.pickle") as base:
        shown, result = pay_in_browser(browser, base, "4242424242424242")

    assert shown is False
    assert result["paymentIntent"]["status"] == "succeeded"


def test_stripe_js_3ds_card_shows_box_then_succeeds(browser, tmp_path):
    with runner(tmp_path / "store.pickle") as base:
        shown, result = pay_in_browser(browser, base, "4000002500003155")

    assert shown is True
    assert result["paymentIntent"]["status"] == "succeeded"


def test_stripe_js_declined_card_returns_stripe_error(browser, tmp_path):
    with runner(tmp_path / "store.pickle") as base:
        shown, result = pay_in_browser(browser, base, "4000000000000002")

    assert shown is False
    assert result["error"]["message"] == "Your card was declined."
    assert result["error"]["code"] == "card_declined"


def test_stripe_js_without_shim_shows_box_and_fails(browser, tmp_path):
    with runner(tmp_path / "store.pickle", "--without-shim", "stripe_js") as base:
        shown, result = pay_in_browser(browser, base, "4242424242424242")

    assert shown is True
    assert "paymentIntent" not in result
    assert result["error"]
