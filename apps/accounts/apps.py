from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        # django-allauth 65.21.1 reaches cryptography through a lazy proxy
        # (allauth.core.internal.deferred). Loading the JWT key then resolves
        # `cryptography.hazmat.primitives.serialization` as an attribute, which
        # only exists once the submodule has been imported somewhere; without
        # this import headless signup/login with the JWT strategy returns 500.
        # Covered by tests/accounts/test_headless.py (signup/login return tokens,
        # and the module is loaded where the key comes from the environment).
        import cryptography.hazmat.primitives.serialization  # noqa: F401

        from apps.accounts.api import schema  # noqa: F401  (registers the extension)
