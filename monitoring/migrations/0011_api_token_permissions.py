"""Administrators manage users, so they manage users' API tokens in /admin/ too (Tokens)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations (post_migrate): make authtoken's now.
    config = apps.get_app_config("authtoken")
    saved = getattr(config, "models_module", None)
    config.models_module = saved or True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = saved
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    tokens = Permission.objects.filter(content_type__app_label="authtoken")
    for group in Group.objects.filter(name="administrator"):
        group.permissions.add(*tokens)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    tokens = Permission.objects.filter(content_type__app_label="authtoken")
    for group in Group.objects.filter(name="administrator"):
        group.permissions.remove(*tokens)


class Migration(migrations.Migration):
    dependencies = [
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("monitoring", "0010_notify_settings"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
