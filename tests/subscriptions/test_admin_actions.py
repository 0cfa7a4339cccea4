"""Staff actions on subscriptions in admin: confirm first, then the services."""

from datetime import timedelta

import pytest

from apps.billing.gateway import subscriptions as gw
from apps.subscriptions import services
from apps.subscriptions.models import ReconcileRun, SubscriptionEvent
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

CHANGELIST = "/admin/subscriptions/subscription/"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(
        email="staff@example.com", password="pw"
    )


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def active(pushed_price):
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=pushed_price().pk)
    confirm(start.client_secret)
    sub = services.subscription_sync(stripe_id=start.subscription.stripe_id)
    snap = gw.subscription_retrieve(subscription_id=sub.stripe_id)
    services.invoice_sync(stripe_id=snap.latest_invoice_id)
    return sub


def act(client, action, sub, **extra):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [sub.pk], **extra}
    )


def test_cancel_now_asks_first_then_cancels_as_staff(staff_client, staff, active):
    asked = act(staff_client, "cancel_now", active)
    active.refresh_from_db()
    assert asked.status_code == 200
    assert "Nothing is refunded" in asked.content.decode()
    assert active.status == "active"

    done = act(staff_client, "cancel_now", active, confirmed="yes")

    assert done.status_code == 302
    active.refresh_from_db()
    assert active.status == "canceled"
    assert SubscriptionEvent.objects.filter(
        subscription=active, reason="cancel_now", actor=f"staff:{staff.pk}"
    ).exists()


def test_cancel_at_period_end_then_twice_warns(staff_client, active):
    act(staff_client, "cancel_at_period_end", active, confirmed="yes")
    again = act(staff_client, "cancel_at_period_end", active, confirmed="yes")

    active.refresh_from_db()
    assert active.cancel_at_period_end is True
    page = staff_client.get(again["Location"]).content.decode()
    assert "already ends at the period end" in page


def test_refund_pro_rata_after_cancel_now_once(staff_client, active):
    act(staff_client, "cancel_now", active, confirmed="yes")

    act(staff_client, "refund_pro_rata", active, confirmed="yes")
    second = act(staff_client, "refund_pro_rata", active, confirmed="yes")

    event = SubscriptionEvent.objects.get(subscription=active, reason="refund_pro_rata")
    # Cancelled within seconds of a 1000-cent month: nearly all of it back.
    assert -1000 <= event.amount_minor <= -990
    assert event.details["refund"].startswith("re_")
    assert "refunded already" in staff_client.get(second["Location"]).content.decode()


def test_extend_trial_moves_the_trial_end(staff_client, pushed_price):
    user = UserFactory()
    start = services.subscription_create(
        user=user, price_id=pushed_price(trial_days=14).pk
    )
    sub = start.subscription
    before = sub.trial_end

    asked = act(staff_client, "extend_trial", sub)
    act(staff_client, "extend_trial", sub, confirmed="yes", days="7")

    assert 'name="days"' in asked.content.decode()
    sub.refresh_from_db()
    assert sub.status == "trialing"
    assert sub.trial_end == before + timedelta(days=7)
    assert SubscriptionEvent.objects.filter(subscription=sub, reason="trial_extended")


def test_sync_now_and_reconcile_counts_in_admin(staff_client, active):
    act(staff_client, "sync_now", active)
    counts = services.reconcile.billing_reconcile()

    run = ReconcileRun.objects.get()
    assert (run.checked, run.fixed, run.failed) == (
        counts.checked,
        counts.fixed,
        counts.failed,
    )
    page = staff_client.get("/admin/subscriptions/reconcilerun/")
    assert page.status_code == 200
    assert f'<td class="field-checked">{counts.checked}</td>' in page.content.decode()


def test_apply_coupon_asks_for_code_then_discounts_next_invoice(
    staff_client, staff, active
):
    import uuid

    from apps.coupons.models import CouponRedemption
    from tests.coupons.factories import CouponFactory

    coupon = CouponFactory(for_subscriptions=True, value=5000, usage_limit=1)

    asked = act(staff_client, "apply_coupon", active)
    assert asked.status_code == 200
    assert b'name="coupon"' in asked.content
    assert not CouponRedemption.objects.exists()

    done = act(
        staff_client, "apply_coupon", active, confirmed="yes", coupon=coupon.code
    )

    assert done.status_code == 302
    snap = gw.subscription_retrieve(subscription_id=active.stripe_id)
    assert snap.discount_coupon_id == coupon.stripe_coupon_id
    event = SubscriptionEvent.objects.get(subscription=active, reason="coupon_applied")
    assert (event.actor, event.details["coupon"]) == (f"staff:{staff.pk}", coupon.code)
    redemption = CouponRedemption.objects.get(coupon=coupon)
    assert redemption.order_ref == f"subscription-{active.pk}"
    renewal = gw.renewal_invoice_create_and_pay(
        customer_id=snap.customer,
        subscription_id=snap.id,
        idempotency_key=str(uuid.uuid4()),
    )
    assert (renewal.discount_minor, renewal.amount_paid_minor) == (500, 500)
    page = staff_client.get(f"{CHANGELIST}{active.pk}/change/").content.decode()
    assert coupon.code in page


def test_apply_coupon_orders_only_warns_and_changes_nothing(staff_client, active):
    from apps.coupons.models import CouponRedemption
    from tests.coupons.factories import CouponFactory

    coupon = CouponFactory()  # orders only

    done = act(
        staff_client,
        "apply_coupon",
        active,
        confirmed="yes",
        coupon=coupon.code,
    )

    assert done.status_code == 302
    shown = [str(m) for m in done.wsgi_request._messages]
    assert any("cannot be used on subscriptions" in m for m in shown)
    assert not CouponRedemption.objects.exists()
    snap = gw.subscription_retrieve(subscription_id=active.stripe_id)
    assert snap.discount_coupon_id == ""


@pytest.mark.parametrize("status", ["canceled", "incomplete"])
def test_subscription_coupon_apply_ended_or_unconfirmed_refused(active, staff, status):
    from apps.subscriptions.services.coupons import subscription_coupon_apply
    from apps.subscriptions.services.staff import StaffActionRefused
    from tests.coupons.factories import CouponFactory

    # Test set-up only: services never assign a status (the state helper does).
    type(active).objects.filter(pk=active.pk).update(status=status)

    with pytest.raises(StaffActionRefused):
        subscription_coupon_apply(
            subscription_id=active.pk,
            code=CouponFactory(for_subscriptions=True).code,
            staff=staff,
        )


def test_subscription_coupon_apply_same_coupon_twice_refused(active, staff):
    from apps.subscriptions.services.coupons import subscription_coupon_apply
    from apps.subscriptions.services.staff import StaffActionRefused
    from tests.coupons.factories import CouponFactory

    coupon = CouponFactory(for_subscriptions=True)
    subscription_coupon_apply(subscription_id=active.pk, code=coupon.code, staff=staff)

    with pytest.raises(StaffActionRefused) as exc:
        subscription_coupon_apply(
            subscription_id=active.pk, code=coupon.code.lower(), staff=staff
        )

    assert exc.value.code == "coupon_already_applied"
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1
