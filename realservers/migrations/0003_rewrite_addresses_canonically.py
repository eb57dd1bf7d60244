"""Rows written before addresses were kept canonical get their one spelling ("2001:db8::1"),
so that uniqueness checks and lvs.cf compare like with like. A value that is not an address is
left as it is; a row whose canonical spelling would collide with another's is left too (the
forms will name the duplicate when it is next edited)."""

import ipaddress

from django.db import IntegrityError, migrations, transaction

FIELDS = {
    ("virtualservers", "GlobalSettings"): ["primary", "primary_private", "nat_router_ip"],
    ("virtualservers", "Redundancy"): ["backup", "backup_private"],
    ("virtualservers", "VirtualServer"): ["address", "sorry_server"],
    ("realservers", "RealServer"): ["address"],
}


def canonical(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return value


def rewrite(apps, schema_editor) -> None:
    for (app, model_name), names in FIELDS.items():
        model = apps.get_model(app, model_name)
        for row in model.objects.all().only("pk", *names):
            changed = {n: canonical(getattr(row, n)) for n in names if getattr(row, n)}
            changed = {n: v for n, v in changed.items() if v != getattr(row, n)}
            if not changed:
                continue
            try:
                with transaction.atomic():
                    model.objects.filter(pk=row.pk).update(**changed)
            except IntegrityError:
                pass


class Migration(migrations.Migration):
    dependencies = [
        ("realservers", "0002_canonical_addresses"),
        ("virtualservers", "0003_canonical_addresses"),
    ]

    operations = [migrations.RunPython(rewrite, migrations.RunPython.noop)]
