"""/healthz (core/health.py): the database, the broker and the workers; details for operators."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from workers.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_broker_and_workers_to_staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert "broker" in body and "workers" in body
    assert body["workers"]["ok"] is False  # no worker has reported yet
    WorkerHeartbeat.objects.create(hostname="w1@test", queues=["cpu"], last_seen=timezone.now())
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["workers"]["ok"] is True
    assert body["workers"]["workers"][0]["hostname"] == "w1@test"


def test_healthz_gives_anonymous_callers_the_status_only(client, django_user_model):
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"status": "degraded"}
    WorkerHeartbeat.objects.create(hostname="w1@test", queues=["gpu"], last_seen=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert b"w1@test" not in response.content and b"sqlite" not in response.content
    assert "Authorization" in response["Vary"] and "no-cache" in response["Cache-Control"]
    # a logged-in user who is not staff is no operator either
    client.force_login(django_user_model.objects.create_user("player"))
    assert client.get("/healthz").json() == {"status": "ok"}


def test_healthz_details_with_the_configured_token(client, settings):
    WorkerHeartbeat.objects.create(hostname="w1@test", queues=["cpu"], last_seen=timezone.now())
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer anything").json() == {"status": "ok"}
    settings.NETVIZ_HEALTH_TOKEN = "t" * 20 + "0123456789abcdef"
    for header in ("", "Bearer wrong", "Basic " + settings.NETVIZ_HEALTH_TOKEN, "Bearer "):
        assert client.get("/healthz", HTTP_AUTHORIZATION=header).json() == {"status": "ok"}
    body = client.get(
        "/healthz", HTTP_AUTHORIZATION=f"Bearer {settings.NETVIZ_HEALTH_TOKEN}"
    ).json()
    assert body["status"] == "ok" and body["workers"]["workers"][0]["hostname"] == "w1@test"
    assert body["database"]["vendor"] == connection.vendor


def test_healthz_hides_where_a_component_failed(client, monkeypatch, django_user_model):
    from netviz_site.celery import app

    def refused(*args, **kwargs):
        raise ConnectionRefusedError("Error 111 connecting to redis.internal:6379. Refused.")

    monkeypatch.setattr(app, "connection_for_write", refused)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"status": "error"}
    assert b"6379" not in response.content and b"redis" not in response.content
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    body = client.get("/healthz").json()
    assert body["status"] == "error" and "redis.internal:6379" in body["broker"]["error"]
