"""Constrained grouping and game signals (issue 12; the pairs to verify: test_verify.py).

Hand-made tiny cases with hand-made vectors: no model is loaded.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from processing.nlp import embed as embed_module
from processing.nlp.embed import l2_normalise
from processing.nlp.grouping import (
    Constraints,
    GroupingSettings,
    constrained_labels,
    context_similarity,
    group_labels,
    pairwise_distances,
)
from processing.nlp.grouping.clustering import _threshold_labels_exact
from processing.nlp.pipeline import LineSignals, ProcessedLabel

# The embedding alone: no derivation links, no WordNet ("x" and "y" are letters to WordNet).
PLAIN = GroupingSettings(
    template="{}",
    head_weight=0.0,
    derivation=False,
    threshold=0.3,
    wordnet_synonym=1.0,
    wordnet_hypernym=1.0,
    wordnet_cousin=1.0,
    wordnet_unrelated=1.0,
)


def _vectors(spec: dict[str, list[float]]):
    keys = sorted(spec)
    emb = l2_normalise(np.array([spec[k] for k in keys], dtype=np.float32))
    table = dict(zip(keys, emb))
    return keys, emb, lambda strings: np.stack([table[s] for s in strings])


def _together(groups, a, b) -> bool:
    return any(a in g.members and b in g.members for g in groups)


@pytest.mark.parametrize("linkage", ["average", "complete", "single", "weighted"])
def test_constrained_labels_without_constraints_equal_scipy(linkage):
    rng = np.random.default_rng(3)
    for _ in range(10):
        n = int(rng.integers(3, 40))
        dist = pairwise_distances(l2_normalise(rng.normal(size=(n, 6))))
        for threshold in (0.4, 0.8):
            ours = constrained_labels(dist, linkage=linkage, threshold=threshold)
            ref = _threshold_labels_exact(dist, linkage, threshold)
            assert adjusted_rand_score(ours, ref) == pytest.approx(1.0)


def test_cannot_link_keeps_groups_apart_and_must_link_joins_far_items():
    # 0 and 1 are close, 2 is far from both
    dist = np.array([[0.0, 0.1, 0.9], [0.1, 0.0, 0.9], [0.9, 0.9, 0.0]])
    assert constrained_labels(dist, linkage="average", threshold=0.3).tolist() == [0, 0, 1]
    apart = constrained_labels(dist, linkage="average", threshold=0.3, cannot_link=[(0, 1)])
    assert apart[0] != apart[1]
    joined = constrained_labels(dist, linkage="average", threshold=0.3, must_link=[(1, 2)])
    assert joined[1] == joined[2] != joined[0]  # {1, 2} is 0.5 from 0 on average
    assert constrained_labels(
        dist, linkage="average", threshold=0.3, must_link=[(1, 2), (0, 2)]
    ).tolist() == [0, 0, 0]
    # a must-link that would join a cannot-linked pair is dropped, the others still apply
    both = constrained_labels(
        dist, linkage="average", threshold=0.3, must_link=[(1, 2), (0, 1)], cannot_link=[(0, 2)]
    )
    assert both[1] == both[2] != both[0]


def test_cannot_link_is_inherited_by_merged_groups():
    # a chain 0-1-2 of close items; 0 and 2 may not be together: 1 joins one side only
    dist = np.array([[0.0, 0.1, 0.2], [0.1, 0.0, 0.1], [0.2, 0.1, 0.0]])
    labels = constrained_labels(dist, linkage="single", threshold=0.3, cannot_link=[(2, 0)])
    assert labels[0] != labels[2] and labels[1] in (labels[0], labels[2])


def test_group_labels_with_constraints():
    keys, emb, embed = _vectors(
        {"wheel": [1, 0, 0], "tire": [0.95, 0.3, 0], "fur": [0, 1, 0], "coat": [0, 0.4, 1]}
    )
    plain = group_labels(keys, emb, settings=PLAIN, embed=embed)
    assert _together(plain, "wheel", "tire") and not _together(plain, "fur", "coat")
    constrained = group_labels(
        keys,
        emb,
        settings=PLAIN,
        embed=embed,
        constraints=Constraints(must_link=(("fur", "coat"),), cannot_link=(("wheel", "tire"),)),
    )
    assert _together(constrained, "fur", "coat") and not _together(constrained, "wheel", "tire")
    # strings that are not grouped are ignored
    same = group_labels(
        keys,
        emb,
        settings=PLAIN,
        embed=embed,
        constraints=Constraints(cannot_link=(("wheel", "nothing"),)),
    )
    assert same == plain


def test_cannot_linked_groups_are_not_unified_by_their_canonical_label():
    # two groups (held by must-links) whose best canonical candidate is "door" for both
    spec = {"red door": [1, 0.2], "old door": [1, -0.2], "blue door": [1, 0.2]}
    spec |= {"new door": [1, -0.2], "door": [1, 0], "red": [0, 1], "old": [0, 1]}
    spec |= {"blue": [0, 1], "new": [0, 1]}
    _, _, embed = _vectors(spec)
    members = ["blue door", "new door", "old door", "red door"]
    must = (("red door", "old door"), ("blue door", "new door"))
    unified = group_labels(
        members,
        embed(members),
        settings=PLAIN,
        embed=embed,
        constraints=Constraints(must_link=must),
    )
    assert len(unified) == 1 and unified[0].canonical_lemma == "door"
    apart = group_labels(
        members,
        embed(members),
        settings=PLAIN,
        embed=embed,
        constraints=Constraints(must_link=must, cannot_link=(("red door", "blue door"),)),
    )
    assert len(apart) == 2
    assert {g.canonical_lemma for g in apart} == {"door", "old door"}
    assert not _together(apart, "red door", "blue door")


def test_context_similarity_and_context_weight():
    keys = ["a", "b", "c", "d"]
    ctx = {"a": {"m1": 2}, "b": {"m1": 1}, "c": {"m2": 1}}
    sim = context_similarity(keys, ctx)
    assert sim[0, 1] == pytest.approx(1.0) and sim[0, 2] == 0.0 and sim[3].sum() == 0.0
    overlapping = context_similarity(keys, ctx, {("m1", "m2"): 0.5})
    assert overlapping[0, 2] == pytest.approx(0.5)

    keys, emb, embed = _vectors({"x": [1, 0], "y": [0.6, 0.8]})  # cosine distance 0.4
    contexts = Constraints(contexts={"x": {"map": 1}, "y": {"map": 1}})
    apart = group_labels(keys, emb, settings=PLAIN, embed=embed, constraints=contexts)
    assert len(apart) == 2  # context_weight 0 by default
    closer = GroupingSettings(**{**PLAIN.as_dict(), "context_weight": 0.2})
    assert len(group_labels(keys, emb, settings=closer, embed=embed, constraints=contexts)) == 1


def _label(key: str | None) -> ProcessedLabel:
    if key is None:
        return ProcessedLabel(raw="?", text="", key="", surface="", refused_reason="no_letters")
    return ProcessedLabel(raw=key, text=key, key=key, surface=key)


def test_line_signals_become_key_constraints():
    labels = [_label("wheel"), _label("tire"), _label(None), _label("fur"), _label("wheel")]
    signals = LineSignals(
        rounds=["r1", "r1", "r1", "r2", "r2"],
        maps=[1, 1, 1, 2, None],
        must_link=[(3, 0)],
        cannot_link=[(0, 4), (0, 3)],  # equal keys drop out; a duplicate of a round pair too
    )
    c = signals.constraints(labels)
    assert c.must_link == (("fur", "wheel"),)
    assert set(c.cannot_link) == {("wheel", "fur"), ("wheel", "tire"), ("fur", "wheel")}
    assert c.contexts == {"wheel": {1: 1.0}, "tire": {1: 1.0}, "fur": {2: 1.0}}


def test_split_zip_is_read_across_parts(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("all-mpnet-base-v2/modules.json", "[]")
        zf.writestr("all-mpnet-base-v2/desktop.ini", "x")
        zf.writestr("all-mpnet-base-v2/model.bin", bytes(range(256)) * 40)
    data = buffer.getvalue()
    cuts = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    parts = []
    for i in range(3):
        part = tmp_path / f"all-mpnet-base-v2.zip.00{i + 1}"
        part.write_bytes(data[cuts[i] : cuts[i + 1]])
        parts.append(part)
    monkeypatch.setattr(embed_module, "_mpnet_parts", lambda: parts)
    folder = embed_module.mpnet_model_path(tmp_path / "models")
    assert folder == tmp_path / "models" / "all-mpnet-base-v2"
    assert (folder / "modules.json").read_text() == "[]"
    assert (folder / "model.bin").read_bytes() == bytes(range(256)) * 40
    assert not (folder / "desktop.ini").exists()
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".mpnet-")]
    # a second call finds the folder without reading the parts
    monkeypatch.setattr(embed_module, "_mpnet_parts", lambda: pytest.fail("re-extracted"))
    assert embed_module.mpnet_model_path(tmp_path / "models") == folder


def test_resolve_model_path_names(monkeypatch, tmp_path):
    monkeypatch.setattr(embed_module, "mpnet_model_path", lambda: tmp_path / "mpnet")
    assert embed_module.resolve_model_path("mpnet") == tmp_path / "mpnet"
    assert embed_module.resolve_model_path(None) == embed_module.default_model_path()
    assert embed_module.resolve_model_path("minilm") == embed_module.default_model_path()
    assert embed_module.resolve_model_path(str(tmp_path)) == tmp_path
