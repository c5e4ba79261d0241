"""Settings from the environment: production's refusals, mail configuration (issue 11, D8, D9)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netviz_site.settings.base import email_from_url

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "Zq3" + "x7Kp9Lm2Vb8Nw4Rt6Yh1Jc5Gd0Fs" * 2  # 59 characters, many distinct
MAIL = {"EMAIL_URL": "smtp://netviz:pw@mail.example.org:587/?tls=True"}
DROP = ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "NETVIZ_HEALTH_TOKEN", "DATABASE_URL")


def load_settings(module: str, **env: str) -> subprocess.CompletedProcess:
    """Import a settings module in a fresh interpreter with this environment; print a few."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_") and k not in DROP}
    code = (
        f"import json, netviz_site.settings.{module} as s\n"
        "print(json.dumps({k: getattr(s, k, None) for k in ('EMAIL_BACKEND', 'EMAIL_HOST',"
        " 'EMAIL_PORT', 'EMAIL_USE_TLS', 'EMAIL_HOST_USER', 'EMAIL_HOST_PASSWORD')}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "CELERY_BROKER_URL": "memory://", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**env: str) -> subprocess.CompletedProcess:
    return load_settings(
        "production",
        **{"DJANGO_ALLOWED_HOSTS": "netviz.example.org", "DJANGO_SECRET_KEY": GOOD_SECRET, **MAIL}
        | env,
    )


def documented_example_secrets() -> set[str]:
    """Every DJANGO_SECRET_KEY value shown in the README, docker-compose.yml or an .env example."""
    found = set()
    for name in ("README.md", "docker-compose.yml", ".env.example", "docs/SECURITY.md"):
        path = ROOT / name
        if not path.exists():
            continue
        text = path.read_text()
        found |= set(re.findall(r"DJANGO_SECRET_KEY:-([^}\s]+)\}", text))
        found |= set(re.findall(r"DJANGO_SECRET_KEY=([^\s`'\"$()]{8,})", text))
    return found


def test_production_starts_with_a_real_secret_and_a_mail_server():
    out = production()
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout.strip().splitlines()[-1])
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (values["EMAIL_HOST"], values["EMAIL_PORT"]) == ("mail.example.org", 587)
    assert values["EMAIL_USE_TLS"] is True and values["EMAIL_HOST_USER"] == "netviz"


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "change-me-to-a-long-random-string-of-at-least-fifty-characters",  # compose's old default
        "dev-insecure-key-change-me",
        "test-secret-key-not-for-production",
        "Zq3x7Kp9Lm2Vb8Nw4Rt6Yh1Jc5Gd0Fs",  # short
        "ab" * 40,  # 80 characters, 2 distinct
        "dev-" + GOOD_SECRET,
        "change-me-" + GOOD_SECRET,
        "test-" + GOOD_SECRET,
        "insecure-" + GOOD_SECRET,
        "django-insecure-" + GOOD_SECRET,
    ],
)
def test_production_refuses_a_missing_example_or_weak_secret(secret):
    out = production(DJANGO_SECRET_KEY=secret)
    assert out.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY" in out.stderr


def test_every_documented_example_secret_is_refused():
    # the old docker-compose default, and whatever the docs show now
    secrets = {"change-me-to-a-long-random-string-of-at-least-fifty-characters"}
    for secret in secrets | documented_example_secrets():
        out = production(DJANGO_SECRET_KEY=secret)
        assert out.returncode != 0 and "DJANGO_SECRET_KEY" in out.stderr, secret


def test_docker_compose_has_no_default_secret():
    text = (ROOT / "docker-compose.yml").read_text()
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("DJANGO_SECRET_KEY:"))
    assert "${DJANGO_SECRET_KEY:?" in line and ":-" not in line
    assert "${EMAIL_URL:?" in text


def test_production_requires_mail():
    out = load_settings(
        "production", DJANGO_ALLOWED_HOSTS="netviz.example.org", DJANGO_SECRET_KEY=GOOD_SECRET
    )
    assert out.returncode != 0
    assert "ImproperlyConfigured: E-mail must be configured" in out.stderr
    assert "EMAIL_URL" in out.stderr
    out = production(EMAIL_URL="", EMAIL_HOST="mail.example.org", EMAIL_PORT="2525")
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout.strip().splitlines()[-1])
    assert values["EMAIL_BACKEND"].endswith("smtp.EmailBackend") and values["EMAIL_PORT"] == 2525


def test_production_refuses_a_short_health_token():
    out = production(NETVIZ_HEALTH_TOKEN="short")
    assert out.returncode != 0 and "NETVIZ_HEALTH_TOKEN" in out.stderr
    assert production(NETVIZ_HEALTH_TOKEN="k" * 16 + GOOD_SECRET[:20]).returncode == 0


def test_local_settings_print_mail_on_the_console():
    out = load_settings("local")
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout.strip().splitlines()[-1])
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    out = load_settings("local", EMAIL_URL="smtp://a%40b:p%2Fw@smtp.example.org/?ssl=1")
    values = json.loads(out.stdout.strip().splitlines()[-1])
    assert values["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
    assert (values["EMAIL_HOST_USER"], values["EMAIL_HOST_PASSWORD"]) == ("a@b", "p/w")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("console://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        ("consolemail://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        ("locmem://", {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}),
        (
            "smtp://u:p@h.example:2525/?tls=True&timeout=3",
            {"EMAIL_HOST": "h.example", "EMAIL_PORT": 2525, "EMAIL_USE_TLS": True},
        ),
        ("smtps://u:p@h.example", {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True}),
        ("submission://h.example", {"EMAIL_PORT": 587, "EMAIL_USE_TLS": True}),
        ("smtp://h.example", {"EMAIL_PORT": 25, "EMAIL_USE_TLS": False, "EMAIL_USE_SSL": False}),
    ],
)
def test_email_from_url(url, expected):
    parsed = email_from_url(url)
    assert {k: parsed[k] for k in expected} == expected


@pytest.mark.parametrize("url", ["smtp:///", "smtp://h/?tls=1&ssl=1", "ftp://h"])
def test_email_from_url_refuses_nonsense(url):
    with pytest.raises(ValueError):
        email_from_url(url)


def test_allauth_counts_client_addresses_behind_the_same_proxies_as_the_game():
    """Behind NETVIZ_NUM_PROXIES proxies, django-allauth's per-address limits (log-in, sign-up)
    must read X-Forwarded-For too: on the proxy's address, one client's failed log-ins would
    lock every client out."""
    base = {k: v for k, v in os.environ.items() if k not in DROP}
    code = (
        "import netviz_site.settings.local as s\n"
        "print(s.ALLAUTH_TRUSTED_PROXY_COUNT, s.REST_FRAMEWORK['NUM_PROXIES'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "CELERY_BROKER_URL": "memory://", "NETVIZ_NUM_PROXIES": "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "2"]
