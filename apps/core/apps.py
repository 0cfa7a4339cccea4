from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from apps.core.api import schema  # noqa: F401  registers OpenAPI extensions
        from apps.core.logging import clear_request_id
        from apps.core.metrics import metrics_connect

        metrics_connect()
        request_finished.connect(clear_request_id, dispatch_uid="core.request_id")
