from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "apps.subscriptions"
    label = "subscriptions"

    def ready(self) -> None:
        from apps.subscriptions import handlers, licence_handlers  # noqa: F401
