"""The player's display name for templates: ``{% load game_display %}{% display_name user %}``.

Also ``{% nickname_min_length %}`` and ``{% nickname_max_length %}``: the nickname fields'
limits, from ``game.rules``.

One name everywhere (issue 14): the header shows the account's player's public display name (the
nickname the leaderboards show), never the username.
"""

from __future__ import annotations

from django import template

from game import rules, selectors

register = template.Library()


@register.simple_tag
def display_name(user) -> str:
    """The display name of ``user``'s player; "Your profile" before the account has played."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    player = selectors.player_for_user(user=user)
    return player.nickname if player is not None else "Your profile"


@register.simple_tag
def nickname_min_length() -> int:
    """``rules.NICKNAME_MIN_LENGTH``: the nickname fields say the server's rule, one source."""
    return rules.NICKNAME_MIN_LENGTH


@register.simple_tag
def nickname_max_length() -> int:
    """``rules.NICKNAME_MAX_LENGTH``: the fields count up to it (no ``maxlength``, never a cut)."""
    return rules.NICKNAME_MAX_LENGTH
