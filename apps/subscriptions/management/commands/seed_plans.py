"""Demo plans: Starter and Pro (monthly and yearly), a private Enterprise plan.

Idempotent: rows are found by key/slug and (plan, interval, amount); running it
twice leaves the same rows. Pro has a 14-day trial. Pushing to Stripe needs
Stripe (or localstripe) running, so `push_plans` does it (make run calls it
after starting localstripe); pass --push to push here too.
"""

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.subscriptions import services
from apps.subscriptions.models import Feature, Plan, PlanPrice

FEATURES = [
    ("projects", "Projects", Feature.Kind.NUMBER, "projects", "Active projects."),
    ("seats", "Devices", Feature.Kind.NUMBER, "devices", "Devices per licence."),
    ("api_access", "API access", Feature.Kind.BOOLEAN, "", "Use the REST API."),
    ("priority_support", "Priority support", Feature.Kind.BOOLEAN, "", ""),
    ("support", "Support", Feature.Kind.TEXT, "", "How we answer."),
]

PLANS: list[dict[str, Any]] = [
    {
        "slug": "starter",
        "name": "Starter",
        "description": "For one person getting started.",
        "sort_order": 10,
        "trial_days": 0,
        "features": {
            "projects": 3,
            "seats": 1,
            "api_access": False,
            "priority_support": False,
            "support": "Email",
        },
        "limits": {"api_calls": {"per_day": 100, "per_month": 2000}},
        "prices": [("month", 900), ("year", 9000)],
    },
    {
        "slug": "pro",
        "name": "Pro",
        "description": "For teams who ship every day.",
        "sort_order": 20,
        "trial_days": 14,
        "features": {
            "projects": 50,
            "seats": 5,
            "api_access": True,
            "priority_support": True,
            "support": "Email and chat",
        },
        "limits": {"api_calls": {"per_day": 5000, "per_month": 100000}},
        "prices": [("month", 2900), ("year", 29000)],
    },
    {
        "slug": "enterprise",
        "name": "Enterprise",
        "description": "Negotiated terms; by direct link only.",
        "sort_order": 30,
        "visibility": Plan.Visibility.PRIVATE,
        "trial_days": 0,
        "features": {
            "projects": 1000,
            "seats": 100,
            "api_access": True,
            "priority_support": True,
            "support": "Named engineer",
        },
        "limits": {"api_calls": {"per_day": None, "per_month": None}},
        "prices": [("year", 500000)],
    },
]


class Command(BaseCommand):
    help = "Create the demo plans, prices and features (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--push", action="store_true", help="Push them to Stripe now."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            for order, (key, label, kind, unit, description) in enumerate(FEATURES):
                Feature.objects.update_or_create(
                    key=key,
                    defaults={
                        "label": label,
                        "kind": kind,
                        "unit": unit,
                        "description": description,
                        "sort_order": order,
                    },
                )
            for spec in PLANS:
                spec = dict(spec)
                prices = spec.pop("prices")
                services.plan_features_validate(features=spec["features"])
                services.plan_limits_validate(limits=spec["limits"])
                plan, _ = Plan.objects.get_or_create(
                    slug=spec.pop("slug"), defaults=spec
                )
                for interval, amount in prices:
                    PlanPrice.objects.get_or_create(
                        plan=plan,
                        interval=interval,
                        interval_count=1,
                        currency="USD",
                        active=True,
                        defaults={"amount_minor": amount},
                    )
        self.stdout.write(f"Plans: {', '.join(p['slug'] for p in PLANS)}")
        if options["push"]:
            call_command("push_plans", stdout=self.stdout, stderr=self.stderr)
