"""Campaign administration pages and API: roles, creation, progress, status, moderation."""

from __future__ import annotations

import io
import json

import pytest

from explanations.models import Campaign, CampaignImage, ExplanationJob
from explanations.services import campaign_image_add, explanation_job_fail, explanation_job_run
from game.models import Characteristic, Player
from tests.campaigns.support import make_user, make_zip, png, upload
from tests.conftest import TINY_CLASSES, photo_png
from tests.factories import CampaignFactory, CharacteristicFactory, RoundFactory, make_image_items

pytestmark = pytest.mark.django_db

PAGES = [
    "/manage/",
    "/manage/models/new/",
    "/manage/campaigns/new/",
    "/manage/campaigns/{slug}/",
    "/manage/campaigns/{slug}/moderation/",
]
APIS = [
    "/api/manage/models/",
    "/api/manage/campaigns/",
    "/api/manage/campaigns/{slug}/",
    "/api/manage/campaigns/{slug}/progress/",
    "/api/manage/campaigns/{slug}/characteristics/",
    "/api/manage/campaigns/{slug}/players/",
    "/api/manage/campaigns/{slug}/export/",
]
POSTS = [
    "/manage/campaigns/{slug}/status/",
    "/manage/campaigns/{slug}/compute/",
    "/manage/campaigns/{slug}/archive/",
    "/api/manage/campaigns/{slug}/status/",
    "/api/manage/campaigns/{slug}/compute/",
    "/api/manage/campaigns/{slug}/archive/",
]


# --- roles -------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login_and_get_403_from_the_api(client, tiny_campaign):
    for url in PAGES:
        response = client.get(url.format(slug=tiny_campaign.slug))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    for url in APIS:
        assert client.get(url.format(slug=tiny_campaign.slug)).status_code == 403, url


@pytest.mark.parametrize("who", ["player_client", "researcher_client"])
def test_players_and_researchers_never_reach_campaign_management(request, who, tiny_campaign):
    client = request.getfixturevalue(who)
    for url in PAGES + APIS:
        assert client.get(url.format(slug=tiny_campaign.slug)).status_code == 403, url
    for url in POSTS:
        assert client.post(url.format(slug=tiny_campaign.slug), {}).status_code == 403, url
    tiny_campaign.refresh_from_db()
    assert tiny_campaign.status == Campaign.Status.DRAFT


def test_admin_group_staff_and_permission_holders_manage(client, tiny_campaign):
    from django.contrib.auth.models import Permission

    holder = make_user("holder")
    holder.user_permissions.add(Permission.objects.get(codename="manage_campaigns"))
    for user in (make_user("staffer", staff=True), holder):
        client.force_login(user)
        for url in PAGES + APIS:
            assert client.get(url.format(slug=tiny_campaign.slug)).status_code == 200, url


def test_the_campaign_admin_group_exists_with_its_permission():
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="campaign admin")
    assert list(group.permissions.values_list("codename", flat=True)) == ["manage_campaigns"]


def test_nav_shows_manage_and_viewer_to_admins(admin_client):
    html = admin_client.get("/").content.decode()
    assert 'href="/manage/"' in html and 'href="/viewer/"' in html


def test_nav_hides_manage_from_players(player_client):
    html = player_client.get("/").content.decode()
    assert 'href="/manage/"' not in html and 'href="/viewer/"' not in html


# --- creating a campaign -------------------------------------------------------------------------


def test_campaign_form_creates_a_campaign_with_every_setting(admin_client, tiny_spec):
    page = admin_client.get(f"/manage/campaigns/new/?model={tiny_spec.name}").content.decode()
    for layer in tiny_spec.explainable_layers:
        assert f'value="{layer}"' in page
    response = admin_client.post(
        "/manage/campaigns/new/",
        {
            "model": tiny_spec.name,
            "name": "Colours",
            "description": "three colours",
            "classes": ["red thing", "blue thing"],
            "aliases": "red thing: crimson, scarlet\nBlue_Thing: azure",
            "explained_layers": [tiny_spec.explainable_layers[-1]],
            "mode": "fast",
            "weights": "gradcam",
            "seed": 7,
            "keep_factor": 0.5,
            "game_size": 128,
            "target_mode": "true",
            "target_rounds": 3,
        },
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="Colours")
    assert response["Location"] == f"/manage/campaigns/{campaign.slug}/#add-images"
    assert campaign.classes == ["red thing", "blue thing"]
    assert campaign.aliases == {"red thing": ["crimson", "scarlet"], "blue thing": ["azure"]}
    assert campaign.explained_layers == [tiny_spec.explainable_layers[-1]]
    params = campaign.engine_params
    assert (params["mode"], params["weights"], params["seed"], params["keep_factor"]) == (
        "fast",
        "gradcam",
        7,
        0.5,
    )
    assert (campaign.target_mode, campaign.target_rounds, campaign.status) == ("true", 3, "draft")


def test_campaign_form_shows_service_errors(admin_client, tiny_spec):
    response = admin_client.post(
        "/manage/campaigns/new/",
        {
            "model": tiny_spec.name,
            "name": "Bad aliases",
            "aliases": "dog: puppy",
            "explained_layers": tiny_spec.default_layers,
            "mode": "paper",
            "weights": "guided",
            "seed": 432,
            "keep_factor": 0.896,
            "game_size": 512,
            "target_mode": "predicted",
            "target_rounds": 5,
        },
    )
    assert response.status_code == 200
    assert "&#x27;dog&#x27; is not one of the model&#x27;s classes" in response.content.decode()
    assert not Campaign.objects.filter(name="Bad aliases").exists()


def test_campaign_api_creates_and_lists(admin_client, tiny_spec):
    response = admin_client.post(
        "/api/manage/campaigns/",
        {
            "name": "API campaign",
            "model": tiny_spec.name,
            "classes": list(TINY_CLASSES),
            "aliases": {"red thing": ["crimson"]},
            "engine_params": {"mode": "fast", "game_size": 128},
            "target_rounds": 2,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["engine_params"]["mode"] == "fast" and body["status"] == "draft"
    bad = admin_client.post(
        "/api/manage/campaigns/",
        {"name": "API campaign", "model": tiny_spec.name},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "already exists" in bad.json()["detail"]
    names = [c["name"] for c in admin_client.get("/api/manage/campaigns/").json()]
    assert "API campaign" in names
    detail = admin_client.get(f"/api/manage/models/{tiny_spec.name}/").json()
    assert detail["class_names"] == list(TINY_CLASSES)


# --- images, progress, retries ------------------------------------------------------------------


def test_archive_upload_page_reports_added_and_skipped_files(admin_client, tiny_campaign):
    content = make_zip({"red thing/a.png": png(), "red thing/notes.txt": b"x"})
    response = admin_client.post(
        f"/manage/campaigns/{tiny_campaign.slug}/archive/",
        {"archive": upload("photos.zip", content)},
    )
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert "1 image(s) added" in page and "notes.txt" in page and "not an image (.txt)" in page
    # not asked to compute now: the job waits for "Start compute"
    assert ExplanationJob.objects.get(image__campaign=tiny_campaign).status == "queued"


def test_bad_archive_upload_page_shows_the_message(admin_client, tiny_campaign):
    content = make_zip({"red thing/a.png": png(), "../../escape.png": png((1, 1, 1))})
    response = admin_client.post(
        f"/manage/campaigns/{tiny_campaign.slug}/archive/",
        {"archive": upload("bad.zip", content), "compute": "on"},
        follow=True,
    )
    html = response.content.decode()
    assert "escape its folder" in html and "../../escape.png" in html
    assert not CampaignImage.objects.exists()


def test_archive_api_returns_the_report_or_a_400(admin_client, tiny_campaign):
    url = f"/api/manage/campaigns/{tiny_campaign.slug}/archive/"
    ok = admin_client.post(
        url,
        {
            "archive": upload("a.zip", make_zip({"red thing/a.png": png(), "x.txt": b"1"})),
            "compute": "false",
        },
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["added"] == 1 and ok.json()["skipped"][0]["name"] == "x.txt"
    bad = admin_client.post(
        url,
        {"archive": upload("b.zip", make_zip({"dog/a.png": png((5, 5, 5))})), "compute": "false"},
    )
    assert bad.status_code == 400 and bad.json()["errors"] == ["'dog/'"]


def test_single_image_and_csv_pages(admin_client, tiny_campaign):
    slug = tiny_campaign.slug
    response = admin_client.post(
        f"/manage/campaigns/{slug}/images/",
        {"image": upload("one.png", png(), "image/png"), "true_class": "red thing"},
    )
    assert response.status_code == 302
    response = admin_client.post(
        f"/manage/campaigns/{slug}/csv/",
        {
            "csv_file": upload("labels.csv", b"file,class\nb.png,blue thing\n", "text/csv"),
            "files": upload("files.zip", make_zip({"b.png": png((0, 0, 250))})),
        },
    )
    assert response.status_code == 302
    assert sorted(CampaignImage.objects.values_list("true_class", flat=True)) == [
        "blue thing",
        "red thing",
    ]


def test_progress_api_lists_images_and_failed_jobs_and_retry_works(admin_client, tiny_campaign):
    ok = campaign_image_add(
        campaign=tiny_campaign,
        content=photo_png("chelsea", 64),
        original_name="cat.png",
        true_class="red thing",
        enqueue=False,
    )
    bad = campaign_image_add(
        campaign=tiny_campaign,
        content=photo_png("astronaut", 64),
        original_name="astro.png",
        true_class="blue thing",
        enqueue=False,
    )
    explanation_job_run(job_id=ok.jobs.get().pk)
    explanation_job_fail(job_id=bad.jobs.get().pk, error="Layer x yields no positive gradient.")
    body = admin_client.get(f"/api/manage/campaigns/{tiny_campaign.slug}/progress/").json()
    assert body["overall"] == {
        "total": 2,
        "queued": 0,
        "running": 0,
        "done": 1,
        "failed": 1,
        "fraction_done": 1.0,
    }
    assert [r["status"] for r in body["images"]] == ["done", "failed"]
    assert body["failed"][0]["error"] == "Layer x yields no positive gradient."
    page = admin_client.get(f"/manage/campaigns/{tiny_campaign.slug}/").content.decode()
    assert "Layer x yields no positive gradient." in page and ">Retry</button>" in page
    job = bad.jobs.get()
    response = admin_client.post(f"/manage/campaigns/{tiny_campaign.slug}/jobs/{job.pk}/retry/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "queued" and job.error == ""


def test_compute_enqueues_pending_jobs(
    admin_client, tiny_campaign, sent_tasks, django_capture_on_commit_callbacks
):
    image = campaign_image_add(
        campaign=tiny_campaign,
        content=png(),
        original_name="a.png",
        true_class="red thing",
        enqueue=False,
    )
    with django_capture_on_commit_callbacks(execute=True):
        with_callbacks = admin_client.post(f"/api/manage/campaigns/{tiny_campaign.slug}/compute/")
    assert with_callbacks.status_code == 202 and with_callbacks.json() == {"count": 1}
    assert image.jobs.get().status == "queued"
    job = image.jobs.get().pk
    assert sent_tasks == [("explanations.tasks.explain_image", (job,), {}, "cpu", None)]


# --- status ----------------------------------------------------------------------------------------


def test_publish_needs_a_computed_image_then_pause_and_close(admin_client, tiny_campaign):
    url = f"/api/manage/campaigns/{tiny_campaign.slug}/status/"
    response = admin_client.post(url, {"action": "publish"}, content_type="application/json")
    assert response.status_code == 409 and "Nothing to play yet" in response.json()["detail"]
    image = campaign_image_add(
        campaign=tiny_campaign,
        content=photo_png("chelsea", 64),
        true_class="red thing",
        enqueue=False,
    )
    explanation_job_run(job_id=image.jobs.get().pk)
    for action, status in (
        ("publish", "published"),
        ("pause", "paused"),
        ("publish", "published"),
        ("close", "closed"),
    ):
        response = admin_client.post(url, {"action": action}, content_type="application/json")
        assert response.status_code == 200 and response.json()["status"] == status
    response = admin_client.post(url, {"action": "publish"}, content_type="application/json")
    assert (
        response.status_code == 409
        and "closed campaign cannot be published" in response.json()["detail"]
    )


def test_status_page_buttons(admin_client, tiny_campaign):
    response = admin_client.post(
        f"/manage/campaigns/{tiny_campaign.slug}/status/", {"action": "close"}, follow=True
    )
    assert "now closed" in response.content.decode()


# --- moderation ------------------------------------------------------------------------------------


@pytest.fixture
def played():
    campaign = CampaignFactory(name="Played")
    items = make_image_items(campaign=campaign, layers=1, clusters=1)
    rnd = RoundFactory(cluster_map=items[0], status="done", outcome="win", step=2)
    char = CharacteristicFactory(round=rnd, text="floppy ears")
    return campaign, rnd, char


def test_moderation_hides_characteristics_and_blocks_players(admin_client, played):
    campaign, rnd, char = played
    page = admin_client.get(f"/manage/campaigns/{campaign.slug}/moderation/").content.decode()
    assert "floppy ears" in page and rnd.player.nickname in page
    response = admin_client.post(
        f"/manage/campaigns/{campaign.slug}/moderation/characteristics/{char.pk}/",
        {"hidden": "1"},
    )
    assert response.status_code == 302
    assert Characteristic.objects.get(pk=char.pk).hidden is True
    response = admin_client.post(
        f"/manage/campaigns/{campaign.slug}/moderation/players/{rnd.player.pk}/", {"blocked": "1"}
    )
    assert Player.objects.get(pk=rnd.player.pk).is_blocked is True
    api = admin_client.post(
        f"/api/manage/players/{rnd.player.pk}/", {"blocked": False}, content_type="application/json"
    )
    assert api.status_code == 200 and api.json()["is_blocked"] is False
    api = admin_client.post(
        f"/api/manage/campaigns/{campaign.slug}/characteristics/{char.pk}/",
        {"hidden": False},
        content_type="application/json",
    )
    assert api.status_code == 200 and api.json()["hidden"] is False
    listed = admin_client.get(
        f"/api/manage/campaigns/{campaign.slug}/characteristics/?q=floppy"
    ).json()
    assert [c["text"] for c in listed] == ["floppy ears"]


def test_blocked_player_cannot_start_a_round(admin_client, played):
    from core.errors import ApplicationError
    from game.services import round_start

    campaign, rnd, _ = played
    admin_client.post(
        f"/manage/campaigns/{campaign.slug}/moderation/players/{rnd.player.pk}/", {"blocked": "1"}
    )
    with pytest.raises(ApplicationError, match="blocked"):
        round_start(player=Player.objects.get(pk=rnd.player.pk))


def test_export_button_creates_an_export(admin_client, played, monkeypatch):
    from processing.models import CampaignExport

    campaign, _, _ = played
    response = admin_client.post(f"/api/manage/campaigns/{campaign.slug}/export/")
    assert response.status_code == 202, response.content
    assert CampaignExport.objects.filter(campaign=campaign).count() == 1
    again = admin_client.post(f"/api/manage/campaigns/{campaign.slug}/export/")
    assert again.status_code == 409


def test_openapi_schema_lists_the_manage_api(client):
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/json").content)
    for path in (
        "/api/manage/campaigns/",
        "/api/manage/campaigns/{slug}/progress/",
        "/api/manage/campaigns/{slug}/archive/",
        "/api/manage/campaigns/{slug}/csv/",
        "/api/manage/campaigns/{slug}/status/",
        "/api/manage/campaigns/{slug}/jobs/{job_id}/retry/",
        "/api/manage/players/{player_id}/",
    ):
        assert path in schema["paths"], path


_ = io
