"""The player's display name for templates: ``{% load game_display %}{% display_name user %}``.

One name everywhere (issue 14): the header shows the account's player's public display name (the
nickname the leaderboards show), never the username.
"""

from __future__ import annotations

from django import template

from game import selectors

register = template.Library()


@register.simple_tag
def display_name(user) -> str:
    """The display name of ``user``'s player; "Your profile" before the account has played."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    player = selectors.player_for_user(user=user)
    return player.nickname if player is not None else "Your profile"
