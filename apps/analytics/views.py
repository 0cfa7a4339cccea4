"""The staff dashboard at /staff/analytics/: tiles, charts with tables, CSV."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.analytics import selectors
from apps.core.money import currency_exponent


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer 404 to anyone not staff, so the page's existence does not leak."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.is_active and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


class FilterForm(forms.Form):
    start = forms.DateField(label="From", required=False)
    end = forms.DateField(label="To", required=False)
    currency = forms.ChoiceField(required=False)
    plan = forms.SlugField(required=False)

    def __init__(self, *args: Any, currencies: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["currency"]
        if isinstance(field, forms.ChoiceField):
            field.choices = [(c, c) for c in currencies] or [("USD", "USD")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        end = data.get("end") or timezone.now().date() - dt.timedelta(days=1)
        start = data.get("start") or end - dt.timedelta(days=29)
        if start > end:
            raise forms.ValidationError("'From' must not be after 'To'.")
        return {**data, "start": start, "end": end}


EXPORTS = (
    "metrics",
    "movements",
    "cohorts",
    "plan_mix",
    "top_products",
    "top_categories",
    "discounts_by_coupon",
)


@staff_only
def dashboard(request: HttpRequest) -> HttpResponse:
    """Render the dashboard, or one of its tables as CSV (``?export=metrics``)."""
    currencies = selectors.currencies_list()
    form = FilterForm(request.GET, currencies=currencies)
    if not form.is_valid():
        return render(
            request,
            "analytics/dashboard.html",
            {**admin.site.each_context(request), "form": form},
            status=400,
        )
    data = form.cleaned_data
    currency = data.get("currency") or (currencies[0] if currencies else "USD")
    context = _tables(
        start=data["start"], end=data["end"], currency=currency, plan=data["plan"]
    )
    export = request.GET.get("export", "")
    if export in EXPORTS:
        return _csv(f"analytics-{export}-{currency}.csv", context["tables"][export])
    tiles = selectors.summary_tiles(
        start=data["start"], end=data["end"], currency=currency
    )
    reporting = settings.ANALYTICS_REPORTING_CURRENCY
    converted, converted_total = selectors.mrr_in_reporting_currency(
        on=data["end"], reporting_currency=reporting
    )
    return render(
        request,
        "analytics/dashboard.html",
        {
            **admin.site.each_context(request),
            "form": form,
            "currency": currency,
            "tiles": tiles,
            "start": data["start"],
            "end": data["end"],
            "query": request.GET.urlencode(),
            "reporting_currency": reporting,
            "converted": converted,
            "converted_total": converted_total,
            **context,
        },
    )


def _tables(
    *, start: dt.date, end: dt.date, currency: str, plan: str
) -> dict[str, Any]:
    metrics = list(selectors.metrics_list(start=start, end=end, currency=currency))
    movements = selectors.movements_by_day(
        start=start, end=end, currency=currency, plan=plan
    )
    cohorts = list(selectors.cohorts_list(currency=currency))
    mix = selectors.plan_mix(day=end, currency=currency)
    tables: dict[str, tuple[list[str], list[list[Any]]]] = {
        "metrics": (
            [
                "day",
                "mrr_minor",
                "mrr_at_risk_minor",
                "paying_customers",
                "churned_customers",
                "net_new_minor",
                "orders",
                "paid_orders",
                "gmv_minor",
                "refunds_minor",
                "net_revenue_minor",
                "aov_minor",
            ],
            [],
        ),
        "movements": (
            [
                "day",
                "new_minor",
                "reactivation_minor",
                "expansion_minor",
                "contraction_minor",
                "churn_minor",
                "net_minor",
            ],
            [],
        ),
        "cohorts": (
            [
                "cohort_month",
                "months_since",
                "customers_start",
                "customers_retained",
                "mrr_start_minor",
                "mrr_retained_minor",
            ],
            [],
        ),
        "plan_mix": (["plan_slug", "subscribers", "mrr"], []),
    }
    for name, columns, rows in (
        (
            "top_products",
            ["sku", "title", "units", "revenue"],
            selectors.top_products(start=start, end=end, currency=currency),
        ),
        (
            "top_categories",
            ["category", "units", "revenue"],
            selectors.top_categories(start=start, end=end, currency=currency),
        ),
        (
            "discounts_by_coupon",
            ["code", "orders", "discount_minor"],
            selectors.discounts_by_coupon(start=start, end=end, currency=currency),
        ),
    ):
        tables[name] = (columns, [[row[c] for c in columns] for row in rows])
    for m in metrics:
        tables["metrics"][1].append([getattr(m, c) for c in tables["metrics"][0]])
    for row in movements:
        tables["movements"][1].append([row[c] for c in tables["movements"][0]])
    for c in cohorts:
        tables["cohorts"][1].append([getattr(c, f) for f in tables["cohorts"][0]])
    for row in mix:
        tables["plan_mix"][1].append([row[c] for c in tables["plan_mix"][0]])
    heat = _heat_map(cohorts)
    return {
        "tables": tables,
        "heat_map": heat,
        "chart_data": _chart_data(tables, currency),
    }


def _heat_map(cohorts: list[Any]) -> dict[str, Any]:
    """Cohort rows × months, each cell the logo retention in percent."""
    months = sorted({c.months_since for c in cohorts})
    rows: dict[dt.date, dict[int, int]] = {}
    sizes: dict[dt.date, int] = {}
    for c in cohorts:
        sizes[c.cohort_month] = c.customers_start
        share = (
            (c.customers_retained * 100 + c.customers_start // 2) // c.customers_start
            if c.customers_start
            else 0
        )
        rows.setdefault(c.cohort_month, {})[c.months_since] = share
    return {
        "months": months,
        "rows": [
            (month, sizes[month], [_heat_cell(cells.get(k)) for k in months])
            for month, cells in sorted(rows.items())
        ],
    }


def _heat_cell(share: int | None) -> tuple[int, int] | None:
    """(percent, shade 0..10): the shade is a CSS class, not an inline style."""
    return None if share is None else (share, min(10, share // 10))


def _chart_data(
    tables: dict[str, tuple[list[str], list[list[Any]]]], currency: str
) -> dict:
    def column(table: str, name: str) -> list[Any]:
        header, rows = tables[table]
        i = header.index(name)
        return [str(r[i]) if isinstance(r[i], dt.date) else r[i] for r in rows]

    return {
        # Charts draw major units: minor ÷ 10^exponent (JPY has none).
        "scale": 10 ** currency_exponent(currency),
        "days": column("metrics", "day"),
        "mrr": column("metrics", "mrr_minor"),
        "churned": column("metrics", "churned_customers"),
        "gmv": column("metrics", "gmv_minor"),
        "orders": column("metrics", "paid_orders"),
        "movement_days": column("movements", "day"),
        "movements": {
            kind: column("movements", f"{kind}_minor")
            for kind in ("new", "reactivation", "expansion", "contraction", "churn")
        },
        "plans": column("plan_mix", "plan_slug"),
        "plan_mrr": column("plan_mix", "mrr"),
    }


def _csv(filename: str, table: tuple[list[str], Iterable[list[Any]]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    header, rows = table
    writer.writerow(header)
    writer.writerows(rows)
    return response
