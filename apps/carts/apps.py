from django.apps import AppConfig


class CartsConfig(AppConfig):
    name = "apps.carts"
    label = "carts"

    def ready(self) -> None:
        from apps.carts import handlers  # noqa: F401
