"""The three roles as groups: viewer (reads everything), operator (also activates, deactivates
and applies), administrator (also edits the draft and manages users). The user `piranha` that
`manage.py lvspasswd` makes becomes an administrator."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPS = ("virtualservers", "realservers", "monitoring")
OPERATOR = (("virtualservers", "toggle_server"), ("monitoring", "publish_revision"))
# Nobody edits the trail, not even an administrator.
NEVER = {"add_auditentry", "change_auditentry", "delete_auditentry"}


def make_groups(apps, schema_editor):
    # Permissions are normally created after all migrations ran (post_migrate): make them now
    # so the groups can hold them on a fresh database.
    for config in apps.get_app_configs():
        # create_permissions skips an app without models_module (which migration states lack).
        saved = getattr(config, "models_module", None)
        config.models_module = saved or True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = saved
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("auth", "User")
    ours = Permission.objects.filter(content_type__app_label__in=APPS).exclude(codename__in=NEVER)
    viewer, _ = Group.objects.get_or_create(name="viewer")
    viewer.permissions.set(ours.filter(codename__startswith="view_"))
    operator, _ = Group.objects.get_or_create(name="operator")
    operator.permissions.set(
        [
            *ours.filter(codename__startswith="view_"),
            *(
                Permission.objects.get(content_type__app_label=app, codename=code)
                for app, code in OPERATOR
            ),
        ]
    )
    administrator, _ = Group.objects.get_or_create(name="administrator")
    administrator.permissions.set(
        [*ours, *Permission.objects.filter(content_type__app_label__in=("auth", "lvsadmin"))]
    )
    for user in User.objects.filter(username="piranha"):
        user.groups.add(administrator)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=("viewer", "operator", "administrator")
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("lvsadmin", "0001_initial"),
        ("monitoring", "0007_audit_entry_and_publish_permission"),
        ("realservers", "0003_rewrite_addresses_canonically"),
        ("virtualservers", "0007_roles_permissions"),
    ]

    operations = [migrations.RunPython(make_groups, remove_groups)]
