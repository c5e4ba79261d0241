"""Display names: a nullable key column first (filled by 0003, made unique by 0004)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("game", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="player",
            name="nickname",
            field=models.CharField(help_text="Public display name.", max_length=30),
        ),
        migrations.AddField(
            model_name="player",
            name="nickname_key",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="nickname_key(nickname): display names are unique under it (set on save).",
                max_length=100,
                null=True,
            ),
        ),
    ]
