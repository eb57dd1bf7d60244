"""The notifications page's settings (one row). Administrators change them, every role reads
them: the groups get the new model's permissions here, as 0008 gave them the others."""

import django.core.validators
from django.contrib.auth.management import create_permissions
from django.db import migrations, models


def grant(apps, schema_editor):
    config = apps.get_app_config("monitoring")
    # Permissions are normally made after all migrations (post_migrate): make them now.
    saved = getattr(config, "models_module", None)
    config.models_module = saved or True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = saved
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(
        content_type__app_label="monitoring", content_type__model="notificationsettings"
    )
    for group in Group.objects.filter(name__in=("viewer", "operator", "administrator")):
        granted = (
            ours if group.name == "administrator" else ours.filter(codename__startswith="view_")
        )
        group.permissions.add(*granted)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0009_drain_runtime_state"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="NotificationSettings",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "recipients",
                    models.TextField(
                        blank=True,
                        help_text="One address per line (or separated by commas). Empty: no e-mail.",
                        verbose_name="e-mail recipients",
                    ),
                ),
                (
                    "sender",
                    models.EmailField(
                        blank=True,
                        help_text="Empty: DEFAULT_FROM_EMAIL of the settings.",
                        max_length=254,
                        verbose_name="e-mail sender",
                    ),
                ),
                (
                    "webhook_url",
                    models.URLField(
                        blank=True,
                        help_text="http:// or https://; receives a JSON POST per message. Empty: no webhook.",
                        max_length=500,
                        validators=[django.core.validators.URLValidator(schemes=["http", "https"])],
                        verbose_name="webhook URL",
                    ),
                ),
                (
                    "webhook_timeout",
                    models.FloatField(
                        default=5.0,
                        validators=[
                            django.core.validators.MinValueValidator(0.5),
                            django.core.validators.MaxValueValidator(60),
                        ],
                        verbose_name="webhook timeout (seconds)",
                    ),
                ),
                (
                    "webhook_retries",
                    models.PositiveSmallIntegerField(
                        default=3,
                        help_text="Retried after 1, 2, 4... seconds when it fails.",
                        validators=[django.core.validators.MaxValueValidator(10)],
                        verbose_name="webhook retries",
                    ),
                ),
                (
                    "program",
                    models.CharField(
                        blank=True,
                        help_text="Run as PROGRAM [ARGS] TYPE NAME STATE for every change, without a shell, only from a check program directory. Empty: no program.",
                        max_length=255,
                        verbose_name="notify program",
                    ),
                ),
                (
                    "program_timeout",
                    models.FloatField(
                        default=10.0,
                        validators=[
                            django.core.validators.MinValueValidator(0.5),
                            django.core.validators.MaxValueValidator(120),
                        ],
                        verbose_name="program timeout (seconds)",
                    ),
                ),
                (
                    "window",
                    models.FloatField(
                        default=2.0,
                        help_text="Changes closer together than this are sent as one message.",
                        validators=[
                            django.core.validators.MinValueValidator(0.1),
                            django.core.validators.MaxValueValidator(300),
                        ],
                        verbose_name="grouping window (seconds)",
                    ),
                ),
                (
                    "max_delay",
                    models.FloatField(
                        default=30.0,
                        help_text="A message is sent at the latest this long after its first change.",
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(3600),
                        ],
                        verbose_name="longest delay (seconds)",
                    ),
                ),
            ],
            options={
                "verbose_name": "notification settings",
                "verbose_name_plural": "notification settings",
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
