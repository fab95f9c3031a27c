"""PostgreSQL indexes for the API's list of migrations at 100,000 migrations (``bench/api_bench.py``).

The list is newest first (``created_at DESC, id DESC``) under filters; a page is found by id first and its count
stops at 10,000 (``mobility.api.pagination.CappedPages``). These indexes let both walk the filter's rows in order,
index-only:

- ``migration_status_mode_idx``: by status and mode (an auditor's usual filters);
- ``migration_source_status_idx``: by source server and status (a team's usual filters).

Both INCLUDE ``partition_id``, which the policy's team filter joins on, so a requester's page costs no heap visit
per migration. As in 0006, PostgreSQL only (SQLite has no INCLUDE) and outside the models' Meta, so that
``makemigrations`` never tries to drop or re-create them.
"""

from django.db import migrations

INDEXES = {
    "migration_status_mode_idx":
        "ON mobility_migration (status, mode, created_at DESC, id DESC) INCLUDE (partition_id)",
    "migration_source_status_idx":
        "ON mobility_migration (source_id, status, created_at DESC, id DESC) INCLUDE (partition_id)",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}", params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [("mobility", "0014_rehearsals")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
