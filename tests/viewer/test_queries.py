"""The image page of 9 layers × 8 clusters renders with a bounded number of queries."""

from __future__ import annotations

import pytest

from tests.viewer.support import big_image

pytestmark = pytest.mark.django_db

# session, user, the user's groups, the manage permission (nav), the player's display name
# (header, issue 14), then: campaign, image, job, layers, clusters, stats, label scores, merged
# groups.
MAX_QUERIES = 13


@pytest.fixture
def big():
    return big_image(layers=9, clusters=8)


@pytest.mark.parametrize("view", ["unmerged", "merged", "full"])
def test_image_page_queries_are_bounded(
    researcher_client, big, django_assert_max_num_queries, view
):
    campaign, image = big
    url = f"/viewer/{campaign.slug}/images/{image.pk}/?view={view}"
    researcher_client.get(url)  # warm caches (content types, templates)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = researcher_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    expected = {"unmerged": 72, "merged": 9 * 7, "full": 9}[view]
    assert html.count('<article class="vcard') == expected


def test_cluster_detail_and_api_queries_are_bounded(
    researcher_client, big, django_assert_max_num_queries
):
    campaign, image = big
    base = f"/viewer/{campaign.slug}/images/{image.pk}/layers/4/"
    with django_assert_max_num_queries(MAX_QUERIES):
        assert researcher_client.get(base + "clusters/3/").status_code == 200
    with django_assert_max_num_queries(MAX_QUERIES):
        api = researcher_client.get(f"/api/viewer/campaigns/{campaign.slug}/images/{image.pk}/")
    assert sum(len(layer["cards"]) for layer in api.json()["layers"]) == 72
