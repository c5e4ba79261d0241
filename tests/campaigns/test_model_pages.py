"""Registering a model from /manage/ and /api/manage/ (a job a worker runs), and the progress
view's background jobs of every kind, read one way."""

from __future__ import annotations

import pytest
from django.utils import timezone

from explanations.models import ExplanationJob, ModelSpec
from explanations.services import campaign_image_add, model_spec_validate
from processing.models import CampaignExport, CampaignProcessing
from tests.campaigns.support import upload
from tests.conftest import TINY_CLASSES, photo_png, tiny_torchscript_bytes
from validation.models import ValidationRun

pytestmark = pytest.mark.django_db

CLASSES_TXT = ("\n".join(TINY_CLASSES) + "\n").encode()


def _register(client, url: str, name: str = "tiny", weights: bytes | None = None):
    return client.post(
        url,
        {
            "name": name,
            "kind": "torchscript",
            "weights": upload("tiny.pt", weights or tiny_torchscript_bytes()),
            "class_names": upload("classes.txt", CLASSES_TXT, "text/plain"),
        },
    )


def test_the_form_stores_the_model_and_its_page_follows_the_validation(
    admin_client, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _register(admin_client, "/manage/models/new/")
    assert response.status_code == 302 and response["Location"] == "/manage/models/tiny/"
    assert [t.name for t in sent_tasks] == ["explanations.tasks.validate_model"]
    page = admin_client.get("/manage/models/tiny/").content.decode()
    assert "a worker now loads it to check it" in page and 'data-status="queued"' in page
    assert "manage/model.js" in page
    index = admin_client.get("/manage/").content.decode()
    assert "Queued" in index and "New campaign with it" not in index
    # not usable yet: the campaign form says why, and lists only validated models
    new = admin_client.get("/manage/campaigns/new/?model=tiny").content.decode()
    assert "is not validated yet (queued" in new and 'id="campaign-form"' not in new

    assert model_spec_validate(spec_id=sent_tasks[0].args[0]) == "done"
    page = admin_client.get("/manage/models/tiny/").content.decode()
    assert f"{len(TINY_CLASSES)} classes" in page and "New campaign with it" in page
    new = admin_client.get("/manage/campaigns/new/?model=tiny").content.decode()
    assert 'id="campaign-form"' in new


def test_a_failed_validation_shows_its_reason_on_the_model_page(
    admin_client, django_capture_on_commit_callbacks
):
    _register(admin_client, "/manage/models/new/", weights=b"not a model")
    spec = ModelSpec.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert model_spec_validate(spec_id=spec.pk) == "failed"
    spec.refresh_from_db()
    page = admin_client.get("/manage/models/tiny/").content.decode()
    assert 'role="alert"' in page and "Register the model again" in page
    assert spec.error.replace("'", "&#x27;") in page
    assert admin_client.get("/manage/models/nothing/").status_code == 404


def test_the_api_answers_202_then_the_detail_reports_the_validation(
    admin_client, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _register(admin_client, "/api/manage/models/")
    assert response.status_code == 202, response.content
    assert response["Location"] == "/api/manage/models/tiny/"
    body = response.json()
    assert (body["status"], body["class_names"], body["error"]) == ("queued", [], "")
    spec_id = sent_tasks[0].args[0]
    assert model_spec_validate(spec_id=spec_id) == "done"
    detail = admin_client.get(response["Location"]).json()
    assert (detail["status"], detail["progress"], detail["class_names"]) == (
        "done",
        1.0,
        list(TINY_CLASSES),
    )
    assert detail["explainable_layers"] and detail["finished_at"]
    assert [m["status"] for m in admin_client.get("/api/manage/models/").json()] == ["done"]
    again = _register(admin_client, "/api/manage/models/")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


def test_the_api_refuses_a_campaign_on_a_model_not_validated_yet(admin_client, sent_tasks):
    _register(admin_client, "/api/manage/models/")
    response = admin_client.post(
        "/api/manage/campaigns/",
        {"name": "Too early", "model": "tiny"},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert "cannot be used yet: its validation is queued" in response.json()["detail"]


def test_a_builtin_model_already_validated_is_answered_201(admin_client):
    from tests.factories import ModelSpecFactory

    ModelSpecFactory(name="efficientnet_lite0")
    response = admin_client.post(
        "/api/manage/models/", {"name": "efficientnet_lite0", "kind": "builtin"}
    )
    assert response.status_code == 201 and response.json()["status"] == "done"


def test_the_progress_view_reads_every_kind_of_job_one_way(admin_client, tiny_campaign):
    image = campaign_image_add(
        campaign=tiny_campaign, content=photo_png("chelsea", 64), original_name="cat.png"
    )
    ExplanationJob.objects.filter(image=image).update(
        status="running", stage="explaining", progress=0.5, started_at=timezone.now()
    )
    CampaignProcessing.objects.create(campaign=tiny_campaign, status="failed", error="boom")
    CampaignExport.objects.create(campaign=tiny_campaign, token="t" * 43)
    ValidationRun.objects.create(campaign=tiny_campaign, class_name="red thing", params_hash="h")
    body = admin_client.get(f"/api/manage/campaigns/{tiny_campaign.slug}/progress/").json()
    rows = {row["kind"]: row for row in body["jobs"]}
    assert list(rows) == ["model", "processing", "export", "validation", "explanation"]
    assert {frozenset(row) for row in body["jobs"]} == {
        frozenset(
            {
                "kind",
                "id",
                "subject",
                "status",
                "stage",
                "progress",
                "error",
                "attempts",
                "created_at",
                "started_at",
                "finished_at",
            }
        )
    }
    assert (rows["model"]["status"], rows["model"]["subject"]) == (
        "done",
        "validation of the model tiny",
    )
    assert (rows["processing"]["status"], rows["processing"]["error"]) == ("failed", "boom")
    assert (rows["export"]["status"], rows["validation"]["subject"]) == (
        "queued",
        "validation of red thing",
    )
    explanation = rows["explanation"]
    assert (explanation["subject"], explanation["stage"], explanation["progress"]) == (
        "cat.png",
        "explaining",
        0.5,
    )
    page = admin_client.get(f"/manage/campaigns/{tiny_campaign.slug}/").content.decode()
    assert 'id="job-table"' in page and "label processing" in page and "boom" in page
