"""Keep a guest's play when they sign up or log in (django-allauth signals)."""

from __future__ import annotations

from allauth.account.signals import user_logged_in, user_signed_up
from django.dispatch import receiver

from . import services


def _claim(request, user) -> None:
    if request is None or not hasattr(request, "session"):
        services.player_ensure_for_user(user=user)
        return
    guest_id = request.session.get(services.SESSION_PLAYER_KEY)
    services.player_claim_guest(user=user, guest_id=guest_id)
    request.session.pop(services.SESSION_PLAYER_KEY, None)


@receiver(user_signed_up, dispatch_uid="game_claim_guest_on_signup")
def claim_guest_on_signup(sender, request=None, user=None, **kwargs) -> None:
    _claim(request, user)


@receiver(user_logged_in, dispatch_uid="game_claim_guest_on_login")
def claim_guest_on_login(sender, request=None, user=None, **kwargs) -> None:
    _claim(request, user)
