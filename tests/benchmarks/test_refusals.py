"""benchmarks/refusals.py on a small made-up evaluation folder (not the real sets)."""

from __future__ import annotations

import json

import pytest

from benchmarks import refusals


def _write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture
def root(tmp_path):
    moped = {"class": "moped", "class_names": "moped", "aliases": ["scooter"]}
    teapot = {"class": "teapot", "class_names": "teapot", "aliases": []}
    (tmp_path / "classes.json").write_text(
        json.dumps({"classes": [moped, teapot]}), encoding="utf-8"
    )
    (tmp_path / "grouping").mkdir()
    (tmp_path / "grouping" / "split.json").write_text(
        json.dumps({"dev": ["moped"], "heldout": ["teapot"]}), encoding="utf-8"
    )
    _write(
        tmp_path / "grouping" / "labels.jsonl",
        [
            {"class": "moped", "text": "mirror", "kind": "canonical"},
            {"class": "teapot", "text": "spout", "kind": "canonical"},
        ],
    )
    _write(
        tmp_path / "leaks" / "leaks.jsonl",
        [
            {**moped, "text": "mopedd", "kind": "repeated"},
            {**moped, "text": "Mofa", "kind": "translation", "lang": "de", "term": "Mofa"},
            {**teapot, "text": "tea pot", "kind": "spaces"},
        ],
    )
    _write(
        tmp_path / "leaks" / "legit.jsonl",
        [{**moped, "text": "red seat", "kind": "part"}, {**teapot, "text": "lid", "kind": "part"}],
    )
    _write(
        tmp_path / "junk" / "junk.jsonl",
        [{"text": "idk", "kind": "placeholder"}, {"text": "asdfgh", "kind": "mash"}],
    )
    _write(
        tmp_path / "junk" / "legit_short.jsonl",
        [{"text": "ox", "kind": "short-word"}, {"text": "x-ray", "kind": "hyphenated"}],
    )
    (tmp_path / "junk" / "split.json").write_text(
        json.dumps({"heldout": {"junk": ["asdfgh"], "legit_short": ["x-ray"]}}), encoding="utf-8"
    )
    _write(
        tmp_path / "leaks" / "attacks2.jsonl",
        [
            {**moped, "text": "ᴍᴏᴘᴇᴅ", "kind": "smallcaps"},
            {**teapot, "text": "t-e-a-p-o-t", "kind": "hyphens"},
        ],
    )
    _write(
        tmp_path / "leaks" / "legit2.jsonl",
        [{**moped, "text": "ʀᴇᴅ ꜱᴇᴀᴛ", "kind": "smallcaps-legit"}],
    )
    return tmp_path


def test_halves_follow_the_splits(root):
    dev = refusals.load_sets("dev", root)
    held = refusals.load_sets("heldout", root)
    assert [r["text"] for r in dev["leaks"]] == ["mopedd", "Mofa"]
    assert [r["text"] for r in held["leaks"]] == ["tea pot"]
    assert [r["text"] for r in dev["junk"]] == ["idk"]
    assert [r["text"] for r in held["legit_short"]] == ["x-ray"]
    assert held["grouping"][0]["class_names"] == "teapot"
    assert [r["text"] for r in held["attacks2"]] == ["t-e-a-p-o-t"]
    assert [r["text"] for r in dev["legit2"]] == ["ʀᴇᴅ ꜱᴇᴀᴛ"]


def test_forbidden_terms_come_from_the_translation_records(root):
    assert refusals.forbidden_by_class(root) == {"moped": ("Mofa",)}


def test_rates_per_set_and_kind(root, capsys):
    report = refusals.evaluate("all", root)
    assert report["leaks"]["rate"] == 1.0
    assert report["leaks"]["forbidden_terms"] == {"n": 1, "refused": 1, "rate": 1.0}
    assert report["legit"]["rate"] == 0.0 and report["legit_short"]["rate"] == 0.0
    assert report["junk"]["per_kind"]["placeholder"]["rate"] == 1.0
    assert report["grouping"]["refused"] == 0
    # small capitals and a hyphen-spelled name are refused as class names; small capitals that
    # name no class pass
    assert report["attacks2"]["rate"] == 1.0 and report["legit2"]["rate"] == 0.0
    refusals.print_report(report)
    assert "leak catch 100.0 %" in capsys.readouterr().out


def test_errors_are_listed_for_the_development_half_only():
    with pytest.raises(SystemExit):
        refusals.main(["--half", "heldout", "--errors"])


def test_the_baseline_is_the_rule_before_issue_12(root):
    report = refusals.evaluate("all", root, baseline=True)
    assert report["rule"].startswith("baseline")
    # "tea pot" and "mopedd" got through the whole-word rule; junk only by its form
    assert report["leaks"]["refused"] == 1 and report["junk"]["refused"] == 0
