"""Audit events are sealed into the hash chain after their commit (governance.audit.seal), not inside the writer's
transaction: chain columns become empty until sealing, ``position`` orders the chain, and the append-only trigger
lets an unsealed row be sealed once (its chain columns only), and a deleted user's rows lose their link to the user
(not the name, which the hash covers). Existing rows keep their chain, in id order."""

from django.db import migrations, models

SEALABLE = """
CREATE OR REPLACE FUNCTION mobility_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- Sealing: a row without a hash gets its chain columns, once; nothing else of it may change.
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
       AND (NEW.id, NEW.at, NEW.actor_id, NEW.actor_name, NEW.action, NEW.object_type, NEW.object_id, NEW.data)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor_id, OLD.actor_name, OLD.action, OLD.object_type, OLD.object_id, OLD.data) THEN
        RETURN NEW;
    END IF;
    -- A deleted user (ON DELETE SET NULL): the row keeps the name it was written with, which the hash covers.
    IF TG_OP = 'UPDATE' AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
       AND (NEW.id, NEW.at, NEW.actor_name, NEW.action, NEW.object_type, NEW.object_id, NEW.data, NEW.position,
            NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor_name, OLD.action, OLD.object_type, OLD.object_id, OLD.data, OLD.position,
            OLD.prev_hash, OLD.hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % refused on mobility_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION mobility_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % refused on mobility_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
# The chain so far was in id order: its positions are the ids (gaps are fine, the order is what counts).
BACKFILL = "UPDATE mobility_auditevent SET position = id WHERE hash IS NOT NULL"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEALABLE, params=None)
        schema_editor.execute("ALTER TABLE mobility_auditevent DISABLE TRIGGER mobility_audit_append_only")
        schema_editor.execute(BACKFILL, params=None)
        schema_editor.execute("ALTER TABLE mobility_auditevent ENABLE TRIGGER mobility_audit_append_only")
    else:
        schema_editor.execute(BACKFILL, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY, params=None)


class Migration(migrations.Migration):
    dependencies = [("mobility", "0007_console_inventory_digest")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="position",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(condition=models.Q(("hash__isnull", True)), fields=["id"], name="audit_unsealed_idx"),
        ),
        migrations.RunPython(forwards, backwards),
    ]
