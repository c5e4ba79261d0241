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
    staff_client, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _register(staff_client, "/manage/models/new/")
    assert response.status_code == 302 and response["Location"] == "/manage/models/tiny/"
    assert [t.name for t in sent_tasks] == ["explanations.tasks.validate_model"]
    page = staff_client.get("/manage/models/tiny/").content.decode()
    assert "a worker now loads it to check it" in page and 'data-status="queued"' in page
    assert "manage/model.js" in page
    index = staff_client.get("/manage/").content.decode()
    assert "Queued" in index and "New campaign with it" not in index
    # not usable yet: the campaign form says why, and lists only validated models
    new = staff_client.get("/manage/campaigns/new/?model=tiny").content.decode()
    assert "is not validated yet (queued" in new and 'id="campaign-form"' not in new

    assert model_spec_validate(spec_id=sent_tasks[0].args[0]) == "done"
    page = staff_client.get("/manage/models/tiny/").content.decode()
    assert f"{len(TINY_CLASSES)} classes" in page and "New campaign with it" in page
    new = staff_client.get("/manage/campaigns/new/?model=tiny").content.decode()
    assert 'id="campaign-form"' in new


def test_a_failed_validation_shows_its_reason_on_the_model_page(
    staff_client, django_capture_on_commit_callbacks
):
    _register(staff_client, "/manage/models/new/", weights=b"not a model")
    spec = ModelSpec.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert model_spec_validate(spec_id=spec.pk) == "failed"
    spec.refresh_from_db()
    page = staff_client.get("/manage/models/tiny/").content.decode()
    assert 'role="alert"' in page and "Register the model again" in page
    assert spec.error.replace("'", "&#x27;") in page
    assert staff_client.get("/manage/models/nothing/").status_code == 404


def test_the_api_answers_202_then_the_detail_reports_the_validation(
    staff_client, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _register(staff_client, "/api/manage/models/")
    assert response.status_code == 202, response.content
    assert response["Location"] == "/api/manage/models/tiny/"
    body = response.json()
    assert (body["status"], body["class_names"], body["error"]) == ("queued", [], "")
    spec_id = sent_tasks[0].args[0]
    assert model_spec_validate(spec_id=spec_id) == "done"
    detail = staff_client.get(response["Location"]).json()
    assert (detail["status"], detail["progress"], detail["class_names"]) == (
        "done",
        1.0,
        list(TINY_CLASSES),
    )
    assert detail["explainable_layers"] and detail["finished_at"]
    assert [m["status"] for m in staff_client.get("/api/manage/models/").json()] == ["done"]
    again = _register(staff_client, "/api/manage/models/")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


def test_the_api_refuses_a_campaign_on_a_model_not_validated_yet(staff_client, sent_tasks):
    _register(staff_client, "/api/manage/models/")
    response = staff_client.post(
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


# --- who may upload a TorchScript file (a program the workers run) -----------------------------


def test_a_campaign_admin_may_not_upload_torchscript_by_default(admin_client, sent_tasks):
    from tests.campaigns.test_uploads import stored_files

    api = _register(admin_client, "/api/manage/models/")
    assert api.status_code == 403
    assert "TorchScript models may be uploaded by staff only" in api.json()["detail"]
    page = admin_client.get("/manage/models/new/").content.decode()
    assert 'value="torchscript"' not in page and 'value="state_dict"' in page
    assert "only staff may upload one" in page
    form = _register(admin_client, "/manage/models/new/")
    assert form.status_code == 200 and "kind" in form.context["form"].errors
    assert not ModelSpec.objects.exists() and sent_tasks == []
    assert [p for p in stored_files() if "models" in p.parts] == []


def test_staff_may_upload_torchscript_and_campaign_admins_then_use_it(
    staff_client, sent_tasks, django_capture_on_commit_callbacks
):
    page = staff_client.get("/manage/models/new/").content.decode()
    assert 'value="torchscript"' in page and "only staff may upload one" not in page
    with django_capture_on_commit_callbacks(execute=True):
        assert _register(staff_client, "/api/manage/models/").status_code == 202
    assert model_spec_validate(spec_id=sent_tasks[0].args[0]) == "done"
    assert ModelSpec.objects.usable().filter(name="tiny").exists()


def test_the_setting_opens_torchscript_to_campaign_admins_or_closes_it_to_staff(
    client, admin_user_group, settings, sent_tasks
):
    from tests.campaigns.support import make_user

    settings.NETVIZ_TORCHSCRIPT_UPLOADS = "campaign_admins"
    client.force_login(admin_user_group)
    assert _register(client, "/api/manage/models/", name="opened").status_code == 202
    settings.NETVIZ_TORCHSCRIPT_UPLOADS = "nobody"
    client.force_login(make_user("staff2", staff=True))
    closed = _register(client, "/api/manage/models/", name="closed")
    assert closed.status_code == 403 and "uploaded by nobody" in closed.json()["detail"]
    assert list(ModelSpec.objects.values_list("name", flat=True)) == ["opened"]


def test_a_state_dict_stays_open_to_campaign_admins(admin_client, sent_tasks):
    import io

    import torch

    from tests.conftest import build_tiny_model

    buffer = io.BytesIO()
    torch.save(build_tiny_model().state_dict(), buffer)
    response = admin_client.post(
        "/api/manage/models/",
        {
            "name": "sd",
            "kind": "state_dict",
            "architecture": "torchvision:resnet18",
            "weights": upload("sd.pt", buffer.getvalue()),
            "class_names": upload("classes.txt", CLASSES_TXT, "text/plain"),
        },
    )
    assert response.status_code == 202, response.content
