"""A data migration the tests steer: MIGRATION_MARKER gets the pid of the
migrating process when it begins, MIGRATION_SLEEP makes it slow,
MIGRATION_FAIL makes it raise."""
import os
import time

from django.db import migrations


def first_note(apps, schema_editor):
    marker = os.environ.get("MIGRATION_MARKER")
    if marker:
        with open(marker + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(marker + ".tmp", marker)
    time.sleep(float(os.environ.get("MIGRATION_SLEEP", "0")))
    if os.environ.get("MIGRATION_FAIL"):
        raise RuntimeError("migration refused: MIGRATION_FAIL is set")
    apps.get_model("notes", "Note").objects.create(text="hello")


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.RunPython(first_note, migrations.RunPython.noop)]
