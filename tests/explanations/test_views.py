"""Pages and APIs of the explanations app."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from explanations.services import campaign_image_add, explanation_job_run
from tests.conftest import photo_png
from workers.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def computed_image(tiny_campaign):
    image = campaign_image_add(
        campaign=tiny_campaign, content=photo_png("chelsea"), original_name="chelsea.png"
    )
    explanation_job_run(job_id=image.jobs.get().pk)
    image.refresh_from_db()
    return image


def test_healthz_reports_database_broker_and_workers(client):
    response = client.get("/healthz")
    body = response.json()
    assert body["database"]["ok"] is True
    assert "broker" in body and "workers" in body
    assert body["workers"]["ok"] is False  # no worker has reported yet
    WorkerHeartbeat.objects.create(hostname="w1@test", queues=["cpu"], last_seen=timezone.now())
    body = client.get("/healthz").json()
    assert body["workers"]["ok"] is True
    assert body["workers"]["workers"][0]["hostname"] == "w1@test"


def test_image_page_shows_every_layer_with_cluster_weights_and_gradcam(client, computed_image):
    campaign = computed_image.campaign
    url = f"/campaigns/{campaign.slug}/images/{computed_image.pk}/"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    for layer in computed_image.layer_results.all():
        assert layer.layer in html
        assert layer.gradcam_overlay.name in html
        for cluster in layer.clusters.all():
            assert f"w = {cluster.weight:.1f}%" in html
            assert cluster.overlay.name in html
            for frame in cluster.frames:  # reveal frames never appear on public pages
                assert frame not in html
    assert len(queries) <= 8, [q["sql"] for q in queries.captured_queries]


def test_overlays_are_served_but_frames_are_not(client, computed_image):
    cluster = computed_image.clusters.first()
    assert client.get(f"/media/{cluster.overlay.name}").status_code == 200
    assert client.get(f"/media/{cluster.frames[0]}").status_code == 404
    assert client.get("/media/overlays/../../etc/passwd").status_code == 404


def test_campaign_page_and_api_report_progress(client, computed_image):
    campaign = computed_image.campaign
    html = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "1 done" in html
    data = client.get(f"/api/campaigns/{campaign.slug}/").json()
    assert data["progress"]["done"] == 1 and data["progress"]["fraction_done"] == 1.0
    detail = client.get(f"/api/campaigns/{campaign.slug}/images/{computed_image.pk}/").json()
    assert detail["job_status"] == "done"
    assert [layer["layer"] for layer in detail["layers"]] == campaign.explained_layers
    assert all(c["weight"] > 0 for layer in detail["layers"] for c in layer["clusters"])


def test_home_lists_campaigns(client, tiny_campaign):
    assert tiny_campaign.name in client.get("/").content.decode()


def test_openapi_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert "/api/campaigns/" in schema["paths"]
