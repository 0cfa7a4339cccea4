from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.subscriptions import selectors

INTERVALS = {"month": "Monthly", "year": "Yearly"}


def pricing(request: HttpRequest) -> HttpResponse:
    interval = request.GET.get("interval", "month")
    if interval not in INTERVALS:
        interval = "month"
    data = selectors.pricing_page(interval=interval)
    return render(
        request,
        "subscriptions/pricing.html",
        {**data, "interval": interval, "intervals": INTERVALS},
    )


def subscribe(request: HttpRequest, price_id: int) -> HttpResponse:
    # Subscribing arrives in the next phase; this page says so honestly.
    return render(request, "subscriptions/subscribe_soon.html", {"price_id": price_id})
