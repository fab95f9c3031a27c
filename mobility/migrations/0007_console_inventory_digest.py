from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('mobility', '0006_history_perf'),
    ]

    operations = [
        migrations.AddField(
            model_name='ivmconsole',
            name='inventory_digest',
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='managedsystem',
            name='vios_used_slots',
            field=models.JSONField(blank=True, default=list),
        ),
    ]
