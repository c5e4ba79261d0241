"""Human verification (processing/nlp/verify.py, issue 12): the sequential answer rule, what
verdicts imply together, and which pairs are worth asking. Hand-made tiny cases: no model."""

from __future__ import annotations

import numpy as np
import pytest

from processing.nlp.verify import (
    DEFAULT_MODEL,
    MERGE,
    SPLIT,
    AnswerRule,
    Knowledge,
    UncertaintyModel,
    Verdict,
    char_similarity,
    constraints_from_verdicts,
    stored_verdict,
    uncertain_pairs,
    verdict,
    verdict_of_counts,
)


def test_the_answer_rule_is_sequential_and_uses_the_prior():
    rule = AnswerRule()  # answers right 80 %: each is worth ln 4 of log-odds
    assert rule.decide(0, 0) is None  # never before the first answer
    # an even prior: "same" needs 3 more yes than no (97 %), "different" 3 more no (95 %)
    assert rule.decide(2, 0) is None and rule.decide(3, 0) is True
    assert rule.decide(0, 2) is None and rule.decide(0, 3) is False
    assert rule.decide(3, 1) is None  # 3 : 1 is no verdict
    # a pair the grouping keeps apart (P(same) 0.1): one "no" ends it, "same" needs 5 net
    assert rule.decide(0, 1, prior=0.1) is False
    assert rule.decide(4, 0, prior=0.1) is None and rule.decide(5, 0, prior=0.1) is True
    assert rule.closed(8, 7) and not rule.closed(7, 7)  # max_answers: undecided for good
    assert verdict([True, True, False], prior=0.1) == verdict_of_counts(2, 1, prior=0.1)
    assert verdict([True] * 3).same is True and verdict([True] * 3).margin == 3
    with pytest.raises(ValueError):
        AnswerRule(accuracy=0.5)


def test_outcome_of_asking():
    rule = AnswerRule()
    o = rule.behaviour(0.5)
    assert o.same_if_same + o.different_if_same <= 1.0 + 1e-9
    assert o.same_if_same > 0.9 and o.same_if_different < 0.05
    assert 3.0 < o.answers_if_same < 6.0
    low = rule.behaviour(0.05)  # a likely "different": cheap to confirm, hard to turn
    assert low.answers_if_different < 1.5 and low.same_if_same < o.same_if_same
    # asked again after one "no": at least one more answer
    again = rule.behaviour(0.05, 0, 1)
    assert again.answers_if_different >= 1.0


def test_stored_verdict_uses_the_kind_and_the_distance():
    assert DEFAULT_MODEL.prior(MERGE, 1.0) < DEFAULT_MODEL.prior(MERGE, 0.3)
    assert DEFAULT_MODEL.prior(SPLIT, 0.3) > DEFAULT_MODEL.prior(MERGE, 0.3)
    far = stored_verdict(0, 1, kind=MERGE, distance=1.2)
    assert far.same is False  # far apart: one "no" is enough
    assert verdict_of_counts(0, 1).same is None  # the same answer without a prior is not
    assert stored_verdict(1, 0, kind=SPLIT, distance=0.2).same is True


def test_knowledge_is_transitive_and_drops_contradicted_verdicts():
    strong_same = verdict_of_counts(4, 0)
    strong_different = verdict_of_counts(0, 4)
    weak_same = verdict_of_counts(3, 0)
    known = Knowledge(
        {
            ("a", "b"): strong_same,
            ("b", "c"): strong_same,
            ("c", "d"): strong_different,
            ("a", "d"): weak_same,  # contradicts a = b = c ≠ d, less clear: dropped
            ("e", "f"): Verdict(None, 1, 1),  # undecided: nothing
        }
    )
    assert known.same("a", "c") is True and known.same("a", "d") is False
    assert known.apart("b", "d") and known.same("e", "f") is None
    assert known.dropped == (("a", "d"),)
    must, cannot = constraints_from_verdicts(known.verdicts)
    assert set(must) == {("a", "b"), ("b", "c")} and cannot == (("c", "d"),)
    # the clearer verdict wins whichever its direction
    flipped = Knowledge(
        {("a", "b"): weak_same, ("b", "c"): weak_same, ("a", "c"): strong_different}
    )
    assert flipped.same("a", "c") is False and len(flipped.dropped) == 1


def test_char_similarity_finds_typos():
    s = char_similarity(["tail", "tale", "fur"])
    assert np.allclose(np.diag(s), 1.0)
    assert s[0, 1] > 0.3 and s[0, 2] == 0.0


KEYS = ["fur", "long tail", "tail", "tale", "whisker"]
COUNTS = [4, 2, 5, 1, 3]
LABELS = [0, 1, 1, 2, 3]  # {tail, long tail}; "tale" (a typo) far from it in the embedding
DIST = np.array(
    [
        [0.0, 0.9, 0.9, 0.78, 0.9],
        [0.9, 0.0, 0.1, 0.8, 0.95],
        [0.9, 0.1, 0.0, 0.8, 0.95],
        [0.78, 0.8, 0.8, 0.0, 0.85],
        [0.9, 0.95, 0.95, 0.85, 0.0],
    ]
)


def _pairs(**kw):
    return uncertain_pairs(KEYS, DIST, LABELS, threshold=0.5, counts=COUNTS, **kw)


def test_the_likeliest_merge_is_asked_first_as_the_most_typed_strings():
    qs = _pairs()
    assert qs and qs[0].kind == MERGE and qs[0].pair == {"tail", "tale"}  # spelling: a typo
    assert qs[0].prior == pytest.approx(DEFAULT_MODEL.prior(MERGE, 0.8), abs=1e-6)
    assert 0.0 < qs[0].p_same < 1.0 and qs[0].weight == 7.0
    assert [q.score for q in qs] == sorted((q.score for q in qs), reverse=True)
    assert len({q.pair for q in qs}) == len(qs)
    assert _pairs(limit=1) == qs[:1]
    assert uncertain_pairs(["a"], np.zeros((1, 1)), [0], threshold=0.5) == []


def test_known_and_excluded_pairs_are_not_asked_and_the_next_group_is():
    known = Knowledge({("tail", "tale"): verdict_of_counts(0, 4)})
    qs = _pairs(known=known)
    new = [q for q in qs if not (q.yes or q.no)]
    assert all(q.pair != {"tail", "tale"} for q in new)
    assert all(q.pair != {"long tail", "tale"} for q in new)  # the groups are known apart
    assert any(q.pair == {"fur", "tale"} for q in new)
    # a pair being asked (or closed) is not offered at all
    assert all(q.pair != {"tail", "tale"} for q in _pairs(exclude=[frozenset({"tail", "tale"})]))


def test_a_different_verdict_that_alone_keeps_groups_apart_can_be_asked_again():
    one_no = verdict_of_counts(0, 1, prior=0.05)
    assert one_no.same is False
    qs = _pairs(known=Knowledge({("tail", "tale"): one_no}))
    again = [q for q in qs if q.pair == {"tail", "tale"}]
    assert again and (again[0].yes, again[0].no) == (0, 1)
    # its P(same) now counts the "no"
    assert again[0].p_same < _pairs()[0].p_same
    # closed (max_answers reached): never again
    closed = Verdict(False, 0, AnswerRule().max_answers, -9.0)
    assert all(
        q.pair != {"tail", "tale"} for q in _pairs(known=Knowledge({("tail", "tale"): closed}))
    )


def test_a_part_of_a_group_is_asked_against_the_rest():
    keys = ["a", "b", "c", "x"]
    d = np.full((4, 4), 0.2)
    d[3, :3] = d[:3, 3] = 0.5  # x is in the group although far from the rest
    np.fill_diagonal(d, 0.0)
    model = UncertaintyModel(split_a=0.0, split_b=-15.0, split_c=0.0)
    qs = uncertain_pairs(keys, d, [0, 0, 0, 0], threshold=0.35, counts=[3, 2, 2, 1], model=model)
    split = [q for q in qs if q.kind == SPLIT and "x" in q.pair]
    assert split and split[0].pair == {"x", "a"}  # x against the most typed of the rest
    assert split[0].p_same < 0.5
    # x known the same as b: the part {b, x} is asked as b against a; x ~ b never again
    known = Knowledge({("b", "x"): verdict_of_counts(4, 0)})
    qs = uncertain_pairs(
        keys, d, [0, 0, 0, 0], threshold=0.35, counts=[3, 2, 2, 1], model=model, known=known
    )
    assert all(q.pair != {"b", "x"} for q in qs)
    assert any(q.kind == SPLIT and q.pair == {"a", "b"} for q in qs)


def test_reliability_weighs_answerers_by_their_gold_answers():
    from processing.nlp.reliability import DEFAULT_RELIABILITY as rel

    assert rel.accuracy([]) == 0.8 and rel.weight(rel.accuracy([])) == 1.0  # the prior
    always_same = [rel.weight(rel.accuracy([(True, 0.1)] * n)) for n in range(1, 5)]
    assert always_same == sorted(always_same, reverse=True) and always_same[-1] == 0.0
    assert 0.6 < always_same[0] < 0.7
    assert rel.weight(rel.accuracy([(False, 0.1)] * 5)) == 1.0  # capped: never worth more
    # soft truth: a "same" to a gold the data is unsure of costs less
    assert rel.accuracy([(True, 0.3)]) > rel.accuracy([(True, 0.05)])


def test_counted_evidence_takes_one_answer_per_network():
    from processing.nlp.reliability import counted_evidence

    yes, no, w = counted_evidence(
        [
            ("n1", True, 1.0),
            ("n1", True, 1.0),
            ("n2", False, 0.5),
            ("n3", True, 0.0),
            ("n3", True, 1.0),
        ]
    )
    assert (yes, no, w) == (2.0, 0.5, [1.0, 0.0, 0.5, 0.0, 1.0])
    # weighted counts in the sequential test: two half-weight answers are one full one
    assert verdict_of_counts(3, 0).same is True and verdict_of_counts(2.5, 0).same is None
