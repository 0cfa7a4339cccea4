import datetime as dt

import pytest

from apps.analytics.services.jobs import range_compute
from apps.analytics.services.weekly import weekly_summary_send
from apps.core.models import Notification
from tests.accounts.factories import UserFactory
from tests.analytics.factories import at, history
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = pytest.mark.django_db


def test_weekly_summary_mails_each_staff_member_once_with_last_weeks_figures(
    django_capture_on_commit_callbacks,
):
    staff = UserFactory(is_staff=True)
    UserFactory()  # a customer gets nothing
    basic = PlanPriceFactory(amount_minor=1000)
    history([(at("2026-01-01"), "active", basic, None)])
    history([(at("2026-01-07"), "active", basic, None)])
    range_compute(start=dt.date(2025, 12, 28), end=dt.date(2026, 1, 11))

    monday = dt.date(2026, 1, 12)
    assert weekly_summary_send(today=monday) == 1
    weekly_summary_send(today=monday)  # the beat task ran twice

    mail = Notification.objects.get()
    assert mail.recipient == staff.email
    assert mail.subject == "Week of 5 Jan 2026: MRR, churn and sales"
    # Jan 5–11: MRR $10 → $20 at the end of the week (+$10 on the week before).
    assert "MRR: $20.00 (+$10.00)" in mail.body_text
    assert "/staff/analytics/" in mail.body_text
    assert "$20.00" in mail.body_html
