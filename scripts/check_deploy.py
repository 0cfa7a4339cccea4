"""Run `manage.py check --deploy` with production settings and throwaway secrets."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.settings.devkeys import rsa_private_key_pem  # noqa: E402


def production_environ() -> dict[str, str]:
    """Return this process's environment plus every secret production requires.

    STRIPE_API_HOST is removed, as on a real deploy that talks to Stripe itself.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
        "HEADLESS_JWT_PRIVATE_KEY": rsa_private_key_pem(),
        "STRIPE_TEST_SECRET_KEY": "sk_test_" + secrets.token_hex(16),
        "STRIPE_TEST_PUBLIC_KEY": "pk_test_" + secrets.token_hex(16),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16),
    }
    env.pop("STRIPE_API_HOST", None)
    return env


if __name__ == "__main__":
    sys.exit(
        subprocess.call(
            [
                *(sys.executable, "manage.py", "check", "--deploy"),
                *("--fail-level", "WARNING"),
            ],
            cwd=ROOT,
            env=production_environ(),
        )
    )
