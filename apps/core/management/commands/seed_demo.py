"""Load demo data: a staff user, then each app's own seed command if it has one.

Idempotent: running it twice leaves the same rows. Apps plug in by providing
a management command named in SEED_COMMANDS, so core imports no app.
"""

import os

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

# stripe_dev_setup is not here: it needs localstripe running, so run_dev.py
# calls it after starting localstripe, on every start.
SEED_COMMANDS = [
    "seed_catalogue",
    "seed_shipping",
    "seed_plans",
    "seed_coupons",
    "seed_pages",
    # Last: it reads the plans seeded above.
    "seed_analytics_history",
]


class Command(BaseCommand):
    help = (
        "Create the demo staff user and load the demo catalogue and plans (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--staff-only",
            action="store_true",
            help="Create the staff login only, without the apps' demo data.",
        )

    def handle(self, *args, **options):
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "admin-demo-password")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            email=email,
            defaults={"is_staff": True, "is_superuser": True, "name": "Demo staff"},
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        # The shop's sign-in needs a confirmed address (mandatory verification).
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        if user.check_password(password):
            self.stdout.write(f"Staff login: {email} / {password}")
        else:
            self.stdout.write(
                f"Staff login: {email} / (its password was changed; reset it with "
                f"`manage.py changepassword {email}`)"
            )
        if options["staff_only"]:
            return
        available = get_commands()
        for name in SEED_COMMANDS:
            if name in available:
                call_command(name, stdout=self.stdout, stderr=self.stderr)
