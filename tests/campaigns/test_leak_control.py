"""Forbidden terms per class and language, and accepted languages (issue 12): the campaign
page's form, the manage API and the service's validation."""

from __future__ import annotations

import pytest

from campaigns import services as campaign_services
from core.errors import ApplicationError
from explanations.models import Campaign
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return CampaignFactory(name="Leaky")


def test_a_new_campaign_accepts_english_and_forbids_nothing(campaign):
    assert campaign.languages == ["en"] and campaign.forbidden_terms == {}


def test_the_page_saves_terms_per_class_and_language(admin_client, campaign):
    page = admin_client.get(f"/manage/campaigns/{campaign.slug}/").content.decode()
    assert 'id="leak-form"' in page and "<script>" not in page.split('id="leak-control"')[1][:2000]
    response = admin_client.post(
        f"/manage/campaigns/{campaign.slug}/leak-control/",
        {
            "languages": "en, fr",
            "forbidden_terms": "tabby | de: Katze, Tigerkatze\ntabby | fr: chat\n"
            "English springer | en: pooch",
        },
        follow=True,
    )
    assert "Leak control saved: 4 forbidden term(s); languages en, fr." in (
        response.content.decode()
    )
    campaign.refresh_from_db()
    assert campaign.languages == ["en", "fr"]
    assert campaign.forbidden_terms == {
        "tabby, tabby cat": {"de": ["Katze", "Tigerkatze"], "fr": ["chat"]},
        "English springer": {"en": ["pooch"]},
    }
    page = admin_client.get(f"/manage/campaigns/{campaign.slug}/").content.decode()
    assert "tabby | de: Katze, Tigerkatze" in page  # shown back in the form


def test_the_page_lists_every_error_and_saves_nothing(admin_client, campaign):
    response = admin_client.post(
        f"/manage/campaigns/{campaign.slug}/leak-control/",
        {"languages": "en, xx", "forbidden_terms": "unicorn | de: Einhorn\ntabby: Katze"},
        follow=True,
    )
    page = response.content.decode()
    assert "&#x27;unicorn&#x27; is not one of the campaign&#x27;s classes" in page
    assert "line 2: write &#x27;class | language: term, term&#x27;" in page
    campaign.refresh_from_db()
    assert campaign.forbidden_terms == {} and campaign.languages == ["en"]


def test_the_api_reads_and_replaces_them(admin_client, campaign):
    url = f"/api/manage/campaigns/{campaign.slug}/leak-control/"
    assert admin_client.get(url).json() == {"forbidden_terms": {}, "languages": ["en"]}
    response = admin_client.put(
        url,
        {"forbidden_terms": {"goldfinch": {"DE": ["Stieglitz", " Distelfink "]}}},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["forbidden_terms"] == {"goldfinch": {"de": ["Stieglitz", "Distelfink"]}}
    detail = admin_client.get(f"/api/manage/campaigns/{campaign.slug}/").json()
    assert detail["forbidden_terms"]["goldfinch"]["de"] == ["Stieglitz", "Distelfink"]
    assert detail["languages"] == ["en"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"forbidden_terms": {"unicorn": {"de": ["x"]}}}, "not one of the campaign's classes"),
        ({"forbidden_terms": {"goldfinch": {"klingon": ["x"]}}}, "not a language code"),
        ({"forbidden_terms": {"goldfinch": {"de": "Stieglitz"}}}, "send a list of terms"),
        ({"forbidden_terms": {"goldfinch": {"de": ["123"]}}}, "has no letter"),
        ({"forbidden_terms": {"goldfinch": {"de": ["x" * 61]}}}, "longer than 60"),
        ({"forbidden_terms": ["Stieglitz"]}, "send an object"),
        ({"languages": []}, "at least one language"),
        ({"languages": ["en", "xx"]}, "'xx' is not a supported code"),
    ],
)
def test_the_api_refuses_bad_input_with_clear_errors(admin_client, campaign, payload, fragment):
    url = f"/api/manage/campaigns/{campaign.slug}/leak-control/"
    response = admin_client.put(url, payload, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert fragment in body["detail"] and any(fragment in e for e in body["errors"])
    campaign.refresh_from_db()
    assert campaign.forbidden_terms == {} and campaign.languages == ["en"]


def test_only_campaign_admins_may_change_them(player_client, researcher_client, campaign):
    for client in (player_client, researcher_client):
        api = client.put(
            f"/api/manage/campaigns/{campaign.slug}/leak-control/",
            {"languages": ["de"]},
            content_type="application/json",
        )
        assert api.status_code == 403
        page = client.post(f"/manage/campaigns/{campaign.slug}/leak-control/", {"languages": "de"})
        assert page.status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).languages == ["en"]


def test_the_service_keeps_terms_unique_and_the_main_language_first(campaign):
    campaign = campaign_services.campaign_leak_control_set(
        campaign=campaign,
        forbidden_terms={"tabby": {"de": ["Katze", "Katze", " "]}},
        languages=["FR", "en", "fr"],
    )
    assert campaign.forbidden_terms == {"tabby, tabby cat": {"de": ["Katze"]}}
    assert campaign.languages == ["fr", "en"]
    with pytest.raises(ApplicationError):
        campaign_services.campaign_leak_control_set(campaign=campaign, languages="en")
    assert campaign_services.forbidden_terms_text(campaign=campaign) == "tabby | de: Katze"
