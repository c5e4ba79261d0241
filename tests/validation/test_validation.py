"""Validation (issue 6): services on the tiny TorchScript model, the command, the viewer page."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from explanations.models import ClusterMap, LayerResult
from explanations.services import campaign_image_add, explanation_job_run
from game.models import Round
from processing.models import ClusterLabelScore, GlobalLabel
from tests.conftest import photo_png
from tests.factories import make_finished_round
from validation.models import (
    ClusterFaithfulness,
    HumanMetric,
    LayerSummary,
    TcavScore,
    ValidationRun,
)
from validation.services import validation_run_create, validation_run_execute

FAST = {"steps": 4, "percents": [20.0, 30.0], "tcav": {"n_runs": 3, "n_null_sets": 3}}
PHOTOS = [
    ("chelsea", "red thing"),
    ("coffee", "red thing"),
    ("rocket", "green thing"),
    ("astronaut", "green thing"),
    ("camera", "blue thing"),
]


@pytest.fixture
def explained(tiny_campaign):
    """Five explained images (three classes), two crowd labels of "red thing" and rounds."""
    for name, cls in PHOTOS:
        img = campaign_image_add(
            campaign=tiny_campaign,
            content=photo_png(name, size=96),
            original_name=f"{name}.png",
            true_class=cls,
            enqueue=False,
        )
        assert explanation_job_run(job_id=img.jobs.get().pk) == "done"
    red = ClusterMap.objects.filter(image__true_class="red thing").select_related("layer_result")
    layer = LayerResult.objects.filter(image__true_class="red thing").order_by("-position")[0]
    at_layer = [c for c in red if c.layer_result.layer == layer.layer]
    assert at_layer
    for rank, (label, total) in enumerate((("whiskers", 2.0), ("fur", 1.0))):
        GlobalLabel.objects.create(
            campaign=tiny_campaign,
            class_name="red thing",
            layer=layer.layer,
            layer_position=layer.position,
            label=label,
            total=total,
            mean_weight=40.0,
            n_groups=1,
            n_images=2,
            class_images=2,
            normalised=total / 3,
            rank=rank,
            rank_normalised=rank,
            examples=[],
        )
        for c in at_layer:
            ClusterLabelScore.objects.create(
                cluster_map=c,
                image=c.image,
                label=label,
                mentions=1,
                mean_step=1.0,
                correct=True,
                score=0.5,
            )
    for i, c in enumerate(red):
        make_finished_round(cluster_map=c, outcome="win" if i % 3 else "loss", step=i % 5)
    return tiny_campaign


def _count_rows() -> int:
    return sum(
        m.objects.count() for m in (TcavScore, ClusterFaithfulness, HumanMetric, LayerSummary)
    )


def test_run_stores_consistent_results(explained):
    run = validation_run_create(campaign=explained, class_name="red thing", params=FAST)
    assert validation_run_execute(run_id=run.pk) == "done"
    run.refresh_from_db()
    assert run.status == "done" and run.progress == 1.0 and not run.simulated
    assert run.timings["total"] > 0
    red_clusters = ClusterMap.objects.filter(image__true_class="red thing")
    faith = ClusterFaithfulness.objects.filter(run=run)
    assert faith.filter(kind="cluster").count() == red_clusters.count()
    n_layers = LayerResult.objects.filter(image__true_class="red thing").count()
    assert faith.filter(kind="gradcam").count() == n_layers
    for f in faith:
        assert 0 <= f.deletion_auc <= 1 and 0 <= f.insertion_auc <= 1
    tcav = {t.label: t for t in TcavScore.objects.filter(run=run)}
    assert set(tcav) == {"whiskers", "fur"}
    for t in tcav.values():
        assert 0 <= t.score <= 1 and 0 <= t.p_value <= 1 and t.inv_score is not None
    assert tcav["whiskers"].inv_rank == 0
    humans = HumanMetric.objects.filter(run=run)
    assert humans.count() == red_clusters.count()
    assert sum(h.rounds for h in humans) == Round.objects.count()
    summaries = LayerSummary.objects.filter(run=run)
    assert summaries.count() == len({lr.layer for lr in LayerResult.objects.all()})
    assert sum(s.n_concepts for s in summaries) == 2
    # idempotent: a done run is skipped and keeps its rows
    n = _count_rows()
    assert validation_run_execute(run_id=run.pk) == "skipped"
    assert _count_rows() == n


def test_a_failure_stores_nothing(explained, monkeypatch):
    from workers.inv import tcav

    def boom(*args, **kwargs):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(tcav, "run_tcav", boom)
    run = validation_run_create(campaign=explained, class_name="red thing", params=FAST)
    assert validation_run_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert run.status == "failed" and "planted failure" in run.error
    assert _count_rows() == 0


def test_unknown_class_is_refused(explained):
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError):
        validation_run_create(campaign=explained, class_name="purple thing")


def test_command_writes_json_with_simulated_rounds(explained, tmp_path):
    out = tmp_path / "val.json"
    call_command(
        "validate_campaign",
        "--campaign",
        str(explained.pk),
        "--class",
        "green thing",
        "--json",
        str(out),
        "--steps",
        "4",
        "--simulate-rounds",
        "5",
    )
    data = json.loads(out.read_text())
    assert data["run"]["status"] == "done" and data["run"]["simulated_rounds"] is True
    assert data["faithfulness"] and data["layers"]
    assert data["human"] and all(h["simulated"] for h in data["human"])
    assert all(h["rounds"] == 5 for h in data["human"])
    # no crowd label for "green thing": simulated concepts, clearly named
    assert data["tcav"] and all(t["label"].startswith("simulated: ") for t in data["tcav"])
    assert not Round.objects.filter(image__true_class="green thing").exists()


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
    assert sent_tasks == [("validation.tasks.validate_campaign", (run.pk,), {}, "gpu")]


def test_export_has_validation_sections(explained):

    import zipfile

    from django.core.files.storage import default_storage

    from processing.export import export_write

    run = validation_run_create(campaign=explained, class_name="red thing", params=FAST)
    validation_run_execute(run_id=run.pk)
    name, _, counts = export_write(campaign=explained)
    assert counts["validation_tcav"] == 2
    assert counts["validation_faithfulness"] == ClusterFaithfulness.objects.count()
    assert counts["validation_layers"] == LayerSummary.objects.count()
    with zipfile.ZipFile(default_storage.path(name)) as zf:
        data = json.loads(zf.read("export.json"))
        assert {r["label"] for r in data["validation_tcav"]} == {"whiskers", "fur"}
        assert all(r["run"] == run.pk for r in data["validation_human"])
        assert zf.read("csv/validation_faithfulness.csv").decode().startswith("run,class_name")
    import jsonschema
    from django.conf import settings

    schema = json.loads((settings.BASE_DIR / "docs" / "export.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
