"""The audit trail refuses TRUNCATE too (a statement trigger: the row trigger never sees it), and verifications of
the chain are kept for the auditors' page.

Test databases are flushed with TRUNCATE: the test suite flushes under ``session_replication_role = replica`` (a
superuser's right, which the application's role should not have), as a database administrator would.
"""

from django.db import migrations, models
from django.utils import timezone

CREATE = """
CREATE OR REPLACE FUNCTION mobility_audit_no_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: TRUNCATE refused on mobility_auditevent'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER mobility_audit_no_truncate
    BEFORE TRUNCATE ON mobility_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION mobility_audit_no_truncate();
"""
DROP = """
DROP TRIGGER IF EXISTS mobility_audit_no_truncate ON mobility_auditevent;
DROP FUNCTION IF EXISTS mobility_audit_no_truncate();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("mobility", "0010_partition_quarantine")]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.CreateModel(
            name="AuditVerification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(db_index=True, default=timezone.now)),
                ("ok", models.BooleanField()),
                ("checked", models.BigIntegerField()),
                ("head", models.CharField(max_length=64)),
                ("problem", models.TextField(blank=True)),
            ],
            options={"ordering": ["-at"]},
        ),
    ]
