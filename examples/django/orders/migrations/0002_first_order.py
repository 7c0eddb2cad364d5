"""A data migration: the shop opens with one order, so GET / shows a row
the migrations wrote. Idempotent, as migrations run under a once-key must
be (a holder that dies mid-run is followed by another replica)."""
from django.db import migrations


def first_order(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    Order.objects.get_or_create(item="welcome", defaults={"quantity": 1})


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]
    operations = [migrations.RunPython(first_order, migrations.RunPython.noop)]
