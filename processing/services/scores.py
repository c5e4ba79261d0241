"""Cluster scores, cluster stats and merged groups (METHOD §7), recomputed from stored records.

:func:`images_score` reads the mentions and rounds of some images, runs the pure
:mod:`processing.scoring` on them and replaces the images' :class:`ClusterLabelScore`,
:class:`ClusterStat` and :class:`MergedGroup` rows. Every merged or full group is stored with
its map (the W-weighted mean of its members' maps), so pages only read it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np
from django.db.models import Q, QuerySet

from explanations.arrays import array_from_bytes, array_to_bytes
from explanations.models import Campaign, ClusterMap
from game.models import Round
from game.selectors import trust_min_counted
from processing import scoring
from processing.models import ClusterLabelScore, ClusterStat, LabelMention, MergedGroup
from processing.trust import effective_trust, label_weight

from .common import once_per_player, trust_weights

SCORED_OUTCOMES = (Round.Outcome.WIN, Round.Outcome.LOSS, Round.Outcome.RESIGN)

#: (layer result id, layer name) of each scored cluster map.
LayerOf = dict[int, tuple[int, str]]


def _clusters_query(campaign: Campaign) -> QuerySet[ClusterMap]:
    """The campaign's playable cluster maps and any cluster a finished round was played on."""
    played = Round.objects.filter(campaign=campaign, status=Round.Status.DONE).values(
        "cluster_map_id"
    )
    return ClusterMap.objects.current_for(campaign) | ClusterMap.objects.filter(pk__in=played)


def _map_of(data) -> np.ndarray | None:
    data = bytes(data or b"")
    if not data:
        return None
    try:
        return array_from_bytes(data)
    except ValueError:  # pragma: no cover - a corrupt map: shown without a merged map
        return None


def _clusters_read(
    campaign: Campaign, image_ids: set[int] | None, layer_result_ids: set[int] | None
) -> tuple[list[scoring.ClusterInfo], LayerOf]:
    """The clusters to score (with their maps) and the layer of each."""
    clusters = _clusters_query(campaign)
    if image_ids is not None:
        clusters = clusters.filter(image_id__in=image_ids)
    if layer_result_ids is not None:
        clusters = clusters.filter(layer_result_id__in=layer_result_ids)
    rows = list(
        clusters.values(
            "id",
            "image_id",
            "weight",
            "n_maps",
            "map",
            "layer_result_id",
            "layer_result__layer",
        ).order_by("image_id", "layer_result__position", "index")
    )
    layer_of = {c["id"]: (c["layer_result_id"], c["layer_result__layer"]) for c in rows}
    infos = [
        scoring.ClusterInfo(
            cluster_id=c["id"],
            image_id=c["image_id"],
            layer=str(c["layer_result_id"]),
            weight=float(c["weight"]),
            n_maps=int(c["n_maps"]),
            map=_map_of(c["map"]),
        )
        for c in rows
    ]
    return infos, layer_of


def _mentions_read(
    campaign: Campaign,
    image_ids: set[int] | None,
    layer_result_ids: set[int] | None,
    layer_of: LayerOf,
) -> tuple[list[scoring.Mention], dict[tuple[int, str], set[int]], Counter[int]]:
    """The accepted mentions in unblocked groups on the scored clusters, each with its label
    and its player's trust weight; the groups shown under each (cluster, label); the mentions
    per cluster."""
    mentions = LabelMention.objects.filter(
        campaign=campaign, refused_reason="", group__isnull=False, group__blocked=False
    )
    if image_ids is not None:
        mentions = mentions.filter(image_id__in=image_ids)
    if layer_result_ids is not None:
        mentions = mentions.filter(cluster_map__layer_result_id__in=layer_result_ids)
    groups_of: dict[tuple[int, str], set[int]] = defaultdict(set)
    out = []
    n_mentions: Counter[int] = Counter()
    weigh = trust_weights()
    min_counted = trust_min_counted()
    for m in mentions.values_list(
        "cluster_map_id",
        "group_id",
        "group__name",
        "group__canonical",
        "round__step",
        "round__outcome",
        "player_id",
        "player__trust",
        "player__trust_override",
        "player__is_blocked",
    ):
        cid, gid, name, canonical, step, outcome, player, trust, override, blocked = m
        if cid not in layer_of:
            continue
        label = name or canonical
        groups_of[(cid, label)].add(gid)
        n_mentions[cid] += 1
        weight = (
            label_weight(
                effective=effective_trust(trust=trust, override=override, blocked=blocked),
                min_counted=min_counted,
            )
            if weigh
            else 1.0
        )
        out.append(
            scoring.Mention(
                cluster_id=cid,
                label=label,
                step=min(int(step), scoring.MAX_STEP),
                correct=outcome == Round.Outcome.WIN,
                player_id=player,
                outcome=outcome,
                weight=weight,
            )
        )
    return out, groups_of, n_mentions


def _rounds_read(
    campaign: Campaign,
    image_ids: set[int] | None,
    layer_result_ids: set[int] | None,
    layer_of: LayerOf,
) -> list[scoring.RoundOutcome]:
    """The scored outcomes (win, loss, resign) of finished rounds on the scored clusters."""
    rounds = Round.objects.filter(
        campaign=campaign, status=Round.Status.DONE, outcome__in=SCORED_OUTCOMES
    )
    if image_ids is not None:
        rounds = rounds.filter(image_id__in=image_ids)
    if layer_result_ids is not None:
        rounds = rounds.filter(cluster_map__layer_result_id__in=layer_result_ids)
    return [
        scoring.RoundOutcome(
            cluster_id=cid, outcome=outcome, step=min(int(step), scoring.MAX_STEP), player_id=pid
        )
        for cid, outcome, step, pid in rounds.values_list(
            "cluster_map_id", "outcome", "step", "player_id"
        )
        if cid in layer_of
    ]


def _records_delete(
    campaign: Campaign, image_ids: set[int] | None, layer_result_ids: set[int] | None
) -> None:
    """Delete the stored scores, stats and merged groups of these images (or layers)."""
    scope = Q(image_id__in=image_ids) if image_ids is not None else Q(image__campaign=campaign)
    if layer_result_ids is not None:
        scope &= Q(cluster_map__layer_result_id__in=layer_result_ids)
    ClusterLabelScore.objects.filter(scope).delete()
    ClusterStat.objects.filter(scope).delete()
    merged_scope = (
        Q(image_id__in=image_ids) if image_ids is not None else Q(image__campaign=campaign)
    )
    if layer_result_ids is not None:
        merged_scope &= Q(layer_result_id__in=layer_result_ids)
    MergedGroup.objects.filter(merged_scope).delete()


def _cluster_records_create(
    results: Iterable[scoring.ClusterResult],
    groups_of: dict[tuple[int, str], set[int]],
    n_mentions: Counter[int],
) -> None:
    """Store each cluster's label scores (ranked) and stats."""
    score_rows, stat_rows = [], []
    for r in results:
        cid = r.cluster.cluster_id
        best = set(r.best)
        for rank, s in enumerate(r.scores):
            score_rows.append(
                ClusterLabelScore(
                    cluster_map_id=cid,
                    image_id=r.cluster.image_id,
                    label=s.label,
                    group_ids=sorted(groups_of[(cid, s.label)]),
                    mentions=s.mentions,
                    mean_step=s.mean_step,
                    correct=s.correct,
                    score=s.score,
                    is_best=s.label in best,
                    rank=rank,
                )
            )
        st = r.stats
        stat_rows.append(
            ClusterStat(
                cluster_map_id=cid,
                image_id=r.cluster.image_id,
                rounds=st.rounds,
                wins=st.wins,
                losses=st.losses,
                resigns=st.resigns,
                mean_step=st.mean_step,
                n_mentions=n_mentions[cid],
                best=list(r.best),
                labelled=r.labelled,
            )
        )
    ClusterLabelScore.objects.bulk_create(score_rows, batch_size=2000)
    ClusterStat.objects.bulk_create(stat_rows, batch_size=2000)


def merged_group_row(g: scoring.MergedGroup, layer_of: LayerOf) -> MergedGroup:
    """An unsaved MergedGroup of a computed group. Its map is the group's W-weighted mean map;
    empty for a single cluster (whose own map is the cluster's) or when a member has no map."""
    layer_result_id, layer = layer_of[g.cluster_ids[0]]
    sums = dict(g.score_sums)
    return MergedGroup(
        image_id=g.image_id,
        layer_result_id=layer_result_id,
        layer=layer,
        kind=g.kind,
        members_key=",".join(str(c) for c in sorted(g.cluster_ids)),
        cluster_ids=list(g.cluster_ids),
        weight=g.weight,
        n_maps=g.n_maps,
        rounds=g.rounds,
        wins=g.wins,
        losses=g.losses,
        resigns=g.resigns,
        mean_step=g.mean_step,
        scores=[[label, v, sums[label]] for label, v in g.scores],
        best=list(g.best),
        labelled=g.labelled,
        map=array_to_bytes(g.map) if g.map is not None and g.kind != "single" else b"",
    )


def images_score(
    *,
    campaign: Campaign,
    image_ids: set[int] | None,
    layer_result_ids: set[int] | None = None,
) -> int:
    """Recompute cluster scores, stats and merged groups (METHOD §7) of some images (None: all),
    optionally only of some of their layers (merges never cross a layer).

    Returns the number of clusters scored.
    """
    infos, layer_of = _clusters_read(campaign, image_ids, layer_result_ids)
    mentions, groups_of, n_mentions = _mentions_read(
        campaign, image_ids, layer_result_ids, layer_of
    )
    rounds = _rounds_read(campaign, image_ids, layer_result_ids, layer_of)
    results = scoring.score_clusters(infos, mentions, rounds, once_per_player=once_per_player())
    merged = scoring.merge_clusters(results)
    full = scoring.full_merge(results)
    # Replace the stored records of these images (or layers).
    _records_delete(campaign, image_ids, layer_result_ids)
    _cluster_records_create(results, groups_of, n_mentions)
    MergedGroup.objects.bulk_create(
        [merged_group_row(g, layer_of) for g in (*merged, *full)], batch_size=1000
    )
    return len(results)
