"""The public results pages and API: home, a campaign's and an image's explanations, media."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from explanations.services import campaign_image_add, explanation_job_run
from tests.conftest import photo_png

pytestmark = pytest.mark.django_db


@pytest.fixture
def computed_image(tiny_campaign):
    image = campaign_image_add(
        campaign=tiny_campaign, content=photo_png("chelsea"), original_name="chelsea.png"
    )
    explanation_job_run(job_id=image.jobs.get().pk)
    image.refresh_from_db()
    return image


def test_image_page_shows_every_layer_with_cluster_weights_and_gradcam(
    researcher_client, computed_image
):
    campaign = computed_image.campaign
    url = f"/campaigns/{campaign.slug}/images/{computed_image.pk}/"
    with CaptureQueriesContext(connection) as queries:
        response = researcher_client.get(url)
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
    # 8 for the page, plus the researcher's session, user and one role (group) lookup.
    assert len(queries) <= 11, [q["sql"] for q in queries.captured_queries]


def test_overlays_are_served_but_frames_are_not(researcher_client, computed_image):
    cluster = computed_image.clusters.first()
    assert researcher_client.get(f"/media/{cluster.overlay.name}").status_code == 200
    assert researcher_client.get(f"/media/{cluster.frames[0]}").status_code == 404
    assert researcher_client.get("/media/overlays/../../etc/passwd").status_code == 404


def test_campaign_page_and_api_report_progress(researcher_client, computed_image):
    client = researcher_client
    campaign = computed_image.campaign
    html = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "1 done" in html
    data = client.get(f"/api/campaigns/{campaign.slug}/").json()
    assert data["progress"]["done"] == 1 and data["progress"]["fraction_done"] == 1.0
    detail = client.get(f"/api/campaigns/{campaign.slug}/images/{computed_image.pk}/").json()
    assert detail["job_status"] == "done"
    assert [layer["layer"] for layer in detail["layers"]] == campaign.explained_layers
    assert all(c["weight"] > 0 for layer in detail["layers"] for c in layer["clusters"])


def test_home_lists_campaigns_to_researchers(researcher_client, tiny_campaign):
    assert tiny_campaign.name in researcher_client.get("/").content.decode()


def test_openapi_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert "/api/campaigns/" in schema["paths"]
