# Published revisions named the MySQL check's settings `user`, `password`... while the model and
# the probe said `mysql_user`, `mysql_password`...: rewrite the stored ones to the one spelling.

from django.db import migrations

# This migration's own copy: it must keep meaning what it meant when it was written.
OLD_TO_NEW = {
    "user": "mysql_user",
    "password": "mysql_password",
    "database": "mysql_database",
    "query": "mysql_query",
    "expect": "mysql_expect",
}


def _rename(apps, names: dict[str, str]) -> None:
    Revision = apps.get_model("monitoring", "Revision")
    for revision in Revision.objects.only("checks").iterator():
        checks = {
            virtual: {names.get(key, key): value for key, value in check.items()}
            for virtual, check in (revision.checks or {}).items()
        }
        if checks != revision.checks:
            Revision.objects.filter(pk=revision.pk).update(checks=checks)


def forwards(apps, schema_editor):
    _rename(apps, OLD_TO_NEW)


def backwards(apps, schema_editor):
    _rename(apps, {new: old for old, new in OLD_TO_NEW.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0004_models_change_apps"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
