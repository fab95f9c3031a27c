"""On PostgreSQL, a trigger refuses UPDATE and DELETE on the audit trail: it is append-only.

TRUNCATE stays possible for the table's owner (test databases are flushed with it); the hash chain
and the head hash kept outside the database reveal a truncation.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION mobility_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % refused on mobility_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER mobility_audit_append_only
    BEFORE UPDATE OR DELETE ON mobility_auditevent
    FOR EACH ROW EXECUTE FUNCTION mobility_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS mobility_audit_append_only ON mobility_auditevent;
DROP FUNCTION IF EXISTS mobility_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("mobility", "0002_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
