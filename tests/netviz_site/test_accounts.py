"""Accounts (django-allauth): password reset by mail (D9), sign-up reveals no address (D12)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

pytestmark = pytest.mark.django_db

RESET = "/accounts/password/reset/"
SIGNUP = "/accounts/signup/"


@pytest.fixture
def known(db):
    return get_user_model().objects.create_user(
        "dora", email="dora@example.org", password="a-long-passphrase-4"
    )


def test_password_reset_mails_a_known_address(client, known):
    assert client.get(RESET).status_code == 200
    response = client.post(RESET, {"email": "dora@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/done/"
    assert client.get(response["Location"]).status_code == 200
    assert [m.to for m in mail.outbox] == [["dora@example.org"]]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_password_reset_answers_an_unknown_address_the_same_way(client, known):
    response = client.post(RESET, {"email": "nobody@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/done/"
    # allauth tells the address that it has no account; no reset link is sent anywhere
    assert all("/accounts/password/reset/key/" not in m.body for m in mail.outbox)
    assert all(m.to == ["nobody@example.org"] for m in mail.outbox)


def test_on_the_demo_the_reset_mail_is_printed(client, known, settings, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # local settings
    response = client.post(RESET, {"email": "dora@example.org"})
    assert response.status_code == 302
    out = capsys.readouterr().out
    assert "To: dora@example.org" in out and "/accounts/password/reset/key/" in out


def sign_up(username: str, email: str, password2: str = "a-long-passphrase-5"):
    client = Client()
    response = client.post(
        SIGNUP,
        {
            "username": username,
            "email": email,
            "password1": "a-long-passphrase-5",
            "password2": password2,
        },
    )
    return client, response


def test_sign_up_does_not_reveal_a_registered_address(known):
    _, taken = sign_up("newcomer", "dora@example.org")
    _, fresh = sign_up("another", "fresh@example.org")
    assert taken.status_code == fresh.status_code == 302
    assert taken["Location"] == fresh["Location"]
    assert b"already" not in taken.content
    # with another error on the form, the address is not the one flagged either
    _, taken = sign_up("third", "DORA@example.org", password2="something-else-6")
    _, fresh = sign_up("fourth", "other@example.org", password2="something-else-6")
    assert taken.status_code == fresh.status_code == 200
    assert b"already registered" not in taken.content
    # the page ("Already have an account? Log in") is the same for both addresses
    assert taken.content.lower().count(b"already") == fresh.content.lower().count(b"already")
    assert taken.content.count(b"field-error") == fresh.content.count(b"field-error")
