"""The analytics dashboard in a real browser: charts drawn under the CSP, CSV."""

import datetime as dt
from pathlib import Path

import pytest

from apps.analytics.services.jobs import range_compute
from tests.accounts.factories import PASSWORD, UserFactory
from tests.analytics.factories import at, history
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_analytics_dashboard_draws_charts_without_csp_violation_and_exports(fresh_page):
    page = fresh_page
    basic = PlanPriceFactory(amount_minor=1000, plan__slug="basic")
    pro = PlanPriceFactory(amount_minor=3000, plan__slug="pro")
    history([(at("2026-01-01"), "active", basic, None)])
    history(
        [
            (at("2026-01-02"), "active", basic, None),
            (at("2026-01-03"), "active", pro, None),
        ]
    )
    range_compute(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 5))
    staff = UserFactory(is_staff=True, is_superuser=True)
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto("/admin/login/")
    page.fill("input[name=username]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")

    page.goto("/staff/analytics/?start=2026-01-01&end=2026-01-05&currency=USD")

    # Chart.js draws into every canvas (a chart instance exists for each).
    drawn = page.evaluate(
        "['chart-mrr','chart-movements','chart-churn','chart-gmv','chart-plans']"
        ".map(id => Boolean(Chart.getChart(document.getElementById(id))))"
    )
    assert drawn == [True] * 5
    assert page.evaluate("window.cspViolations") == []
    with page.expect_download() as info:
        page.click("[data-testid=export-metrics]")
    content = Path(info.value.path()).read_text()
    assert content.splitlines()[0].startswith("day,mrr_minor")
    assert "2026-01-05,4000" in content  # 1000 (basic) + 3000 (pro)
