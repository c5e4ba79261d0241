"""The in-memory group algebra (processing/nlp/groups.py) on plain data: no database."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from processing.nlp.grouping import GroupingSettings, LabelGroup
from processing.nlp.groups import (
    BLOCK,
    MERGE,
    ORIGIN_CURATION,
    RENAME,
    SPLIT,
    UNBLOCK,
    WorkingGroup,
    bucket_class,
    bucket_of,
    canonical_update,
    groups_from_report,
    groups_unify,
    lemma_disambiguate,
    nearest_group,
    pks_reuse,
    regroup_due,
    relabelled_keys,
    rule_apply,
    rule_target,
    rules_apply,
)
from processing.nlp.pipeline import GroupingReport, ProcessedLabel


class FixedEmbedder:
    """Hand-set unit vectors: "ear", "ears" and "lug" close together, "collar" and "nose" apart;
    any other string far from all of them."""

    model_id = "fixed"
    vectors = {
        "ear": [1.0, 0.0, 0.0],
        "ears": [0.95, 0.31, 0.0],
        "lug": [0.9, 0.43, 0.0],
        "collar": [0.0, 0.0, 1.0],
        "nose": [0.0, 1.0, 0.0],
    }

    def embed(self, strings):
        rows = np.array([self.vectors.get(s, [-1.0, -1.0, -1.0]) for s in strings], np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


EMBED = FixedEmbedder().embed
SETTINGS = GroupingSettings(
    template="{}", head_weight=0.0, local_scale_k=0, derivation=False, threshold=0.3
)


@dataclass
class Rule:
    action: str
    keys: list[str]
    name: str = ""
    class_name: str = "dog"


def group(counts: dict[str, int], *, pk: int | None = None, **fields) -> WorkingGroup:
    g = WorkingGroup(class_name="dog", counts=dict(counts), surfaces={}, pk=pk, **fields)
    g.canonical = g.canonical_lemma = g.members()[0] if counts else ""
    return g


# --- one working group --------------------------------------------------------------------------


def test_a_group_counts_members_and_their_spellings():
    g = WorkingGroup(class_name="dog", counts={}, surfaces={}, dirty=False)
    g.add("ear", "ears")
    g.add("ear", "Ears", 2)
    g.add("nose", "")
    assert g.counts == {"ear": 3, "nose": 1} and g.total == 4
    assert g.surfaces == {"ear": {"ears": 1, "Ears": 2}, "nose": {"nose": 1}}
    assert g.members() == ["ear", "nose"] and g.dirty
    g.canonical = "ears"
    assert g.label == "ears"
    g.name = "lugs"
    assert g.label == "lugs"


def test_absorb_sums_members_and_keeps_a_name_and_a_block():
    a = WorkingGroup("dog", {"ear": 2}, {"ear": {"ears": 2}}, dirty=False)
    a.embeddings = [np.zeros(3)]
    b = WorkingGroup("dog", {"ear": 1, "lug": 1}, {"ear": {"ear": 1}}, name="lugs", blocked=True)
    a.absorb(b)
    assert a.counts == {"ear": 3, "lug": 1}
    assert a.surfaces == {"ear": {"ears": 2, "ear": 1}, "lug": {}}
    assert (a.name, a.blocked, a.dirty, a.moved, a.embeddings) == ("lugs", True, True, True, [])


def test_take_removes_keys_with_their_spellings():
    g = WorkingGroup("dog", {"ear": 2, "nose": 1}, {"ear": {"ears": 2}}, dirty=False)
    counts, surfaces = g.take(["nose", "tail"])
    assert (counts, surfaces) == ({"nose": 1}, {"nose": {"nose": 1}})
    assert g.counts == {"ear": 2} and g.dirty
    clean = WorkingGroup("dog", {"ear": 1}, {}, dirty=False)
    assert clean.take(["tail"]) == ({}, {}) and not clean.dirty


def test_canonical_update_shows_the_most_typed_spelling():
    g = WorkingGroup("dog", {"ear": 3}, {"ear": {"ears": 2, "ear": 1}})
    canonical_update(g, EMBED)
    assert (g.canonical, g.canonical_lemma) == ("ears", "ear")
    assert g.score == pytest.approx(3.0)


# --- groups of one class ------------------------------------------------------------------------


def test_equal_lemmas_unify_into_the_bigger_then_older_group():
    small = group({"ear": 1}, pk=5)
    big = group({"ear": 2}, pk=9)
    other = group({"nose": 1}, pk=1)
    out = groups_unify([small, other, big], EMBED)
    assert out == [big, other] and big.counts == {"ear": 3} and big.moved
    old, new = group({"ear": 1}, pk=3), group({"ear": 1})
    assert groups_unify([new, old], EMBED) == [old]


def test_a_curated_group_gets_a_lemma_no_other_group_uses():
    taken = [group({"ear": 1}), group({"lug": 1})]
    fixed = group({"lug": 2, "ear": 1})
    fixed.canonical_lemma = "ear"
    lemma_disambiguate([*taken, fixed], fixed)
    assert fixed.canonical_lemma == "ear (2)"  # every member is taken too
    free = group({"ear": 1, "nose": 1})
    lemma_disambiguate([taken[0], free], free)
    assert free.canonical_lemma == "nose"


def test_rename_and_unblock_mark_the_group_holding_most_of_the_keys():
    a, b = group({"ear": 3}), group({"ear": 1, "nose": 5}, blocked=True)
    groups = [a, b]
    assert rule_apply(groups, Rule(RENAME, ["ear"], name="lugs"), EMBED) is groups
    assert (a.name, b.name) == ("lugs", "")
    rule_apply(groups, Rule(UNBLOCK, ["nose"]), EMBED)
    assert not b.blocked
    assert rule_apply(groups, Rule(RENAME, ["tail"], name="x"), EMBED) is groups  # no hit


def test_merge_keeps_the_biggest_group_named():
    a, b, c = group({"ear": 1}, pk=1), group({"lug": 3}, pk=2), group({"nose": 1}, pk=3)
    out = rule_apply([a, b, c], Rule(MERGE, ["ear", "lug"], name="ears"), EMBED)
    assert out == [b, c]
    assert b.counts == {"lug": 3, "ear": 1} and b.name == "ears" and b.origin == ORIGIN_CURATION


def test_split_moves_keys_into_a_new_group_and_block_marks_a_whole_one():
    a = group({"ear": 2, "lug": 1}, pk=1)
    out = rule_apply([a], Rule(SPLIT, ["lug"], name="lugs"), EMBED)
    assert len(out) == 2 and out[0] is a and a.counts == {"ear": 2}
    new = out[1]
    assert (new.counts, new.name, new.pk, new.moved) == ({"lug": 1}, "lugs", None, True)
    assert new.origin == ORIGIN_CURATION
    assert rule_apply(out, Rule(BLOCK, ["lug"]), EMBED) == out and new.blocked  # reused as is
    assert rule_target(out, ["lug"], changed=set()) is new


def test_a_split_that_empties_a_group_reuses_its_id():
    a, b = group({"ear": 2}, pk=1), group({"lug": 1}, pk=2)
    out = rules_apply([a, b], [Rule(SPLIT, ["lug", "ear"], name="all")], EMBED)
    assert [(g.pk, g.counts) for g in out] == [(1, {"ear": 2, "lug": 1})]


# --- incremental joining and full regroups --------------------------------------------------------


def test_a_new_key_joins_the_nearest_group_within_the_threshold():
    ears, collar = group({"ear": 2}), group({"collar": 1})
    groups = [ears, collar]
    embedder = FixedEmbedder()
    kwargs = dict(embedder=embedder, embed=EMBED, settings=SETTINGS)
    assert nearest_group("lug", groups, **kwargs) is ears
    assert len(ears.embeddings) == 2  # its member's vector, then the new key's
    assert nearest_group("lug", groups, blocked=[0], **kwargs) is None  # a cannot-link
    assert nearest_group("nose", groups, **kwargs) is None
    assert nearest_group("ear", [], **kwargs) is None


def test_groups_from_a_report_carry_their_members_spellings():
    labels = (
        ProcessedLabel(raw="Ears", text="ears", key="ear", surface="Ears"),
        ProcessedLabel(raw="ear", text="ear", key="ear", surface=""),
        ProcessedLabel(raw="<b>", text="", key="", surface="", refused_reason="markup"),
    )
    report = GroupingReport(
        class_name="dog",
        settings=SETTINGS,
        model_id="fixed",
        groups=(LabelGroup("Ears", "ear", ("ear",), (2,), score=2.0),),
        labels=labels,
    )
    (g,) = groups_from_report("dog", report)
    assert (g.counts, g.surfaces) == ({"ear": 2}, {"ear": {"Ears": 1, "ear": 1}})
    assert (g.canonical, g.canonical_lemma, g.score, g.pk, g.dirty) == (
        "Ears",
        "ear",
        2.0,
        None,
        True,
    )


def test_a_regroup_keeps_each_old_id_once():
    working = {
        "dog": [group({"ear": 1}), group({"nose": 1})],
        "cat": [group({"ear": 1}), group({"whisker": 1})],
    }
    working["dog"][1].canonical_lemma = "ear"  # a second group of dog with the same lemma
    pks_reuse(working, {("dog", "ear"): 7, ("cat", "whisker"): 8})
    assert [g.pk for g in working["dog"]] == [7, None]
    assert [g.pk for g in working["cat"]] == [None, 8]
    assert all(g.dirty for gs in working.values() for g in gs)


def test_relabelled_keys_are_the_old_members_of_renamed_or_deleted_groups():
    kept, renamed = group({"ear": 1}, pk=1), group({"lug": 1, "ear": 1}, pk=2)
    before = {1: ("ear", {"ear"}), 2: ("lug", {"lug"}), 3: ("nose", {"nose"})}
    assert relabelled_keys(before, [kept, renamed], changed={1, 2}, deleted=set()) == {"lug"}
    assert relabelled_keys(before, [kept], changed={1}, deleted={3}) == {"nose"}
    assert relabelled_keys(before, [kept], changed={1}, deleted=set()) is None


# --- buckets and the regroup policy ----------------------------------------------------------------


def test_buckets_keep_languages_apart():
    assert bucket_of("dog", "la fenêtre", languages=("en",)) == "dog"
    assert bucket_of("dog", "la fenêtre rouge", languages=("en", "fr")) == "dog [fr]"
    assert bucket_of("dog", "floppy ears", languages=("en", "fr")) == "dog"
    assert (
        bucket_class("dog [fr]") == "dog" and bucket_class("tabby, tabby cat") == "tabby, tabby cat"
    )


def test_a_regroup_is_due_once_enough_mentions_were_placed_incrementally():
    assert not regroup_due(growth=0.5, minimum=3, since=2, at_rebuild=0)
    assert regroup_due(growth=0.5, minimum=3, since=3, at_rebuild=0)
    assert not regroup_due(growth=0.5, minimum=3, since=3, at_rebuild=10)  # 3 < 0.5 × 10
    assert not regroup_due(growth=0.0, minimum=0, since=1000, at_rebuild=0)  # disabled
