"""django-allauth's account adapter (``ACCOUNT_ADAPTER``): a sign-up spends the same budget of new
players per address and per network as a guest (issue 12), and a confirmed e-mail address gives
the account's player the account prior at once (``selectors.account_prior_exists``); one
mailbox confirms one account."""

from __future__ import annotations

import math
from functools import reduce
from operator import or_

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from django.contrib import messages
from django.db.models import Q
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
        """Confirm an address unless its mailbox already confirmed another account: plus tags
        and Gmail's dots make many addresses of one mailbox (``a+1@``, ``a.b@``), and a
        confirmed address earns the account trust prior, so one mailbox confirms one account
        (allauth's own message for an address confirmed elsewhere)."""
        if mailbox_taken(email_address):
            self.add_message(
                request,
                messages.ERROR,
                "account/messages/email_confirmation_failed.txt",
                {"email": email_address.email},
            )
            return False
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            player = selectors.player_for_user(user=email_address.user)
            if player is not None:
                trust_services.players_trust_update(player_ids=[player.pk])
        return confirmed


_GMAIL = ("gmail.com", "googlemail.com")


def mailbox_key(email: str) -> str:
    """The mailbox an address delivers to, as far as common providers tell: lower case, no
    ``+tag``, and for Gmail no dots in the local part and one domain."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), _GMAIL[0]
    return f"{local}@{domain}"


def mailbox_taken(email_address) -> bool:
    """Whether another account has a confirmed address of the same mailbox."""
    key = mailbox_key(email_address.email)
    domain = key.rpartition("@")[2]
    domains = _GMAIL if domain in _GMAIL else (domain,)
    others = EmailAddress.objects.filter(verified=True).exclude(user_id=email_address.user_id)
    for other in others.filter(
        reduce(or_, (Q(email__iendswith=f"@{d}") for d in domains))
    ).values_list("email", flat=True):
        if mailbox_key(other) == key:
            return True
    return False


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
