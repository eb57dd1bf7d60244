# MonitoringScript arrives from the monitoring app (its fields are keys of the lvs.cf virtual
# block). State only: the table monitoring_monitoringscript keeps its name and rows. The content
# types follow both moved models, so that permissions granted on them keep applying.

import django.db.models.deletion
import virtualservers.validators
from django.db import migrations, models

MOVES = [
    ("monitoringscript", "monitoring", "virtualservers"),
    ("revision", "virtualservers", "monitoring"),
]


def move_content_types(apps, schema_editor, backwards=False):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, old, new in MOVES:
        if backwards:
            old, new = new, old
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, backwards=True)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("monitoring", "0004_models_change_apps"),
        ("virtualservers", "0004_revision_moves_to_monitoring"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="MonitoringScript",
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
                            "kind",
                            models.CharField(
                                choices=[
                                    ("nanny", "Send/expect or sending program (as nanny)"),
                                    ("tcp", "TCP connect only"),
                                    ("mysql", "Built-in MySQL check"),
                                ],
                                default="nanny",
                                max_length=8,
                                verbose_name="Check",
                            ),
                        ),
                        (
                            "send_program",
                            models.CharField(
                                blank=True,
                                max_length=255,
                                validators=[
                                    virtualservers.validators.validate_no_quote,
                                    virtualservers.validators.validate_absolute_program,
                                ],
                                verbose_name="Sending Program",
                            ),
                        ),
                        (
                            "send",
                            models.CharField(
                                blank=True,
                                default="GET / HTTP/1.0\\r\\n\\r\\n",
                                max_length=255,
                                null=True,
                                validators=[virtualservers.validators.validate_no_quote],
                                verbose_name="Send",
                            ),
                        ),
                        (
                            "expect",
                            models.CharField(
                                blank=True,
                                default="HTTP",
                                max_length=255,
                                null=True,
                                validators=[virtualservers.validators.validate_no_quote],
                                verbose_name="Expect",
                            ),
                        ),
                        (
                            "use_regex",
                            models.BooleanField(
                                blank=True,
                                default=False,
                                null=True,
                                verbose_name="Treat expect string as a regular expression",
                            ),
                        ),
                        (
                            "mysql_user",
                            models.CharField(blank=True, max_length=80, verbose_name="MySQL user"),
                        ),
                        (
                            "mysql_password",
                            models.CharField(
                                blank=True, max_length=255, verbose_name="MySQL password"
                            ),
                        ),
                        (
                            "mysql_database",
                            models.CharField(
                                blank=True, max_length=64, verbose_name="MySQL database"
                            ),
                        ),
                        (
                            "mysql_query",
                            models.CharField(
                                blank=True, max_length=255, verbose_name="MySQL query"
                            ),
                        ),
                        (
                            "mysql_expect",
                            models.CharField(
                                blank=True, max_length=255, verbose_name="Expected result"
                            ),
                        ),
                        (
                            "virtual_server",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="monitoring_script",
                                to="virtualservers.virtualserver",
                                verbose_name="virtual server",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "monitoring script",
                        "verbose_name_plural": "monitoring scripts",
                        "db_table": "monitoring_monitoringscript",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
