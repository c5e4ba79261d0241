"""Validation (issue 6): services on the tiny TorchScript model, the command and the export
(the pages: ``tests/viewer/test_validation_pages.py``; the fixture ``explained``:
``tests/validation/support.py``, loaded by ``tests/conftest.py``)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from explanations.models import ClusterMap, LayerResult
from game.models import Round
from tests.validation.support import FAST
from validation.models import (
    ClusterFaithfulness,
    HumanMetric,
    LayerSummary,
    TcavScore,
)
from validation.services import validation_run_create, validation_run_execute


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
