"""The audit table becomes append-only in the database: triggers refuse UPDATE and DELETE (see
lacrima.web.audit.triggers). The actor link stops cascading (deleting a user would otherwise have to
update audit rows): the row keeps the actor's id and name as they were."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def install(apps, schema_editor):
    from lacrima.web.audit import triggers

    triggers.install(schema_editor.connection)


def remove(apps, schema_editor):
    from lacrima.web.audit import triggers

    triggers.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(install, remove),
    ]
