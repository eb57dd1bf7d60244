"""The draft's generation counter. Its triggers are made after every migrate
(monitoring.publish.generation.after_migrate), not here: SQLite drops a table's triggers when
a later migration rebuilds the table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0012_peersync_follow_status"),
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
    ]
