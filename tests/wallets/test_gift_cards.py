"""Gift cards: issued once, emailed on their date, redeemed once, unguessable."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AuditLog, OutboxEvent
from apps.wallets import services
from apps.wallets.exceptions import GiftCardExpired, GiftCardInvalid
from apps.wallets.models import GiftCard, LedgerEntry, Wallet
from apps.wallets.selectors import wallets_with_drift
from apps.wallets.services.gift_cards import ALPHABET, gift_card_code_display
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _issue(amount=5_000, key="order-1:line-1", **kwargs):
    return services.gift_card_issue(
        amount_minor=amount, currency="USD", issue_key=key, **kwargs
    )


def test_gift_card_issue_code_is_16_unambiguous_characters_stored_only_hashed():
    issued = _issue()
    code = issued.code
    assert len(code) == 16
    assert set(code) <= set(ALPHABET)
    assert not set(code) & set("0O1IL")
    card = issued.card
    assert code not in (card.code_hash, card.code_encrypted)
    assert card.code_last4 == code[-4:]
    assert OutboxEvent.objects.filter(topic="gift_card.issued").count() == 1


def test_gift_card_issue_retried_issues_once_and_shows_code_once():
    first = _issue()
    again = _issue()
    assert again.card.pk == first.card.pk
    assert again.code is None
    assert GiftCard.objects.count() == 1


def test_gift_card_code_reaches_recipient_on_send_date_buyer_gets_copy_without_code(
    django_capture_on_commit_callbacks,
):
    buyer = UserFactory(email="buyer@example.com")
    send_at = timezone.now() + datetime.timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        issued = _issue(
            recipient_email="friend@example.com",
            sender_name="Ann",
            message="Happy birthday",
            send_at=send_at,
            purchaser=buyer,
        )
    assert services.gift_cards_send_due() == 0
    assert mail.outbox == []

    with (
        time_machine.travel(send_at + datetime.timedelta(minutes=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.gift_cards_send_due() == 1
        assert services.gift_cards_send_due() == 0

    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert set(by_recipient) == {"friend@example.com", "buyer@example.com"}
    code = gift_card_code_display(issued.code)
    assert code in by_recipient["friend@example.com"].body
    assert "Happy birthday" in by_recipient["friend@example.com"].body
    assert issued.code[-4:] not in by_recipient["buyer@example.com"].body
    assert "friend@example.com" in by_recipient["buyer@example.com"].body


def test_gift_card_redeem_credits_wallet_once_and_card_is_used_up():
    user = UserFactory()
    issued = _issue(5_000)
    entry = services.gift_card_redeem(
        code=gift_card_code_display(issued.code), user=user
    )
    replay = services.gift_card_redeem(code=issued.code.lower(), user=user)

    assert replay.pk == entry.pk
    wallet = Wallet.objects.get(user=user, currency="USD")
    assert wallet.balance_minor == 5_000
    assert wallet.entries.filter(kind=LedgerEntry.Kind.GIFT_CARD_REDEEM).count() == 1
    issued.card.refresh_from_db()
    assert (issued.card.balance_minor, issued.card.redeemed_by) == (0, user)
    assert wallets_with_drift() == []


def test_gift_card_redeemed_by_someone_else_answers_like_an_unknown_code():
    issued = _issue()
    services.gift_card_redeem(code=issued.code, user=UserFactory())
    with pytest.raises(GiftCardInvalid) as taken:
        services.gift_card_redeem(code=issued.code, user=UserFactory())
    with pytest.raises(GiftCardInvalid) as unknown:
        services.gift_card_redeem(code="ACDE-FGHJ-KMNP-QRTU", user=UserFactory())
    assert taken.value.message == unknown.value.message
    assert taken.value.code == unknown.value.code == "gift_card_invalid"


def test_gift_card_expired_is_refused(settings):
    settings.GIFT_CARD_EXPIRY_DAYS = 365
    issued = _issue()
    with (
        time_machine.travel(timezone.now() + datetime.timedelta(days=366)),
        pytest.raises(GiftCardExpired),
    ):
        services.gift_card_redeem(code=issued.code, user=UserFactory())


def test_gift_card_void_removes_balance_with_audit_row_and_code_stops_working():
    staff = UserFactory(is_staff=True)
    issued = _issue(2_000)
    services.gift_card_void(card_id=issued.card.pk, actor=staff, reason="fraud")
    issued.card.refresh_from_db()
    assert (issued.card.status, issued.card.balance_minor) == ("void", 0)
    audit = AuditLog.objects.get(action="gift_card.voided")
    assert audit.data["removed_minor"] == 2_000
    with pytest.raises(GiftCardInvalid):
        services.gift_card_balance(code=issued.code)


def test_gift_card_balance_api_same_answer_for_unknown_and_used_up(api_client):
    issued = _issue(1_500)
    ok = api_client.post(
        "/api/v1/gift-cards/balance/", {"code": issued.code}, format="json"
    )
    assert ok.status_code == 200
    assert ok.json()["balance"] == {"amount": 1_500, "currency": "USD"}

    services.gift_card_redeem(code=issued.code, user=UserFactory())
    empty = api_client.post(
        "/api/v1/gift-cards/balance/", {"code": issued.code}, format="json"
    )
    unknown = api_client.post(
        "/api/v1/gift-cards/balance/", {"code": "ACDEFGHJKMNPQRTU"}, format="json"
    )
    assert empty.status_code == unknown.status_code == 400
    assert empty.json() == unknown.json()
    assert empty.json()["error"]["code"] == "gift_card_invalid"


def test_gift_card_wrong_codes_from_one_client_are_throttled(api_client):
    answers = [
        api_client.post(
            "/api/v1/gift-cards/balance/",
            {"code": f"ACDEFGHJKMNPQR{n:02d}"},
            format="json",
        ).status_code
        for n in range(20)
    ]
    assert answers[:10] == [400] * 10
    assert set(answers[10:]) == {429}


def test_gift_card_redeem_api_double_submit_gives_one_entry(api_client):
    user = UserFactory()
    issued = _issue(3_000)
    api_client.force_authenticate(user)
    first = api_client.post(
        "/api/v1/gift-cards/redeem/", {"code": issued.code}, format="json"
    )
    second = api_client.post(
        "/api/v1/gift-cards/redeem/", {"code": issued.code}, format="json"
    )
    assert first.status_code == second.status_code == 200
    assert first.json()["balance"] == {"amount": 3_000, "currency": "USD"}
    assert LedgerEntry.objects.filter(kind="gift_card_redeem").count() == 1


def test_gift_card_redeem_page_credits_and_shows_form_errors(client):
    user = UserFactory()
    client.force_login(user)
    issued = _issue(2_500)
    bad = client.post(reverse("wallets:gift-card-redeem"), {"code": "nonsense"})
    assert bad.status_code == 200
    assert "no balance or does not exist" in bad.content.decode()

    good = client.post(
        reverse("wallets:gift-card-redeem"), {"code": issued.code}, follow=True
    )
    assert "$25.00 was added to your store credit" in good.content.decode()


def test_gift_card_admin_issue_shows_code_once_and_void_needs_confirmation(
    client, django_user_model
):
    admin = django_user_model.objects.create_superuser(
        email="admin@example.com", password="x"
    )
    client.force_login(admin)
    url = reverse("admin:wallets_giftcard_issue")
    data = {
        "amount": "20.00",
        "currency": "USD",
        "reason": "Apology",
        "form_token": "k",
    }
    first = client.post(url, data)
    again = client.post(url, data)
    assert "shown this once" in first.content.decode()
    assert "already submitted" in again.content.decode()
    card = GiftCard.objects.get()
    assert card.initial_minor == 2_000

    changelist = reverse("admin:wallets_giftcard_changelist")
    ask = client.post(
        changelist, {"action": "void_cards", "_selected_action": [card.pk]}
    )
    assert "Void" in ask.content.decode()
    card.refresh_from_db()
    assert card.status == "active"
    client.post(
        changelist,
        {
            "action": "void_cards",
            "_selected_action": [card.pk],
            "confirmed": "yes",
            "reason": "duplicate",
        },
    )
    card.refresh_from_db()
    assert card.status == "void"


def test_gift_card_twenty_wrong_codes_are_throttled_unknown_and_empty_answer_alike(
    api_client,
):
    """Well-formed codes that guessing would try: unknown ones and one whose
    balance is used up, alternated, from one signed-in client."""
    used_up = _issue(1_000).code
    services.gift_card_redeem(code=used_up, user=UserFactory())
    api_client.force_authenticate(UserFactory())
    codes = [
        used_up if n % 2 else f"ACDEFGHJKMNPQR{ALPHABET[n]}{ALPHABET[n]}"
        for n in range(20)
    ]

    answers = [
        api_client.post("/api/v1/gift-cards/redeem/", {"code": c}, format="json")
        for c in codes
    ]

    assert [r.status_code for r in answers[:10]] == [400] * 10
    assert {r.status_code for r in answers[10:]} == {429}
    assert answers[0].json() == answers[1].json()  # unknown, then used up
    assert answers[0].json()["error"]["code"] == "gift_card_invalid"
    assert answers[10].json()["error"]["code"] == "rate_limited"
    assert int(answers[10]["Retry-After"]) > 0
    # Balance checks count the same guesses, and another address does not
    # free the account.
    balance = api_client.post(
        "/api/v1/gift-cards/balance/", {"code": used_up}, format="json"
    )
    elsewhere = api_client.post(
        "/api/v1/gift-cards/redeem/",
        {"code": used_up},
        format="json",
        REMOTE_ADDR="203.0.113.9",
    )
    assert balance.status_code == elsewhere.status_code == 429
    assert LedgerEntry.objects.count() == 1  # the first customer's redeem


def test_gift_card_wrong_codes_on_the_pages_are_throttled(client):
    client.force_login(UserFactory())
    answers = [
        client.post(
            reverse("wallets:gift-card-redeem"),
            {"code": f"ACDEFGHJKMNPQR{ALPHABET[n]}{ALPHABET[n]}"},
        ).status_code
        for n in range(20)
    ]
    assert answers[:10] == [200] * 10  # the form again, with its error
    assert set(answers[10:]) == {429}
