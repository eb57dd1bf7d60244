# MonitoringScript leaves for virtualservers (virtualservers.0005 takes it over) and Revision
# arrives from there. State only: both tables keep their names and rows.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0003_sample_minute"),
        ("virtualservers", "0004_revision_moves_to_monitoring"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="MonitoringScript"),
                migrations.CreateModel(
                    name="Revision",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "serial_no",
                            models.PositiveIntegerField(unique=True, verbose_name="serial number"),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(auto_now_add=True, verbose_name="published at"),
                        ),
                        ("text", models.TextField(verbose_name="lvs.cf")),
                        (
                            "comment",
                            models.CharField(blank=True, max_length=255, verbose_name="comment"),
                        ),
                        (
                            "checks",
                            models.JSONField(
                                blank=True, default=dict, verbose_name="built-in checks"
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="published by",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "revision",
                        "verbose_name_plural": "revisions",
                        "db_table": "virtualservers_revision",
                        "ordering": ["-serial_no"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
