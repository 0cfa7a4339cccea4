import pytest
from django.utils import timezone

from apps.subscriptions.models import Plan, PlanPrice, PushStatus
from tests.conftest import admin_change_form_data
from tests.subscriptions.factories import FeatureFactory, PlanFactory, PlanPriceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser(
        email="staff@example.com", password="pw"
    )
    client.force_login(staff)
    return client


def _change(client, plan, **changes):
    url = f"/admin/subscriptions/plan/{plan.pk}/change/"
    data = admin_change_form_data(client.get(url))
    return client.post(url, {**data, **changes}, follow=True)


def test_unknown_feature_is_a_form_error(staff_client):
    plan = PlanFactory()

    response = _change(staff_client, plan, features='{"colour": "red"}')

    form = response.context["adminform"].form
    assert "Unknown feature 'colour'" in " ".join(form.errors["features"])


def test_price_shown_and_entered_in_currency_units(staff_client):
    FeatureFactory(key="seats")
    plan = PlanFactory()
    price = PlanPriceFactory(plan=plan, amount_minor=1999)
    url = f"/admin/subscriptions/plan/{plan.pk}/change/"
    assert 'value="19.99"' in staff_client.get(url).content.decode()

    response = _change(staff_client, plan, **{"prices-0-amount_minor": "24.50"})

    assert response.status_code == 200
    price.refresh_from_db()
    assert price.amount_minor == 2450
    assert PlanPrice.objects.count() == 1


def test_editing_a_used_price_creates_a_new_one_and_says_so(staff_client):
    plan = PlanFactory()
    price = PlanPriceFactory(plan=plan, amount_minor=1000, used_at=timezone.now())
    page = staff_client.get(f"/admin/subscriptions/plan/{plan.pk}/change/")
    assert "existing subscribers keep this amount" in page.content.decode()

    response = _change(staff_client, plan, **{"prices-0-amount_minor": "12.00"})

    price.refresh_from_db()
    assert (price.amount_minor, price.active) == (1000, False)
    new = PlanPrice.objects.exclude(pk=price.pk).get()
    assert (new.amount_minor, new.active, new.replaces_id) == (1200, True, price.pk)
    assert "new price was created and the old one archived" in (
        response.content.decode()
    )


def test_push_state_and_localstripe_note_shown(staff_client):
    plan = PlanFactory(push_status=PushStatus.ERROR, push_error="Stripe said no")
    PlanPriceFactory(plan=plan, stripe_object="plan", stripe_price_id="plan_x")

    html = staff_client.get("/admin/subscriptions/plan/").content.decode()
    assert "error: Stripe said no" in html
    change = staff_client.get(f"/admin/subscriptions/plan/{plan.pk}/change/")
    assert "pushed as a Plan (localstripe has no Prices)" in change.content.decode()


def test_push_again_action_queues_the_push(
    staff_client, localstripe, django_capture_on_commit_callbacks
):
    plan = PlanFactory(push_status=PushStatus.ERROR, push_error="boom")
    PlanPriceFactory(plan=plan)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        staff_client.post(
            "/admin/subscriptions/plan/",
            {"action": "push_again", "_selected_action": [plan.pk]},
        )

    # The request only queued the task (after commit); eager Celery ran it.
    assert callbacks
    plan.refresh_from_db()
    assert plan.push_status == PushStatus.SYNCED
    assert plan.push_error == ""


def test_features_admin_lists_features(staff_client):
    FeatureFactory(key="seats", label="Devices")

    assert (
        "Devices" in staff_client.get("/admin/subscriptions/feature/").content.decode()
    )


def test_plan_added_in_admin_with_a_price_in_currency_units(
    staff_client, localstripe, django_capture_on_commit_callbacks
):
    FeatureFactory(key="seats")
    data = admin_change_form_data(staff_client.get("/admin/subscriptions/plan/add/"))
    data |= {
        "slug": "team",
        "name": "Team",
        "features": '{"seats": 10}',
        "limits": '{"api_calls": {"per_day": 50}}',
        "prices-TOTAL_FORMS": "1",
        "prices-0-interval": "month",
        "prices-0-interval_count": "1",
        "prices-0-amount_minor": "49.90",
        "prices-0-currency": "USD",
        "prices-0-active": "on",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/admin/subscriptions/plan/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    plan = Plan.objects.get(slug="team")
    assert plan.prices.get().amount_minor == 4990
    plan.refresh_from_db()
    # Saved in admin, pushed by the queued task (eager in tests) after commit.
    assert plan.push_status == PushStatus.SYNCED


@pytest.mark.parametrize(
    "model", ["subscription", "invoice", "scheduledchange", "customer"]
)
def test_record_changelists_load_and_cannot_add(staff_client, model):
    from tests.subscriptions.factories import InvoiceLineFactory

    InvoiceLineFactory()

    assert staff_client.get(f"/admin/subscriptions/{model}/").status_code == 200
    assert staff_client.get(f"/admin/subscriptions/{model}/add/").status_code == 403


def test_invoice_admin_is_read_only_in_currency_units(staff_client):
    from tests.subscriptions.factories import InvoiceLineFactory

    line = InvoiceLineFactory(amount_minor=1999, invoice__total_minor=1999)
    url = f"/admin/subscriptions/invoice/{line.invoice.pk}/change/"

    body = staff_client.get(url).content.decode()

    assert "$19.99" in body
    assert staff_client.post(url, {}).status_code == 403
