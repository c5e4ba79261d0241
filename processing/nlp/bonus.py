"""Which pair one player is asked as the bonus question after a round (issue 12).

A player is asked about one of *their* labels of the round against a label another player typed
for the same cluster map ("Another player described this region as *control keys*. Same thing
as your *buttons*?"). Among those pairs, :func:`offer_pair` picks the one whose answer is worth
most: the expected mention pairs its verdict sets right per expected answer
(:func:`processing.nlp.verify.question_score`, the ranking of the researchers' suggestions,
:func:`processing.nlp.verify.uncertain_pairs`), with the question's prior
(:meth:`processing.nlp.verify.UncertaintyModel.prior`, its kind and distance) as P(same),
updated by its answers so far. A question that is decided or closed is not asked again, nor a
pair whose expected gain is not positive; when no pair is left there is no bonus question.
Strings far apart are asked last: they are most likely different things, and it takes several
more "same" than "different" answers to join them.

Measured against the previous choice (the undecided pair whose distance is closest to the
threshold, decided ones still asked) by ``python -m benchmarks.verification_policy``
(docs/PROCESSING.md, "Human verification").

Pure: plain strings, numbers and arrays in, a frozen dataclass out.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from processing.nlp.verify import (
    DEFAULT_MODEL,
    DEFAULT_RULE,
    MERGE,
    SPLIT,
    AnswerRule,
    UncertaintyModel,
    question_score,
)

__all__ = ["Asked", "Offer", "offer_pair"]


@dataclass(frozen=True)
class Asked:
    """A question asked before about a pair: its kind and distance when it was first asked,
    its answers so far and its stored prior (None: the model's prior of its kind and
    distance)."""

    kind: str
    distance: float
    yes: int = 0
    no: int = 0
    prior: float | None = None


@dataclass(frozen=True)
class Offer:
    """The pair to ask: ``mine`` (one of the player's keys), ``theirs`` (another player's),
    ``kind`` (``merge``: in different groups now; ``split``: in one group), ``distance`` (of the
    two strings, as given), ``score`` (expected mention pairs set right per expected answer)."""

    mine: str
    theirs: str
    kind: str
    distance: float
    score: float


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def offer_pair(
    own: Sequence[str],
    others: Sequence[str],
    dist: np.ndarray,
    *,
    group_of: Mapping[str, Hashable],
    group_mentions: Mapping[Hashable, float],
    key_mentions: Mapping[str, float],
    asked: Mapping[tuple[str, str], Asked] | None = None,
    skip: Collection[tuple[str, str]] = (),
    model: UncertaintyModel = DEFAULT_MODEL,
    rule: AnswerRule = DEFAULT_RULE,
) -> Offer | None:
    """The best pair (one of ``own``, one of ``others``) to ask, or None.

    dist: (len(own) + len(others), same) distances of ``own + others`` in that order, as the
    grouping computes them. group_of: each key's current group (keys of one group: a split
    question; of two: a merge). group_mentions: mentions per group; key_mentions: per key.
    asked: the questions asked before, by sorted pair of keys (their prior stays the one they
    were first asked with, as their verdict's). What a verdict would change is
    judged on today's groups: a merge moves |A| · |B| mention pairs (the two groups), a split the
    smaller key's mentions times the rest of the group. ``Offer.kind`` is the question's kind
    when first asked. skip: sorted pairs not to ask (the player answered them already). Ties:
    the earlier pair in sorted order.
    """
    asked = asked or {}
    n = len(own)
    best: tuple[float, tuple[str, str], Offer] | None = None
    for i, mine in enumerate(own):
        for j, theirs in enumerate(others):
            d = float(dist[i, n + j])
            if mine == theirs or not d > 0.0:
                continue
            if _pair(mine, theirs) in skip:
                continue
            before = asked.get(_pair(mine, theirs))
            ga, gb = group_of[mine], group_of[theirs]
            now = SPLIT if ga == gb else MERGE  # what a verdict would change today
            if before is not None:
                prior = before.prior
                if prior is None:
                    prior = model.prior(before.kind, before.distance)
                if rule.closed(before.yes, before.no, prior):
                    continue
                kind, yes, no = before.kind, before.yes, before.no
            else:
                kind, yes, no = now, 0, 0
                prior = model.prior(kind, d)
            p_same = 1.0 / (1.0 + math.exp(-rule.log_odds(yes, no, prior)))
            if now == MERGE:
                impact = float(group_mentions[ga]) * float(group_mentions[gb])
            else:
                part = min(float(key_mentions[mine]), float(key_mentions[theirs]))
                impact = part * max(float(group_mentions[ga]) - part, 1.0)
            score = question_score(now, prior, p_same, impact, yes=yes, no=no, rule=rule)
            if score <= 0:
                continue
            rank = (-score, _pair(mine, theirs))
            if best is None or rank < (best[0], best[1]):
                best = (-score, _pair(mine, theirs), Offer(mine, theirs, kind, d, score))
    return None if best is None else best[2]
