"""django-allauth's account adapter (``ACCOUNT_ADAPTER``): a sign-up spends the same budget of new
players per address and per network as a guest (issue 12), and a confirmed e-mail address gives
the account's player the account prior at once (``selectors.account_prior_exists``)."""

from __future__ import annotations

import math

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from . import selectors, throttles, trust_services


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        """Refuse (429, the sign-up form again with why and when) a sign-up over the new-player
        limits; checked here, after the form is valid and before anything is saved, so a form
        with a mistake costs no budget."""
        if request is not None:
            wait = throttles.signup_creation_wait(request)
            if wait is not None:
                raise ImmediateHttpResponse(_signup_limited(request, form, wait))
        return super().save_user(request, user, form, commit=commit)

    def confirm_email(self, request, email_address) -> bool:
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            player = selectors.player_for_user(user=email_address.user)
            if player is not None:
                trust_services.players_trust_update(player_ids=[player.pk])
        return confirmed


def _signup_limited(request, form, wait: float):
    form.add_error(None, throttles.signup_limit_message(wait))
    next_url = request.POST.get("next") or ""
    response = render(
        request,
        "account/signup.html",
        {
            "form": form,
            "login_url": reverse("account_login"),
            "redirect_field": (
                format_html('<input type="hidden" name="next" value="{}">', next_url)
                if next_url
                else ""
            ),
        },
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response
