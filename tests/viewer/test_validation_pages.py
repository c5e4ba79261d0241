"""The viewer's validation pages (issue 6): access by role, the class page's chart, the run
button (fixture ``explained``: ``tests/validation/support.py``)."""

from __future__ import annotations

from tests.validation.support import FAST
from validation.models import ValidationRun
from validation.services import validation_run_create, validation_run_execute


def test_page_access_and_start(explained, researcher_client, django_capture_on_commit_callbacks):
    run = validation_run_create(campaign=explained, class_name="red thing", params=FAST)
    validation_run_execute(run_id=run.pk)
    url = f"/viewer/{explained.slug}/validation/"
    response = researcher_client.get(url)
    assert response.status_code == 200
    assert "whiskers" in response.content.decode()
    response = researcher_client.get(url + "classes/red-thing/")
    assert response.status_code == 200 and "<svg" in response.content.decode()
    assert researcher_client.post(url + "run/").status_code == 403
    page = researcher_client.get(f"/viewer/{explained.slug}/classes/red-thing/")
    assert "/validation/classes/red-thing/" in page.content.decode()


def test_players_get_403(explained, player_client):
    url = f"/viewer/{explained.slug}/validation/"
    assert player_client.get(url).status_code == 403


def test_admin_run_button_enqueues_on_commit(
    explained, admin_client, sent_tasks, settings, django_capture_on_commit_callbacks
):
    settings.NETVIZ_EXPLAIN_QUEUE = "gpu"
    url = f"/viewer/{explained.slug}/validation/classes/red-thing/run/"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url)
    assert response.status_code == 302
    run = ValidationRun.objects.get()
    assert run.class_name == "red thing" and run.status == "queued"
    assert sent_tasks == [("validation.tasks.validate_campaign", (run.pk,), {}, "gpu", None)]
