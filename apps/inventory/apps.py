from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "apps.inventory"
    label = "inventory"

    def ready(self) -> None:
        from apps.inventory import page_cache

        # Admin edits, imports and services all save through the ORM; stock
        # services that UPDATE in bulk call page_cache.catalogue_changed() too.
        page_cache.connect_signals()
