"""The researcher viewer: roles, local views, details, downloads, global views, search, API."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from tests.viewer.support import SPRINGER, TRUCK, played_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def played():
    campaign, images = played_campaign()
    springer = images[SPRINGER][0].image
    truck = images[TRUCK][0].image
    return campaign, springer, truck


def urls(campaign, image) -> list[str]:
    base = f"/viewer/{campaign.slug}/"
    img = f"{base}images/{image.pk}/"
    return [
        "/viewer/",
        base,
        f"{base}classes/english-springer/",
        f"{base}search/?q=eyes",
        img,
        f"{img}?view=merged",
        f"{img}?view=full",
        f"{img}layers/0/",
        f"{img}layers/0/clusters/0/",
        f"{img}layers/0/groups/0-1/",
        f"{img}layers/0/groups/all/",
        f"{img}layers/0/clusters/0/card.json",
        f"{img}layers/0/clusters/0/frames/2.jpg",
        f"/api/viewer/campaigns/{campaign.slug}/images/{image.pk}/",
        f"/api/viewer/campaigns/{campaign.slug}/classes/english-springer/",
        f"/api/viewer/campaigns/{campaign.slug}/search/?q=eyes",
    ]


# --- roles -------------------------------------------------------------------------------------


def test_players_never_reach_the_viewer(player_client, played):
    campaign, springer, _ = played
    for url in urls(campaign, springer):
        assert player_client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_login(client, played):
    campaign, springer, _ = played
    for url in urls(campaign, springer):
        response = client.get(url)
        if url.startswith("/api/"):
            assert response.status_code == 403, url
        else:
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_researchers_and_admins_reach_every_viewer_url(researcher_client, played):
    campaign, springer, _ = played
    for url in urls(campaign, springer):
        assert researcher_client.get(url).status_code == 200, url


def test_reveal_frames_stay_off_public_media(client, played):
    campaign, springer, _ = played
    cluster = springer.clusters.get(layer_result__position=0, index=0)
    assert client.get(f"/media/{cluster.frames[2]}").status_code == 404


# --- local viewer ----------------------------------------------------------------------------------


def test_unmerged_view_has_one_column_per_layer_and_cards_sorted_by_weight(
    researcher_client, played
):
    campaign, springer, _ = played
    response = researcher_client.get(f"/viewer/{campaign.slug}/images/{springer.pk}/")
    html = response.content.decode()
    for position, name in enumerate(campaign.explained_layers):
        assert f'id="layer-{position}"' in html and f"<code>{name}</code>" in html
    first = html.index('id="layer-0"')
    weights = [html.index("w = 60.0%", first), html.index("w = 40.0%", first)]
    assert weights == sorted(weights)
    assert "no labels yet" in html  # unplayed clusters are shown as such
    assert "chart-bars" in html  # label bars of labelled cards
    assert html.count('<article class="vcard') == 9
    assert html.count("Plain Grad-CAM") == 3
    for cluster in springer.clusters.all():
        for frame in cluster.frames:
            assert frame not in html  # frames only through the researcher frame view


def test_merged_and_full_views(researcher_client, played):
    campaign, springer, _ = played
    base = f"/viewer/{campaign.slug}/images/{springer.pk}/"
    merged = researcher_client.get(base + "?view=merged").content.decode()
    assert "clusters 0+1" in merged and 'data-kind="merged"' in merged
    assert f"{base}layers/0/groups/0-1/overlay.jpg" in merged
    full = researcher_client.get(base + "?view=full").content.decode()
    assert full.count('data-kind="full"') == 3
    assert "w = 120.0%" in full
    overlay = researcher_client.get(f"{base}layers/0/groups/0-1/overlay.jpg")
    assert overlay.status_code == 200 and overlay["Content-Type"] == "image/jpeg"
    assert (
        Image.open(
            io.BytesIO(
                b"".join(overlay.streaming_content if overlay.streaming else [overlay.content])
            )
        ).size[0]
        > 0
    )


def test_cluster_detail_shows_everything_the_method_asks_for(researcher_client, played):
    campaign, springer, _ = played
    base = f"/viewer/{campaign.slug}/images/{springer.pk}/layers/0/"
    html = researcher_client.get(base + "clusters/0/").content.decode()
    assert 'id="detail"' in html
    assert f"{base}clusters/0/frames/2.jpg" in html  # mean step 1.5 → frame of step 2
    assert "mean step 1.5" in html
    for term in ("Wins", "Resigns", "Losses", "Feature maps", "Member channels", "Plain Grad-CAM"):
        assert term in html, term
    assert "chart-stacked" in html
    frame = researcher_client.get(base + "clusters/0/frames/2.jpg")
    assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"


def test_group_detail_stacks_scores_by_sub_cluster(researcher_client, played):
    campaign, springer, _ = played
    base = f"/viewer/{campaign.slug}/images/{springer.pk}/layers/0/"
    html = researcher_client.get(base + "groups/0-1/").content.decode()
    assert "Merged clusters 0, 1" in html and "stacked by sub-cluster" in html
    assert "cluster 0 (w 60%)" in html and "cluster 1 (w 40%)" in html
    frame = researcher_client.get(base + "groups/0-1/frames/2.jpg")
    assert frame.status_code == 200
    api = researcher_client.get(
        f"/api/viewer/campaigns/{campaign.slug}/images/{springer.pk}/layers/0/groups/0-1/"
    ).json()
    top = api["card"]["labels"][0]
    assert {s["cluster"] for s in top["by_cluster"]} == {0, 1}
    assert sum(s["value"] for s in top["by_cluster"]) == pytest.approx(top["score"])


def test_a_group_that_no_longer_exists_says_so(researcher_client, played):
    campaign, springer, _ = played
    response = researcher_client.get(
        f"/viewer/{campaign.slug}/images/{springer.pk}/layers/0/groups/0-2/"
    )
    assert response.status_code == 404
    assert "No merged group has exactly these clusters" in response.content.decode()


def test_cards_download_as_png_and_json(researcher_client, played):
    campaign, springer, _ = played
    base = f"/viewer/{campaign.slug}/images/{springer.pk}/layers/0/"
    for url in (
        base + "clusters/0/card.png",
        base + "groups/0-1/card.png",
        base + "groups/all/card.png",
    ):
        response = researcher_client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Disposition"].startswith("attachment;")
        assert Image.open(io.BytesIO(response.content)).format == "PNG"
    data = json.loads(researcher_client.get(base + "clusters/0/card.json").content)
    assert data["weight"] == 60.0 and data["clusters"] == [0] and data["kind"] == "cluster"
    assert data["labels"][0]["label"] and data["wins"] == 2
    assert researcher_client.get(base + "clusters/0/card.gif").status_code == 404


def test_unprocessed_image_shows_clusters_without_labels(researcher_client, db):
    campaign, images = played_campaign(process=False)
    image = images[SPRINGER][0].image
    base = f"/viewer/{campaign.slug}/images/{image.pk}/"
    for view in ("unmerged", "merged"):
        html = researcher_client.get(f"{base}?view={view}").content.decode()
        assert html.count("no labels yet") == 9 and "no labels processed yet" in html
    full = researcher_client.get(f"{base}?view=full").content.decode()
    assert full.count('data-kind="full"') == 3
    assert researcher_client.get(f"{base}layers/1/groups/all/overlay.jpg").status_code == 200


def test_image_api_lists_layers_and_cards(researcher_client, played):
    campaign, springer, _ = played
    body = researcher_client.get(
        f"/api/viewer/campaigns/{campaign.slug}/images/{springer.pk}/?view=merged"
    ).json()
    assert [layer["layer"] for layer in body["layers"]] == campaign.explained_layers
    kinds = [card["kind"] for card in body["layers"][0]["cards"]]
    assert kinds == ["merged", "cluster"]
    assert body["layers"][0]["cards"][1]["labelled"] is False


# --- global viewer and search ----------------------------------------------------------------------


def test_class_page_shows_top_labels_per_layer_examples_and_trajectories(researcher_client, played):
    campaign, springer, _ = played
    html = researcher_client.get(f"/viewer/{campaign.slug}/classes/english-springer/").content
    html = html.decode()
    assert "springer.png" in html
    assert "chart-global" in html and "mean weight" in html
    assert f"/viewer/{campaign.slug}/images/{springer.pk}/layers/0/groups/0-1/" in html
    assert "chart-lines" in html and "Fading with depth" in html
    api = researcher_client.get(
        f"/api/viewer/campaigns/{campaign.slug}/classes/english-springer/"
    ).json()
    assert [layer["position"] for layer in api["layers"]] == [0, 1, 2]
    assert api["trends"][0]["direction"] == "fading"


def test_label_search_finds_where_players_saw_wheel(researcher_client, played):
    campaign, _, truck = played
    html = researcher_client.get(f"/viewer/{campaign.slug}/search/?q=wheel").content.decode()
    assert "2 clusters match" in html
    assert f"/viewer/{campaign.slug}/images/{truck.pk}/layers/0/clusters/0/" in html
    assert f"/viewer/{campaign.slug}/images/{truck.pk}/layers/1/clusters/1/" in html
    hits = researcher_client.get(f"/api/viewer/campaigns/{campaign.slug}/search/?q=wheel").json()
    assert [(h["layer_position"], h["cluster"]) for h in hits] == [(0, 0), (1, 1)]
    assert hits[0]["raw_mentions"] == 2  # "wheel" and "wheels" typed on it
    none = researcher_client.get(f"/viewer/{campaign.slug}/search/?q=zebra").content.decode()
    assert "No cluster has a label containing" in none


def test_openapi_schema_lists_the_viewer_api(client):
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/json").content)
    for path in (
        "/api/viewer/campaigns/{slug}/images/{image_id}/",
        "/api/viewer/campaigns/{slug}/images/{image_id}/layers/{position}/clusters/{index}/",
        "/api/viewer/campaigns/{slug}/images/{image_id}/layers/{position}/groups/{members}/",
        "/api/viewer/campaigns/{slug}/classes/{class_slug}/",
        "/api/viewer/campaigns/{slug}/search/",
    ):
        assert path in schema["paths"], path
