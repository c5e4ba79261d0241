"""Reads of the human verification of synonym groups (issue 12).

* :func:`rebuild_signals_get` — what a campaign regroup knows beyond the texts: the round and
  the cluster map of every characteristic (cannot-links within a round; map contexts) and the
  decided verification questions (must-links and cannot-links).
* :func:`verification_suggestions` — the researchers' ranked merge / split suggestions of a
  campaign's current groups (:func:`processing.nlp.verify.uncertain_pairs`), with the players'
  answers so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from explanations.models import Campaign
from processing.nlp.grouping import GroupingSettings, head_word, label_distances
from processing.nlp.pipeline import LineSignals
from processing.nlp.verify import Verdict, uncertain_pairs, verdict

from .models import LabelGroup, VerificationQuestion

MIN_ANSWERS = 3


def question_verdict(question: VerificationQuestion) -> Verdict:
    """The majority of a question's answers once it has :data:`MIN_ANSWERS` (ties: none)."""
    return verdict([True] * question.yes + [False] * question.no, min_answers=MIN_ANSWERS)


def rebuild_signals_get(
    *, campaign: Campaign, rows_by_class: Mapping[str, Sequence[dict]]
) -> dict[str, LineSignals]:
    """Per grouping bucket, the :class:`LineSignals` of its lines (``rows_by_class``: the
    characteristic rows in line order, with ``id``, ``round_id`` and
    ``round__cluster_map_id``). Decided questions become line pairs of the characteristics
    they showed, clearest majorities first; a question whose characteristics are in different
    buckets (or gone) is skipped."""
    line_of: dict[int, tuple[str, int]] = {}
    for cls, rows in rows_by_class.items():
        for i, r in enumerate(rows):
            line_of[r["id"]] = (cls, i)
    must: dict[str, list[tuple[tuple[int, int], Verdict]]] = {}
    cannot: dict[str, list[tuple[tuple[int, int], Verdict]]] = {}
    questions = VerificationQuestion.objects.filter(
        campaign=campaign, characteristic_a__isnull=False, characteristic_b__isnull=False
    ).only("yes", "no", "characteristic_a_id", "characteristic_b_id")
    for q in questions:
        v = question_verdict(q)
        a, b = line_of.get(q.characteristic_a_id), line_of.get(q.characteristic_b_id)
        if v.same is None or a is None or b is None or a[0] != b[0]:
            continue
        (must if v.same else cannot).setdefault(a[0], []).append(((a[1], b[1]), v))

    def ordered(items):
        items = sorted(items, key=lambda x: (-x[1].margin, -(x[1].yes + x[1].no), x[0]))
        return tuple(pair for pair, _ in items)

    return {
        cls: LineSignals(
            rounds=tuple(r["round_id"] for r in rows),
            maps=tuple(r["round__cluster_map_id"] for r in rows),
            must_link=ordered(must.get(cls, [])),
            cannot_link=ordered(cannot.get(cls, [])),
        )
        for cls, rows in rows_by_class.items()
    }


@dataclass(frozen=True)
class Suggestion:
    """A ranked merge or split suggestion for researchers."""

    kind: str
    class_name: str
    key_a: str
    key_b: str
    group_a: int
    group_b: int
    label_a: str
    label_b: str
    distance: float
    score: float
    yes: int
    no: int


def verification_suggestions(
    *,
    campaign: Campaign,
    settings: GroupingSettings,
    embed,
    class_name: str | None = None,
    limit: int = 50,
) -> list[Suggestion]:
    """Merge / split suggestions of the campaign's current groups, most useful first.

    ``embed`` embeds strings as grouping does (the settings' template, the stored embeddings).
    Pairs players already decided are left out; undecided ones carry their answers so far.
    """
    qs = LabelGroup.objects.filter(campaign=campaign, blocked=False)
    if class_name:
        qs = qs.filter(class_name=class_name)
    by_class: dict[str, list[LabelGroup]] = {}
    for g in qs.order_by("class_name", "id"):
        by_class.setdefault(g.class_name, []).append(g)
    answers = {
        (q.class_name, q.key_a, q.key_b): q
        for q in VerificationQuestion.objects.filter(campaign=campaign)
    }
    out: list[Suggestion] = []
    for cls, groups in by_class.items():
        keys, labels, counts, group_of = [], [], [], {}
        for gi, g in enumerate(groups):
            for k, n in zip(g.members, g.member_counts):
                keys.append(k)
                labels.append(gi)
                counts.append(int(n))
                group_of[k] = g
        if len(keys) < 2:
            continue
        emb = embed(keys)
        heads = embed([head_word(k) for k in keys]) if settings.head_weight > 0 else None
        dist = label_distances(keys, np.asarray(emb), heads, settings=settings)
        decided = set()
        for (c, a, b), q in answers.items():
            if c == cls and question_verdict(q).same is not None:
                decided.add(frozenset((a, b)))
        for q in uncertain_pairs(
            keys,
            dist,
            labels,
            threshold=settings.threshold,
            counts=counts,
            exclude=decided,
            limit=limit,
        ):
            a, b = sorted((q.a, q.b))
            known = answers.get((cls, a, b))
            ga, gb = group_of[q.a], group_of[q.b]
            out.append(
                Suggestion(
                    kind=q.kind,
                    class_name=cls,
                    key_a=q.a,
                    key_b=q.b,
                    group_a=ga.pk,
                    group_b=gb.pk,
                    label_a=ga.name or ga.canonical,
                    label_b=gb.name or gb.canonical,
                    distance=q.distance,
                    score=round(q.score, 4),
                    yes=known.yes if known else 0,
                    no=known.no if known else 0,
                )
            )
    out.sort(key=lambda s: (-s.score, s.class_name, s.key_a, s.key_b))
    return out[:limit]
