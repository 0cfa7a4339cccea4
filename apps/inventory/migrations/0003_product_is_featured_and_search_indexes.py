"""Featured flag, and the search indexes (PostgreSQL only; a no-op on SQLite).

The full-text index is on the expression catalogue.product_document() builds,
so a search filters through it; the trigram index serves typo matching on
titles (pg_trgm's word similarity).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(description, '')), 'C'))"
)
CREATE = [
    f"CREATE INDEX IF NOT EXISTS inventory_product_search_gin "
    f"ON inventory_product USING gin ({DOCUMENT})",
    "CREATE INDEX IF NOT EXISTS inventory_product_title_trgm "
    "ON inventory_product USING gin (title gin_trgm_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS inventory_product_title_trgm",
    "DROP INDEX IF EXISTS inventory_product_search_gin",
]


class PostgresTrigramExtension(TrigramExtension):
    """pg_trgm on PostgreSQL; nothing elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        # Other apps may use the extension: leave it installed.
        pass


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0002_product_image_variant_and_renditions"),
    ]

    operations = [
        migrations.AddField(
            model_name="product",
            name="is_featured",
            field=models.BooleanField(
                default=False, help_text="Shown on the home page."
            ),
        ),
        PostgresTrigramExtension(),
        migrations.RunPython(_run(CREATE), _run(DROP), elidable=False),
    ]
