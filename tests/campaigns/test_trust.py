"""Moderation shows each player's trust and its evidence, and lets a campaign admin override
it (page and API); the service refuses values outside [0, 1]."""

from __future__ import annotations

import pytest

from campaigns import services as campaign_services
from core.errors import ApplicationError
from game.models import Player
from processing.models import CampaignProcessing, LabelMention
from tests.factories import CampaignFactory, CharacteristicFactory, RoundFactory, make_image_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def played():
    campaign = CampaignFactory(name="Trusted play")
    items = make_image_items(campaign=campaign, layers=1, clusters=1)
    rnd = RoundFactory(cluster_map=items[0], status="done", outcome="win", step=0)
    CharacteristicFactory(round=rnd, text="floppy ears")
    Player.objects.filter(pk=rnd.player_id).update(
        trust=0.42,
        trust_step0_rounds=9,
        trust_step0_wins=7,
        trust_step0_expected=0.6,
        trust_refusals=4,
        trust_accepted=11,
        trust_agreements=3,
        trust_disagreements=5,
    )
    return campaign, Player.objects.get(pk=rnd.player_id)


def moderation(client, campaign) -> str:
    response = client.get(f"/manage/campaigns/{campaign.slug}/moderation/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_trust_and_its_evidence(admin_client, played):
    campaign, player = played
    page = moderation(admin_client, campaign)
    assert "0.42" in page
    assert "step-0 wins 7/9 (expected 0.6)" in page
    assert "refused 4, accepted 11" in page
    assert "agree 3, disagree 5" in page
    assert f'action="/manage/campaigns/{campaign.slug}/moderation/players/{player.pk}/trust/"' in (
        page
    )
    assert "untrusted" not in page.split('id="players"')[1]


def test_an_admin_sets_and_clears_an_override_on_the_page(admin_client, played):
    campaign, player = played
    url = f"/manage/campaigns/{campaign.slug}/moderation/players/{player.pk}/trust/"
    response = admin_client.post(url, {"trust": "0.1"}, follow=True)
    assert "set to 0.10" in response.content.decode()
    player.refresh_from_db()
    assert player.trust_override == pytest.approx(0.1)
    assert player.effective_trust == pytest.approx(0.1)
    page = moderation(admin_client, campaign)
    assert "untrusted" in page and "set by an admin (computed 0.42)" in page
    response = admin_client.post(url, {"trust": "0.1", "clear": "1"}, follow=True)
    assert "computed again" in response.content.decode()
    player.refresh_from_db()
    assert player.trust_override is None and player.effective_trust == pytest.approx(0.42)


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "abc", "nan", "inf"])
def test_the_page_refuses_values_outside_zero_to_one(admin_client, played, bad):
    campaign, player = played
    url = f"/manage/campaigns/{campaign.slug}/moderation/players/{player.pk}/trust/"
    response = admin_client.post(url, {"trust": bad}, follow=True)
    assert "a number from 0 to 1" in response.content.decode()
    player.refresh_from_db()
    assert player.trust_override is None


def test_the_api_sets_clears_and_validates_the_override(admin_client, played):
    _, player = played
    url = f"/api/manage/players/{player.pk}/trust/"
    response = admin_client.post(url, {"override": 0.9}, content_type="application/json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["trust_override"] == 0.9 and data["effective_trust"] == 0.9
    assert data["trust"] == pytest.approx(0.42)
    assert data["trust_evidence"]["step0_wins"] == 7
    assert data["trust_evidence"]["disagreements"] == 5
    response = admin_client.post(url, {"override": 1.2}, content_type="application/json")
    assert response.status_code == 400
    assert "from 0 to 1" in response.json()["detail"]
    assert Player.objects.get(pk=player.pk).trust_override == 0.9
    response = admin_client.post(url, {"override": None}, content_type="application/json")
    assert response.status_code == 200 and response.json()["trust_override"] is None
    listed = admin_client.get(f"/api/manage/campaigns/{played[0].slug}/players/").json()
    assert listed[0]["effective_trust"] == pytest.approx(0.42)
    assert listed[0]["trust_evidence"]["agreements"] == 3


def test_blocked_players_have_zero_effective_trust_in_the_api(admin_client, played):
    campaign, player = played
    Player.objects.filter(pk=player.pk).update(is_blocked=True, trust_override=0.8)
    listed = admin_client.get(f"/api/manage/campaigns/{campaign.slug}/players/").json()
    assert listed[0]["effective_trust"] == 0.0


def test_only_campaign_admins_may_override(player_client, researcher_client, played):
    campaign, player = played
    for client in (player_client, researcher_client):
        api = client.post(
            f"/api/manage/players/{player.pk}/trust/",
            {"override": 0.0},
            content_type="application/json",
        )
        assert api.status_code == 403
        page = client.post(
            f"/manage/campaigns/{campaign.slug}/moderation/players/{player.pk}/trust/",
            {"trust": "0"},
        )
        assert page.status_code == 403
    assert Player.objects.get(pk=player.pk).trust_override is None


def test_the_service_validates_and_enqueues_a_rescore(played, django_capture_on_commit_callbacks):
    campaign, player = played
    for bad in (-1, 2, "x", float("nan")):
        with pytest.raises(ApplicationError) as exc:
            campaign_services.player_set_trust_override(player=player, value=bad)
        assert exc.value.status == 400
    LabelMention.objects.create(
        characteristic=player.characteristics.get(),
        campaign=campaign,
        round=player.rounds.get(),
        player=player,
        cluster_map=player.rounds.get().cluster_map,
        image=player.rounds.get().image,
        class_name="English springer",
    )
    with django_capture_on_commit_callbacks() as callbacks:
        campaign_services.player_set_trust_override(player=player, value="0.25")
    assert Player.objects.get(pk=player.pk).trust_override == 0.25
    assert CampaignProcessing.objects.get(campaign=campaign).status == "queued"
    assert callbacks


def test_staff_and_campaign_admins_trust_cannot_be_overridden(played, admin_user_group):
    """An override near 0 is a block in effect: the rule that refuses to block staff and
    campaign admins refuses to override their trust too (page and API use this service)."""
    from game.services import player_ensure_for_user

    other_admin = player_ensure_for_user(user=admin_user_group)
    with pytest.raises(ApplicationError) as err:
        campaign_services.player_set_trust_override(player=other_admin, value=0.0)
    assert err.value.status == 409
    assert Player.objects.get(pk=other_admin.pk).trust_override is None
    # clearing is always allowed; a plain player's override still works
    campaign_services.player_set_trust_override(player=other_admin, value=None)
    _, player = played
    assert campaign_services.player_set_trust_override(player=player, value=0.2).trust_override
