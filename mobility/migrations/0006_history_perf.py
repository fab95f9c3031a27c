"""PostgreSQL indexes for the auditors' history and timeline at 100,000 migrations and 1,000,000 audit events.

- ``migration_duration_idx``: the "Longest first" sort orders by ``finished_at - started_at`` (DESC, NULLS
  FIRST, then id DESC); without an index on that very expression the planner read and sorted every
  migration of the filter (a sequential scan for a team). The INCLUDEd columns make the walk an
  index-only scan (PostgreSQL needs an expression's own columns in the index for that) that also
  carries ``partition_id``, which the team filter checks: a team whose migrations sit far down the
  index costs an index walk, not a heap visit per skipped migration.
- ``migration_suspend_idx``: the same for "Longest suspend first".
- ``approval_approver_migration_idx``: "approved by X" is an EXISTS over votes; with the migration id in the
  approver's index it is an index-only scan instead of a visit of every vote of that approver.
- ``audit_data_migration_idx`` / ``audit_data_migration_id_idx``: a migration's timeline finds its IVM
  commands by ``data -> 'migration'`` (and older events by ``data -> 'migration_id'``), ORed with
  ``(object_type, object_id)``; each branch needs an index or the OR becomes a scan of the whole trail.
  Partial (key present): most events name no migration, so these stay small.

Expression and partial indexes on JSON paths are PostgreSQL's; SQLite (``make run``) gets none of these, the
same way 0003 installs its trigger on PostgreSQL only. They live outside the models' Meta on purpose: the
Django state does not describe them, so ``makemigrations`` never tries to drop or re-create them.
"""

from django.db import migrations

INDEXES = {
    "migration_duration_idx":
        "ON mobility_migration ((finished_at - started_at) DESC NULLS FIRST, id DESC)"
        " INCLUDE (partition_id, started_at, finished_at)",
    "migration_suspend_idx":
        "ON mobility_migration (suspend_window_s DESC NULLS FIRST, id DESC) INCLUDE (partition_id)",
    "approval_approver_migration_idx":
        "ON mobility_approval (approver_id, migration_id)",
    "audit_data_migration_idx":
        "ON mobility_auditevent ((data -> 'migration')) WHERE (data -> 'migration') IS NOT NULL",
    "audit_data_migration_id_idx":
        "ON mobility_auditevent ((data -> 'migration_id')) WHERE (data -> 'migration_id') IS NOT NULL",
}


def create_sql() -> list[str]:
    """The statements that create the indexes (also used by bench/audit_bench.py)."""
    return [f"CREATE INDEX IF NOT EXISTS {name} {definition}" for name, definition in INDEXES.items()]


def drop_sql() -> list[str]:
    return [f"DROP INDEX IF EXISTS {name}" for name in INDEXES]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in create_sql():
            schema_editor.execute(sql, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in drop_sql():
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("mobility", "0005_history_indexes")]
    operations = [migrations.RunPython(forwards, backwards)]
