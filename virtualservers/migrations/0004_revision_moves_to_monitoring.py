# Revision moves to the monitoring app (publishing lives there). State only: the table
# virtualservers_revision stays where it is and monitoring.0004 takes the model over.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("virtualservers", "0003_canonical_addresses"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Revision")],
            database_operations=[],
        ),
    ]
