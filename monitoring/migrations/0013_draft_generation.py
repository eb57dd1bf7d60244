"""The draft's generation counter and its triggers. They are made again after every migrate
too (monitoring.publish.generation.after_migrate): SQLite drops a table's triggers when a later
migration rebuilds the table. Going back, they go first: a trigger naming a missing table would
fail every write to its draft table."""

from django.db import migrations, models


def make_triggers(apps, schema_editor) -> None:
    from monitoring.publish.generation import make_triggers

    make_triggers(schema_editor.connection)


def drop_triggers(apps, schema_editor) -> None:
    from monitoring.publish.generation import drop_triggers

    drop_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0012_peersync_follow_status"),
        ("realservers", "0003_rewrite_addresses_canonically"),
        ("virtualservers", "0010_redundancy_bgp"),
    ]

    operations = [
        migrations.CreateModel(
            name="DraftGeneration",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.BigIntegerField(default=0)),
                ("pending_key", models.CharField(blank=True, max_length=255)),
                ("pending", models.JSONField(blank=True, default=dict)),
                ("drift_key", models.CharField(blank=True, max_length=255)),
                ("drifted", models.BooleanField(default=False)),
            ],
        ),
        migrations.RunPython(make_triggers, drop_triggers),
    ]
