from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("game", "0003_player_display_names")]

    operations = [
        migrations.AlterField(
            model_name="player",
            name="nickname_key",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="nickname_key(nickname): display names are unique under it (set on save).",
                max_length=100,
                null=True,
                unique=True,
            ),
        ),
    ]
