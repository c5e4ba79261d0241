"""Reads of processed labels (never writes). Keyword-only arguments.

* processing state, groups, mentions and their provenance, scores, merged groups, globals,
  curation rules and exports;
* the human verification of synonym groups (issue 12): :func:`rebuild_signals_get` — what a
  campaign regroup knows beyond the texts: the round and the cluster map of every
  characteristic (cannot-links within a round; map contexts) and the decided verification
  questions (must-links and cannot-links); :func:`verification_suggestions` — the researchers'
  ranked merge / split suggestions of a campaign's current groups
  (:func:`processing.nlp.verify.uncertain_pairs`), with the players' answers so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Prefetch, Q, QuerySet

from explanations.models import Campaign, CampaignImage, ClusterMap
from game.models import Characteristic, Round
from processing.nlp.grouping import GroupingSettings, head_word, label_distances
from processing.nlp.pipeline import LineSignals
from processing.nlp.verify import DEFAULT_RULE, Knowledge, Verdict, stored_verdict, uncertain_pairs

from .models import (
    CampaignExport,
    CampaignProcessing,
    ClusterLabelScore,
    ClusterStat,
    CurationRule,
    GlobalLabel,
    LabelGroup,
    LabelMention,
    LabelTrend,
    MergedGroup,
    VerificationAnswer,
    VerificationQuestion,
)


def processing_state_get(*, campaign: Campaign) -> CampaignProcessing:
    """The campaign's processing state (an unsaved idle one if it was never processed)."""
    state = CampaignProcessing.objects.filter(campaign=campaign).first()
    return state or CampaignProcessing(campaign=campaign)


def processing_pending_count(*, campaign: Campaign) -> int:
    """Characteristics of finished rounds not processed yet."""
    return Characteristic.objects.filter(
        round__campaign=campaign, round__status=Round.Status.DONE, mention__isnull=True
    ).count()


def label_group_list(
    *,
    campaign: Campaign,
    class_name: str | None = None,
    search: str | None = None,
    blocked: bool | None = None,
) -> QuerySet[LabelGroup]:
    qs = LabelGroup.objects.filter(campaign=campaign)
    if class_name:
        qs = qs.filter(class_name=class_name)
    if blocked is not None:
        qs = qs.filter(blocked=blocked)
    if search:
        search = search.strip().lower()
        qs = qs.filter(
            Q(canonical__icontains=search)
            | Q(name__icontains=search)
            | Q(members__icontains=search)
        )
    return qs.order_by("class_name", "-count", "canonical", "id")


def label_group_get(*, group_id: int, campaign: Campaign | None = None) -> LabelGroup | None:
    qs = LabelGroup.objects.select_related("campaign")
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    return qs.filter(pk=group_id).first()


def label_group_provenance(*, group: LabelGroup) -> QuerySet[LabelMention]:
    """Every mention of a group with its raw characteristic, round, player, image, cluster."""
    return (
        LabelMention.objects.filter(group=group)
        .select_related(
            "characteristic",
            "round",
            "player",
            "image",
            "cluster_map__layer_result",
        )
        .order_by("characteristic_id")
    )


def label_provenance(*, campaign: Campaign, label: str) -> QuerySet[LabelMention]:
    """Mentions counted for a label string (every non-blocked group shown under it)."""
    groups = LabelGroup.objects.filter(campaign=campaign, blocked=False).filter(
        Q(name=label) | Q(name="", canonical=label)
    )
    return (
        LabelMention.objects.filter(group__in=groups)
        .select_related("characteristic", "round", "player", "image", "cluster_map")
        .order_by("characteristic_id")
    )


def cluster_label_provenance(*, score: ClusterLabelScore) -> QuerySet[LabelMention]:
    """The mentions behind one score(C, s): its cluster's mentions in the score's groups."""
    return (
        LabelMention.objects.filter(
            cluster_map_id=score.cluster_map_id, group_id__in=score.group_ids
        )
        .select_related("characteristic", "round", "player")
        .order_by("characteristic_id")
    )


def mention_list(
    *, campaign: Campaign, refused: bool | None = None, class_name: str | None = None
) -> QuerySet[LabelMention]:
    qs = LabelMention.objects.filter(campaign=campaign).select_related("characteristic")
    if refused is True:
        qs = qs.exclude(refused_reason="")
    elif refused is False:
        qs = qs.filter(refused_reason="")
    if class_name:
        qs = qs.filter(class_name=class_name)
    return qs.order_by("characteristic_id")


@dataclass(frozen=True)
class ClusterScores:
    """One cluster of an image with its stats and label scores ("no labels yet" when empty)."""

    cluster: ClusterMap
    stat: ClusterStat | None
    scores: list[ClusterLabelScore] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        return bool(self.scores)


def image_cluster_scores(*, image: CampaignImage) -> list[ClusterScores]:
    """Every playable cluster of an image (labelled or not) with its stats and scores."""
    campaign = image.campaign
    played = Round.objects.filter(image=image, status=Round.Status.DONE).values("cluster_map_id")
    clusters = (
        (
            ClusterMap.objects.current_for(campaign).filter(image=image)
            | ClusterMap.objects.filter(pk__in=played)
        )
        .select_related("layer_result", "stat")
        .prefetch_related(
            Prefetch(
                "label_scores",
                queryset=ClusterLabelScore.objects.order_by("rank"),
            )
        )
        .order_by("layer_result__position", "index")
    )
    out = []
    for c in clusters:
        try:
            stat = c.stat
        except ClusterStat.DoesNotExist:
            stat = None
        out.append(ClusterScores(cluster=c, stat=stat, scores=list(c.label_scores.all())))
    return out


def image_merged_groups(*, image: CampaignImage, kind: str | None = None) -> QuerySet:
    qs = MergedGroup.objects.filter(image=image).select_related("layer_result")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("layer_result__position", "kind", "-weight", "id")


def global_label_list(
    *,
    campaign: Campaign,
    class_name: str | None = None,
    layer: str | None = None,
    top: int | None = 5,
    normalised: bool = False,
) -> QuerySet[GlobalLabel]:
    """Global labels per class and layer, by G(s) (or by the normalised share)."""
    qs = GlobalLabel.objects.filter(campaign=campaign)
    if class_name:
        qs = qs.filter(class_name=class_name)
    if layer:
        qs = qs.filter(layer=layer)
    rank = "rank_normalised" if normalised else "rank"
    if top is not None:
        qs = qs.filter(**{f"{rank}__lt": top})
    return qs.order_by("class_name", "layer_position", rank)


def label_trend_list(
    *, campaign: Campaign, class_name: str | None = None, shown_only: bool = True
) -> QuerySet[LabelTrend]:
    qs = LabelTrend.objects.filter(campaign=campaign)
    if class_name:
        qs = qs.filter(class_name=class_name)
    if shown_only:
        qs = qs.filter(shown=True)
    return qs.order_by("class_name", "direction", "rank")


def curation_rule_list(*, campaign: Campaign) -> QuerySet[CurationRule]:
    return CurationRule.objects.filter(campaign=campaign).order_by("id")


def export_get(*, token: str) -> CampaignExport | None:
    return CampaignExport.objects.select_related("campaign").filter(token=token).first()


def export_list(*, campaign: Campaign) -> QuerySet[CampaignExport]:
    return CampaignExport.objects.filter(campaign=campaign).order_by("-created_at")


# --- human verification (issue 12) ----------------------------------------------------------


def question_verdict(question: VerificationQuestion) -> Verdict:
    """The verdict of a question's answers so far: the sequential rule the benchmark simulates
    (:data:`processing.nlp.verify.DEFAULT_RULE`, with the prior stored when the question was
    first asked, else that of its kind and distance; :func:`processing.nlp.verify.
    stored_verdict`)."""
    return stored_verdict(
        question.yes,
        question.no,
        kind=question.kind,
        distance=question.distance,
        prior=question.prior,
    )


def question_settled(question: VerificationQuestion) -> bool:
    """Whether a question takes no more answers from players: decided, or closed."""
    return question_closed(question) or question_verdict(question).same is not None


def question_closed(question: VerificationQuestion) -> bool:
    """Whether a question takes no more answers (``DEFAULT_RULE.max_answers`` reached)."""
    return question.yes + question.no >= DEFAULT_RULE.max_answers


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
    verdicts: dict[str, dict[tuple[int, int], Verdict]] = {}
    questions = VerificationQuestion.objects.filter(
        campaign=campaign, characteristic_a__isnull=False, characteristic_b__isnull=False
    ).only("yes", "no", "kind", "distance", "prior", "characteristic_a_id", "characteristic_b_id")
    for q in questions:
        v = question_verdict(q)
        a, b = line_of.get(q.characteristic_a_id), line_of.get(q.characteristic_b_id)
        if v.same is None or a is None or b is None or a[0] != b[0]:
            continue
        verdicts.setdefault(a[0], {})[(a[1], b[1])] = v
    # clearest first, a verdict contradicting clearer ones left out (transitively)
    known = {cls: Knowledge(v) for cls, v in verdicts.items()}
    empty = Knowledge()

    return {
        cls: LineSignals(
            rounds=tuple(r["round_id"] for r in rows),
            maps=tuple(r["round__cluster_map_id"] for r in rows),
            must_link=known.get(cls, empty).must_link,
            cannot_link=known.get(cls, empty).cannot_link,
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
        asked = {(a, b): q for (c, a, b), q in answers.items() if c == cls}
        for q in uncertain_pairs(
            keys,
            dist,
            labels,
            threshold=settings.threshold,
            counts=counts,
            known=Knowledge({pair: question_verdict(q) for pair, q in asked.items()}),
            exclude=[frozenset(pair) for pair, q in asked.items() if question_closed(q)],
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


def verification_answered_pairs(*, player, campaign_id: int, class_name: str) -> set[tuple]:
    """The (key_a, key_b) pairs of the class's questions ``player`` has answered."""
    return set(
        VerificationAnswer.objects.filter(
            player=player, question__campaign_id=campaign_id, question__class_name=class_name
        ).values_list("question__key_a", "question__key_b")
    )
