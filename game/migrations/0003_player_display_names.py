"""Display names for existing players (issue 11, D11).

Accounts used to play under their username. Every name that is an account's username (the
player's own, by default, or another account's) becomes a generated neutral name
("Player 4821"); so does a name that another, older player already holds under
``nickname_key`` (case, accents, separators and look-alike letters folded). Then the key is set.
"""

import secrets

from django.conf import settings
from django.db import migrations

from game.models import nickname_key


def _generated(taken: set[str]) -> tuple[str, str]:
    for digits in (4, 4, 4, 5, 5, 6, 6, 8, 8, 8):
        name = f"Player {10 ** (digits - 1) + secrets.randbelow(9 * 10 ** (digits - 1))}"
        key = nickname_key(name)
        if key not in taken:
            return name, key
    name = f"Player {secrets.token_hex(8)}"[:30]
    return name, nickname_key(name)


def forwards(apps, schema_editor):
    Player = apps.get_model("game", "Player")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    username_keys = {
        nickname_key(username)
        for username in User.objects.values_list("username", flat=True).iterator()
    }
    taken: set[str] = set()
    rows = Player.objects.order_by("id").values_list("id", "nickname").iterator()
    for player_id, nickname in rows:
        key = nickname_key(nickname)
        if not key or key in username_keys or key in taken:
            nickname, key = _generated(taken | username_keys)
            Player.objects.filter(pk=player_id).update(nickname=nickname, nickname_key=key)
        else:
            Player.objects.filter(pk=player_id).update(nickname_key=key)
        taken.add(key)


class Migration(migrations.Migration):
    dependencies = [
        ("game", "0002_player_nickname_key"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
