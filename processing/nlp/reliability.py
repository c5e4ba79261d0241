"""Answerers of the bonus question: how much each answer counts (issue 12).

The answer rule's 80 % (:class:`processing.nlp.verify.AnswerRule`) is an assumption about
honest answerers, not a fact about each one. Each answerer's accuracy is estimated from
their answers to gold questions (pairs whose answer the data presumes: two characteristics
another player typed in one round, which the game asks to be different things, or a pair the
model finds very unlikely the same), a Beta posterior around 0.8 with soft truth (a gold's
presumed P(same) is its chance of being wrong). An answer then counts with the weight
logit(accuracy) / logit(0.8), floored at 0 (a player who fails the golds, such as one who
always says "same", stops counting) and capped at 1 (no answerer counts as more than one
independent 80 % answer, so the test's minimum of answers holds). At most one answer per
network counts on a question (sock puppets behind one address range are one answerer).
``yes`` / ``no`` are then the sums of the counted weights: the sequential test is unchanged
for honest answerers (weight 1), and a "same" on a pair of low prior needs
⌈(logit 0.97 − logit prior) / logit 0.8⌉ counted answers from distinct networks.

Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from processing.nlp.verify import DEFAULT_RULE, AnswerRule

__all__ = ["DEFAULT_RELIABILITY", "Reliability", "counted_evidence"]


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class Reliability:
    """How much one answerer's answers count, from their answers to gold questions.

    A one-coin Dawid–Skene answerer: right with probability ``accuracy`` whatever the truth.
    Its estimate (:meth:`accuracy`) is the posterior mean under a Beta prior of mean
    ``prior_accuracy`` and ``strength`` answers' worth, each gold answer with soft truth: a gold
    presumed "different" with P(same) p makes a "different" answer likely a · (1 − p) +
    (1 − a) · p for an answerer of accuracy a (a gold the data gets wrong now and then neither
    condemns an honest answerer nor clears a dishonest one), computed on a grid. The weight of
    an answer in the sequential test (:meth:`weight`) is logit(accuracy) / logit(rule
    accuracy), floored at 0 and capped at 1. With the defaults (a weak prior, 5 answers'
    worth), an answerer who always says "same" to golds of P(same) 0.1 weighs 0.67 after one,
    0.40 after two, 0.18 after three, nothing after four; an honest 80 % answerer weighs 0.88
    to 0.90 on average (the estimate's noise below 0.8 costs, the cap takes the rest).
    """

    prior_accuracy: float = 0.8
    strength: float = 5.0
    grid: int = 400

    def __post_init__(self) -> None:
        if not 0.5 < self.prior_accuracy < 1.0 or self.strength <= 2.0 or self.grid < 10:
            raise ValueError("prior_accuracy must be in (0.5, 1), strength > 2, grid ≥ 10")

    def accuracy(self, golds: Iterable[tuple[bool, float]]) -> float:
        """The estimated accuracy from gold answers: (answered "same", the gold's P(same))."""
        golds = list(golds)
        if not golds:
            return self.prior_accuracy  # the prior's mean (exactly: weight 1 by default)
        a = (np.arange(self.grid) + 0.5) / self.grid
        m, s = self.prior_accuracy, self.strength
        log_post = (m * s - 1.0) * np.log(a) + ((1.0 - m) * s - 1.0) * np.log1p(-a)
        for same, p_same in golds:
            p = min(max(float(p_same), 0.0), 1.0)
            right = p if same else 1.0 - p  # P(this answer is right | the gold's truth)
            log_post += np.log(a * right + (1.0 - a) * (1.0 - right))
        w = np.exp(log_post - log_post.max())
        return float((w * a).sum() / w.sum())

    def weight(self, accuracy: float, rule: AnswerRule | None = None) -> float:
        """The weight of one answer in ``rule``'s sequential test, in [0, 1]."""
        rule = rule or DEFAULT_RULE
        if accuracy <= 0.5:
            return 0.0
        full = _logit(min(rule.accuracy, 1.0 - 1e-6))
        return min(1.0, round(_logit(min(accuracy, 1.0 - 1e-6)) / full, 6))


DEFAULT_RELIABILITY = Reliability()


def counted_evidence(
    answers: Iterable[tuple[Hashable, bool, float]],
) -> tuple[float, float, list[float]]:
    """(yes, no, weights) of a question's answers in the order given (first answered first):
    each ``(network, same, weight)``; an answer counts with its weight unless an earlier
    answer from the same network counted already (one counted answer per network per
    question), or its weight is 0. ``weights``: what each answer counted, in order."""
    yes = no = 0.0
    seen: set[Hashable] = set()
    counted: list[float] = []
    for network, same, weight in answers:
        w = max(0.0, min(1.0, float(weight)))
        if w <= 0.0 or network in seen:
            counted.append(0.0)
            continue
        seen.add(network)
        counted.append(w)
        if same:
            yes += w
        else:
            no += w
    return round(yes, 6), round(no, 6), counted
