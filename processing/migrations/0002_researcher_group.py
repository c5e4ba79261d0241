"""The "researcher" group: its members may read and curate processed labels (IsResearcher)."""

from django.db import migrations


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name="researcher")


def remove_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name="researcher").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("processing", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
