"""Management commands: group_labels (any label list) and process_labels (a campaign)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from processing.models import CampaignProcessing, ClusterLabelScore, LabelGroup, LabelMention
from tests.factories import make_finished_round


@pytest.mark.slow
def test_group_labels_writes_groups_and_refused_inputs(tmp_path, minilm):
    src = tmp_path / "labels.txt"
    src.write_text(
        "\n".join(
            [
                "Floppy ears",
                "ears",
                "ear",
                "brown fur",
                "fur",
                "springer's nose",  # the class name is removed: "nose"
                "nose",
                "English springer",  # nothing left once the class name is removed
                "spaniel",  # an alias
                "<b>bold</b>",
                "",  # blank lines are skipped
                "12345",
            ]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "groups.json"
    stdout = io.StringIO()
    call_command(
        "group_labels",
        str(src),
        "--class",
        "English springer",
        "--alias",
        "spaniel",
        "--json",
        str(out),
        stdout=stdout,
    )
    data = json.loads(out.read_text())
    assert data["class_name"] == "English springer" and data["settings"]["mode"] == "threshold"
    members = {g["canonical"]: {m["text"] for m in g["members"]} for g in data["groups"]}
    assert members["ears"] >= {"ear", "floppy ear"}
    assert "nose" in members and "fur" in {g["canonical"] for g in data["groups"]}
    refused = {r["raw"]: r["reason"] for r in data["refused"]}
    assert refused == {
        "English springer": "only_class_name",
        "spaniel": "only_class_name",
        "<b>bold</b>": "markup",
        "12345": "no_letters",
    }
    assert all(r["message"] for r in data["refused"])
    assert data["n_input"] == 11 and data["n_used"] == 7
    assert "refused" in stdout.getvalue()

    # every input line (file line numbers, blank ones included) has its group or its refusal
    lines = data["lines"]
    assert [x["line"] for x in lines] == list(range(1, 13))
    by_text = {x["text"]: x for x in lines}
    assert by_text[""] == {
        "line": 11,
        "text": "",
        "refused": "empty",
        "message": by_text[""]["message"],
    }
    assert by_text["12345"]["refused"] == "no_letters" and by_text["12345"]["message"]
    assert by_text["spaniel"]["refused"] == "only_class_name"
    group_of = {x["text"]: x["group"] for x in lines if "group" in x}
    assert len(group_of) == 7
    groups = data["groups"]
    assert group_of["ears"] == group_of["ear"] == group_of["Floppy ears"]
    assert groups[group_of["ears"]]["canonical"] == "ears"
    assert "nose" in {m["text"] for m in groups[group_of["springer's nose"]]["members"]}
    for x in lines:
        if "group" in x:
            members = {m["text"] for m in groups[x["group"]]["members"]}
            assert x["key"] in members


@pytest.mark.slow
def test_group_labels_paper_mode(tmp_path, minilm):
    src = tmp_path / "labels.txt"
    src.write_text("wheels\nwheel\ntire\nmirror\nmirrors\nwindshield\n", encoding="utf-8")
    out = tmp_path / "paper.json"
    call_command(
        "group_labels", str(src), "--class", "garbage truck", "--mode", "paper", "--json", str(out)
    )
    data = json.loads(out.read_text())
    assert data["settings"]["mode"] == "paper"
    assert sum(len(g["members"]) for g in data["groups"]) == data["n_distinct"] == 4


def test_group_labels_missing_file(tmp_path):
    with pytest.raises(CommandError):
        call_command("group_labels", str(tmp_path / "no.txt"), "--class", "x", "--json", "o.json")


@pytest.mark.django_db
def test_process_labels_rebuild_and_catch_up(
    springer_items, players, hashing, monkeypatch, tmp_path
):
    import workers.runtime

    monkeypatch.setattr(workers.runtime, "embedder_get", lambda *a, **k: hashing)
    campaign = springer_items[0].image.campaign
    for player, texts in zip(players, [["ears", "nose"], ["Ears"], ["<i>x</i>"]]):
        make_finished_round(cluster_map=springer_items[0], player=player, texts=texts)

    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("process_labels", "--campaign", campaign.slug, stdout=stdout, stderr=stderr)
    assert LabelMention.objects.count() == 4
    assert "4 characteristics, 3 used, 1 refused" in stdout.getvalue()
    assert "100%" in stderr.getvalue()  # the progress bar

    out = tmp_path / "result.json"
    call_command(
        "process_labels",
        "--campaign",
        str(campaign.pk),
        "--rebuild",
        "--json",
        str(out),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    summary = json.loads(out.read_text())
    assert (summary["mentions"], summary["refused"], summary["groups"]) == (3, 1, 2)
    assert summary["timings"]["total_s"] > 0
    assert set(LabelGroup.objects.values_list("canonical", flat=True)) == {"ears", "nose"}
    assert ClusterLabelScore.objects.get(label="ears").mentions == 2
    assert CampaignProcessing.objects.get().rebuilt_at is not None

    with pytest.raises(CommandError):
        call_command("process_labels", "--campaign", "no-such-campaign")
