"""Gift card emails go out as text and HTML from the one base.

Sent through the services that send them; both parts are read. The code is
in the recipient's email only, never in the buyer's copy.
"""

import pytest

from apps.wallets import services
from apps.wallets.services.gift_cards import gift_card_code_display
from tests.accounts.factories import UserFactory
from tests.email_parts import both_parts

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://shop.example"
    settings.GIFT_CARD_EXPIRY_DAYS = 365
    buyer = UserFactory(email="buyer@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        issued = services.gift_card_issue(
            amount_minor=5_000,
            currency="USD",
            issue_key="order-1:line-1",
            recipient_email="friend@example.com",
            sender_name="Ann & Bo",
            message="Happy birthday & many more",
            purchaser=buyer,
        )
    return issued


def test_gift_card_email_carries_code_amount_sender_message_and_redeem_link(sent):
    text, html = both_parts("friend@example.com", "gift card")
    code = gift_card_code_display(sent.code)
    link = "https://shop.example/gift-cards/redeem/"
    assert "Ann & Bo sent you" in text
    assert "Happy birthday & many more" in text
    assert "Ann &amp; Bo sent you" in html
    assert "Happy birthday &amp; many more" in html
    for part in (text, html):
        assert code in part
        assert "$50.00" in part
        assert f"{sent.card.expires_at:%-d %B %Y}" in part
        assert link in part
    assert f'href="{link}"' in html


def test_gift_card_sent_email_tells_the_buyer_without_the_code(sent):
    text, html = both_parts("buyer@example.com", "was sent to")
    for part in (text, html):
        assert "$50.00" in part
        assert "friend@example.com" in part
        assert sent.code[-4:] not in part
        assert gift_card_code_display(sent.code) not in part
