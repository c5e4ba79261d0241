"""The closed answer key: while a campaign is live, no public URL gives its pictures, overlays or
classes away (issue 12). A guest plays a round, then requests every URL of the URL conf that
names the campaign, as a guest, as anonymous and as a plain account."""

from __future__ import annotations

import itertools
import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from campaigns.services import campaign_results_set_public, campaign_status_change
from explanations.models import Campaign, LayerResult
from game.models import Round
from tests.campaigns.support import make_user
from tests.game.helpers import API, guest_client, post

pytestmark = pytest.mark.django_db

# Values for the URL parameters of a campaign's URLs (filled in per test).
PARAM_VALUES = {
    "slug": "slug",
    "image_id": "image_id",
    "position": 0,
    "index": 0,
    "members": "all",
    "step": 0,
    "fmt": "png",
    "class_slug_": "english-springer",
}


def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace or ""]))
            yield from _patterns(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield ":".join(filter(None, [namespace, entry.name])), prefix + str(entry.pattern)


def campaign_urls(campaign: Campaign) -> list[str]:
    """Every URL that names the campaign (its slug), with each of its images, plus its media."""
    from django.urls import NoReverseMatch, reverse

    images = list(campaign.images.all())
    urls = set()
    for name, route in _patterns(get_resolver()):
        if "<slug:slug>" not in route or route.startswith("manage/") or "/manage/" in route:
            continue
        params = [p for p in PARAM_VALUES if f":{p}>" in route]
        for image in images if "image_id" in params else [None]:
            kwargs = {p: PARAM_VALUES[p] for p in params}
            kwargs["slug"] = campaign.slug
            if image is not None:
                kwargs["image_id"] = image.pk
            try:
                urls.add(reverse(name, kwargs=kwargs))
            except NoReverseMatch:
                continue
    for image in images:
        urls.update({f"/media/{image.file.name}", f"/media/{image.view_file.name}"})
        if image.game_file:
            urls.add(f"/media/{image.game_file.name}")
        for cluster in image.clusters.all():
            urls.add(f"/media/{cluster.overlay.name}")
    for layer in LayerResult.objects.filter(image__campaign=campaign).exclude(gradcam_overlay=""):
        urls.add(f"/media/{layer.gradcam_overlay.name}")
    urls.update(
        {
            "/",
            "/api/campaigns/",
            "/game/",
            f"/game/leaderboard/?campaign={campaign.slug}",
            f"{API}leaderboard/?campaign={campaign.slug}",
            f"{API}campaigns/",
        }
    )
    return sorted(urls)


def secrets_of(campaign: Campaign) -> list[str]:
    """Texts that would give an image's answer away: storage names, file names, predictions."""
    out = []
    for image in campaign.images.all():
        out += [image.file.name, image.view_file.name, image.original_name]
        out += [c.overlay.name for c in image.clusters.all()]
    out += ["predicted_class", "true_class", "target_class", "probability"]
    return out


def assert_nothing_leaks(client, campaign: Campaign, who: str) -> int:
    secrets = secrets_of(campaign)
    checked = 0
    for url in campaign_urls(campaign):
        response = client.get(url)
        checked += 1
        if response.status_code != 200:
            assert response.status_code in (302, 403, 404), (who, url, response.status_code)
            continue
        assert not response["Content-Type"].startswith("image/"), (who, url)
        body = b"".join(response) if response.streaming else response.content
        text = body.decode("utf-8", "replace")
        leaked = [s for s in secrets if s and s in text]
        assert not leaked, (who, url, leaked)
    return checked


def play_one_round(client) -> str:
    token = post(client, API + "rounds/").json()["token"]
    answer = Round.objects.get(token=token).answer
    post(client, f"{API}rounds/{token}/guess/", {"choice": answer})
    resp = post(client, f"{API}rounds/{token}/characteristics/", {"texts": ["floppy ears"]})
    assert resp.status_code == 200, resp.content
    return token


@pytest.mark.parametrize("status", [Campaign.Status.PUBLISHED, Campaign.Status.PAUSED])
def test_no_public_url_gives_a_live_campaign_away(items, campaign, status):
    guest = guest_client("Looker")
    token = play_one_round(guest)
    campaign_status_change(campaign=campaign, action="pause") if status == "paused" else None
    campaign.refresh_from_db()
    assert campaign.status == status

    account = APIClient()
    account.force_login(get_user_model().objects.create_user("plain", password="x"))
    for who, client in (("guest", guest), ("anonymous", APIClient()), ("player", account)):
        assert assert_nothing_leaks(client, campaign, who) > 20

    # The guest still sees their own round's picture and overlay, through the round's URLs.
    summary = guest.get(f"{API}rounds/{token}/").json()["summary"]
    picture = guest.get(summary["image_url"])
    assert picture.status_code == 200 and picture["Content-Type"].startswith("image/")
    assert picture["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in picture
    # ... and nobody else does.
    assert APIClient().get(summary["image_url"]).status_code == 404
    assert guest_client("Other").get(summary["overlay_url"]).status_code == 404


def test_a_round_picture_is_not_served_before_the_round_ends(items):
    guest = guest_client("Early")
    token = post(guest, API + "rounds/").json()["token"]
    for kind in ("picture", "overlay"):
        assert guest.get(f"/game/rounds/{token}/{kind}/").status_code == 404
    assert guest.get(f"/game/rounds/{token}/../").status_code == 404


def test_draft_campaigns_are_not_listed_and_their_leaderboards_404(db):
    from tests.factories import CampaignFactory

    draft = CampaignFactory(status=Campaign.Status.DRAFT, name="Secret draft")
    closed = CampaignFactory(status=Campaign.Status.CLOSED, name="Quietly closed")
    client = APIClient()
    for campaign in (draft, closed):
        assert campaign.name not in client.get("/").content.decode()
        assert campaign.slug not in json.dumps(client.get("/api/campaigns/").json())
        assert client.get(f"/game/leaderboard/?campaign={campaign.slug}").status_code == 404
        assert client.get(f"{API}leaderboard/?campaign={campaign.slug}").status_code == 404
        assert client.get(f"/campaigns/{campaign.slug}/").status_code == 404
        assert client.get(f"/api/campaigns/{campaign.slug}/").status_code == 404


def test_researchers_see_live_campaigns(items, campaign):
    researcher = APIClient()
    researcher.force_login(make_user("res", groups=("researcher",)))
    image = campaign.images.first()
    page = researcher.get(f"/campaigns/{campaign.slug}/images/{image.pk}/")
    assert page.status_code == 200 and image.view_file.name in page.content.decode()
    assert researcher.get(f"/media/{image.view_file.name}").status_code == 200
    detail = researcher.get(f"/api/campaigns/{campaign.slug}/images/{image.pk}/").json()
    assert detail["true_class"] == image.true_class


def test_a_closed_campaign_opens_to_the_public_only_when_an_admin_says_so(items, campaign):
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError, match="Only a closed campaign"):
        campaign_results_set_public(campaign=campaign, public=True)
    campaign = campaign_status_change(campaign=campaign, action="close")
    image = campaign.images.first()
    anonymous = APIClient()
    assert anonymous.get(f"/campaigns/{campaign.slug}/").status_code == 404
    assert anonymous.get(f"/media/{image.view_file.name}").status_code == 404

    admin = APIClient()
    admin.force_login(make_user("camp", groups=("campaign admin",)))
    resp = admin.post(f"/manage/campaigns/{campaign.slug}/status/", {"action": "open-results"})
    assert resp.status_code == 302
    campaign.refresh_from_db()
    assert campaign.results_public is True
    assert anonymous.get(f"/campaigns/{campaign.slug}/").status_code == 200
    assert anonymous.get(f"/media/{image.view_file.name}").status_code == 200
    assert campaign.name in anonymous.get("/").content.decode()
    data = anonymous.get(f"/api/campaigns/{campaign.slug}/images/{image.pk}/").json()
    assert data["true_class"] == image.true_class
    assert anonymous.get(f"/game/leaderboard/?campaign={campaign.slug}").status_code == 200

    resp = admin.post(
        f"/api/manage/campaigns/{campaign.slug}/status/", {"action": "hide-results"}, format="json"
    )
    assert resp.status_code == 200 and resp.json()["results_public"] is False
    assert anonymous.get(f"/campaigns/{campaign.slug}/").status_code == 404


def test_campaign_urls_cover_the_campaign_routes(items, campaign):
    """The walk above must reach the public and researcher routes, or it proves nothing."""
    urls = campaign_urls(campaign)
    needed = ["/campaigns/", "/api/campaigns/", "/viewer/", "/media/views/", "/media/overlays/"]
    for prefix in needed:
        assert any(u.startswith(prefix) for u in urls), prefix
    assert len(list(itertools.islice(urls, 30))) == 30
