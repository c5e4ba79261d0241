"""What researchers see (METHOD §9): the local viewer's cards and details, assembled from records.

Reads only (through :mod:`explanations.selectors` and :mod:`viewer.selectors`);
nothing here computes an explanation or a score. Three views of an image, per explained layer:

* **unmerged**: one card per cluster map, with its stats and label scores;
* **merged**: processing's merged groups (clusters whose best labels intersect) and the clusters
  left alone; before any label is processed, the clusters themselves;
* **full**: one card per layer (processing's full merge; before processing, all clusters).

Stable URLs (``/viewer/<campaign>/images/<id>/layers/<position>/clusters/<index>/`` and
``…/groups/<indexes joined by '-'>/``, ``…/groups/all/`` for the full merge) name clusters by
their index in the layer, so they survive a relabelling; a merged group's URL is its member set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse

from explanations.models import Campaign, CampaignImage, ClusterMap, ExplanationJob, LayerResult
from explanations.selectors import image_current_job, image_layers
from processing.models import ClusterLabelScore, ClusterStat, MergedGroup

from . import charts, selectors

VIEWS = ("unmerged", "merged", "full")
VIEW_NAMES = {"unmerged": "Unmerged", "merged": "Merged", "full": "Full merge"}
CARD_LABELS = 3
DETAIL_LABELS = 10
MAX_STEP = 5


def media_url(name: str) -> str:
    return "/media/" + name if name else ""


@dataclass
class LabelBar:
    label: str
    score: float
    mentions: int | None = None
    mean_step: float | None = None
    correct: bool | None = None
    segments: list[tuple[int, float]] = field(default_factory=list)  # (cluster index, value)


@dataclass
class Card:
    kind: str  # "cluster", "single", "merged" or "full"
    campaign_slug: str
    image_id: int
    layer_position: int
    layer: str
    indexes: list[int]
    cluster_ids: list[int]
    weight: float
    n_maps: int
    channels: list[int]
    rounds: int
    wins: int
    losses: int
    resigns: int
    mean_step: float | None
    labels: list[LabelBar]
    best: list[str]
    overlay_url: str
    frames: list[str] = field(default_factory=list)  # storage names (single clusters only)
    overlay_name: str = ""  # storage name of a cluster's overlay (groups render theirs)

    @property
    def is_group(self) -> bool:
        return self.kind in ("merged", "full")

    @property
    def members_slug(self) -> str:
        if self.kind == "full":
            return "all"
        return "-".join(str(i) for i in self.indexes)

    @property
    def url(self) -> str:
        base = layer_url(self.campaign_slug, self.image_id, self.layer_position)
        if self.is_group:
            return f"{base}groups/{self.members_slug}/"
        return f"{base}clusters/{self.indexes[0]}/"

    @property
    def png_url(self) -> str:
        return self.url + "card.png"

    @property
    def json_url(self) -> str:
        return self.url + "card.json"

    @property
    def labelled(self) -> bool:
        return bool(self.labels)

    @property
    def top(self) -> list[LabelBar]:
        return self.labels[:CARD_LABELS]

    @property
    def top10(self) -> list[LabelBar]:
        return self.labels[:DETAIL_LABELS]

    @property
    def title(self) -> str:
        if self.kind == "full":
            return f"Full merge of {self.layer}"
        if self.kind == "merged":
            return f"Merged clusters {', '.join(str(i) for i in self.indexes)} of {self.layer}"
        return f"Cluster {self.indexes[0]} of {self.layer}"

    @property
    def frame_step(self) -> int:
        if self.mean_step is None:
            return MAX_STEP
        return max(0, min(MAX_STEP, round(self.mean_step)))

    @property
    def frame_url(self) -> str:
        return f"{self.url}frames/{self.frame_step}.jpg"


@dataclass
class LayerColumn:
    position: int
    layer: str
    n_channels: int
    n_kept: int
    height: int
    width: int
    retained_weight: float
    no_positive_evidence: bool
    gradcam_url: str
    cards: list[Card]
    url: str
    processed: bool


@dataclass
class ImageView:
    campaign: Campaign
    image: CampaignImage
    job: ExplanationJob | None
    view: str
    layers: list[LayerColumn]
    processed: bool
    max_score: float

    def column(self, position: int) -> LayerColumn | None:
        return next((c for c in self.layers if c.position == position), None)


def campaign_url(slug: str) -> str:
    return reverse("explanations:viewer-campaign", args=[slug])


def image_url(slug: str, image_id: int) -> str:
    return f"{campaign_url(slug)}images/{image_id}/"


def layer_url(slug: str, image_id: int, position: int) -> str:
    return f"{image_url(slug, image_id)}layers/{position}/"


# --- building cards ------------------------------------------------------------------------------


def _cluster_labels(scores: list[ClusterLabelScore], index: int) -> list[LabelBar]:
    return [
        LabelBar(
            label=s.label,
            score=float(s.score),
            mentions=s.mentions,
            mean_step=float(s.mean_step),
            correct=s.correct,
            segments=[(index, float(s.score))],
        )
        for s in sorted(scores, key=lambda s: (s.rank, -s.score, s.label))
    ]


def _cluster_card(
    campaign: Campaign,
    image: CampaignImage,
    layer: LayerResult,
    cluster: ClusterMap,
    stat: ClusterStat | None,
    scores: list[ClusterLabelScore],
) -> Card:
    return Card(
        kind="cluster",
        campaign_slug=campaign.slug,
        image_id=image.pk,
        layer_position=layer.position,
        layer=layer.layer,
        indexes=[cluster.index],
        cluster_ids=[cluster.pk],
        weight=float(cluster.weight),
        n_maps=cluster.n_maps,
        channels=list(cluster.channels),
        rounds=stat.rounds if stat else 0,
        wins=stat.wins if stat else 0,
        losses=stat.losses if stat else 0,
        resigns=stat.resigns if stat else 0,
        mean_step=stat.mean_step if stat else None,
        labels=_cluster_labels(scores, cluster.index),
        best=list(stat.best) if stat else [],
        overlay_url=media_url(cluster.overlay.name),
        frames=list(cluster.frames or []),
        overlay_name=cluster.overlay.name,
    )


def _group_labels(
    group_scores: list,
    members: list[ClusterMap],
    scores_of: dict[int, list[ClusterLabelScore]],
) -> list[LabelBar]:
    """score_M(s) per label (stored), stacked by member: W_C · score(C, s) / Σ W_C."""
    total_w = sum(float(c.weight) for c in members) or 1.0
    per_cluster: dict[str, list[tuple[int, float]]] = {}
    mentions: dict[str, int] = {}
    for c in members:
        for s in scores_of.get(c.pk, []):
            per_cluster.setdefault(s.label, []).append(
                (c.index, float(c.weight) * float(s.score) / total_w)
            )
            mentions[s.label] = mentions.get(s.label, 0) + s.mentions
    stored = [(str(row[0]), float(row[1])) for row in group_scores if len(row) >= 2]
    if not stored:
        stored = [(label, sum(v for _, v in segs)) for label, segs in per_cluster.items()]
    stored.sort(key=lambda x: (-x[1], x[0]))
    return [
        LabelBar(
            label=label,
            score=score,
            mentions=mentions.get(label),
            segments=sorted(per_cluster.get(label, []), key=lambda x: x[0]),
        )
        for label, score in stored
    ]


def _group_card(
    campaign: Campaign,
    image: CampaignImage,
    layer: LayerResult,
    group: MergedGroup,
    clusters: dict[int, ClusterMap],
    scores_of: dict[int, list[ClusterLabelScore]],
    stats: dict[int, ClusterStat],
) -> Card | None:
    members = [clusters[cid] for cid in group.cluster_ids if cid in clusters]
    if not members:
        return None
    members.sort(key=lambda c: c.index)
    if group.kind == MergedGroup.Kind.SINGLE and len(members) == 1:
        c = members[0]
        return _cluster_card(campaign, image, layer, c, stats.get(c.pk), scores_of.get(c.pk, []))
    card = Card(
        kind="full" if group.kind == MergedGroup.Kind.FULL else "merged",
        campaign_slug=campaign.slug,
        image_id=image.pk,
        layer_position=layer.position,
        layer=layer.layer,
        indexes=[c.index for c in members],
        cluster_ids=[c.pk for c in members],
        weight=float(group.weight),
        n_maps=group.n_maps,
        channels=sorted(ch for c in members for ch in c.channels),
        rounds=group.rounds,
        wins=group.wins,
        losses=group.losses,
        resigns=group.resigns,
        mean_step=group.mean_step,
        labels=_group_labels(group.scores, members, scores_of),
        best=list(group.best),
        overlay_url="",
    )
    card.overlay_url = card.url + "overlay.jpg"
    return card


def _virtual_full_card(
    campaign: Campaign,
    image: CampaignImage,
    layer: LayerResult,
    members: list[ClusterMap],
    stats: dict[int, ClusterStat],
    scores_of: dict[int, list[ClusterLabelScore]],
) -> Card:
    """The full merge of a layer before processing stored one: sums of the clusters."""
    stat_list = [stats[c.pk] for c in members if c.pk in stats]
    rounds = sum(s.rounds for s in stat_list)
    steps = [(s.mean_step, s.rounds) for s in stat_list if s.mean_step is not None and s.rounds]
    mean_step = sum(m * n for m, n in steps) / sum(n for _, n in steps) if steps else None
    card = Card(
        kind="full",
        campaign_slug=campaign.slug,
        image_id=image.pk,
        layer_position=layer.position,
        layer=layer.layer,
        indexes=[c.index for c in members],
        cluster_ids=[c.pk for c in members],
        weight=sum(float(c.weight) for c in members),
        n_maps=sum(c.n_maps for c in members),
        channels=sorted(ch for c in members for ch in c.channels),
        rounds=rounds,
        wins=sum(s.wins for s in stat_list),
        losses=sum(s.losses for s in stat_list),
        resigns=sum(s.resigns for s in stat_list),
        mean_step=mean_step,
        labels=_group_labels([], members, scores_of),
        best=[],
        overlay_url="",
    )
    card.overlay_url = card.url + "overlay.jpg"
    return card


def _layer_cards(
    view: str,
    campaign: Campaign,
    image: CampaignImage,
    layer: LayerResult,
    records: selectors.ImageLabelRecords,
) -> list[Card]:
    members = list(layer.clusters.all())
    by_id = {c.pk: c for c in members}
    groups = records.groups.get(layer.pk, [])
    if view == "unmerged" or (view == "merged" and not groups):
        cards = [
            _cluster_card(
                campaign, image, layer, c, records.stats.get(c.pk), records.scores.get(c.pk, [])
            )
            for c in members
        ]
    elif view == "merged":
        cards = [
            card
            for g in groups
            if g.kind in (MergedGroup.Kind.SINGLE, MergedGroup.Kind.MERGED)
            and (
                card := _group_card(campaign, image, layer, g, by_id, records.scores, records.stats)
            )
        ]
    else:
        full = next((g for g in groups if g.kind == MergedGroup.Kind.FULL), None)
        card = (
            _group_card(campaign, image, layer, full, by_id, records.scores, records.stats)
            if full
            else None
        )
        if card is None and members:
            card = _virtual_full_card(
                campaign, image, layer, members, records.stats, records.scores
            )
        cards = [card] if card else []
    cards.sort(key=lambda c: (-c.weight, c.indexes))
    return cards


def image_view_build(
    *, campaign: Campaign, image: CampaignImage, view: str = "unmerged"
) -> ImageView:
    """Every explained layer of an image as a column of cards (bounded number of queries)."""
    if view not in VIEWS:
        view = "unmerged"
    job = image_current_job(image=image, campaign=campaign)
    layers = image_layers(image=image, campaign=campaign)
    records = selectors.image_label_records(image=image, with_groups=view != "unmerged")
    columns = []
    for layer in layers:
        cards = _layer_cards(view, campaign, image, layer, records)
        columns.append(
            LayerColumn(
                position=layer.position,
                layer=layer.layer,
                n_channels=layer.n_channels,
                n_kept=len(layer.kept_channels),
                height=layer.height,
                width=layer.width,
                retained_weight=float(layer.retained_weight),
                no_positive_evidence=layer.no_positive_evidence,
                gradcam_url=media_url(layer.gradcam_overlay.name) if layer.gradcam_overlay else "",
                cards=cards,
                url=layer_url(campaign.slug, image.pk, layer.position),
                processed=bool(records.groups.get(layer.pk)) or any(c.rounds for c in cards),
            )
        )
    max_score = max(
        (bar.score for col in columns for card in col.cards for bar in card.top), default=0.0
    )
    return ImageView(
        campaign=campaign,
        image=image,
        job=job,
        view=view,
        layers=columns,
        processed=records.processed,
        max_score=max_score,
    )


# --- details -----------------------------------------------------------------------------------


@dataclass
class Detail:
    card: Card
    column: LayerColumn
    members: list[Card]
    chart: str
    frame_note: str

    @property
    def series(self) -> list[tuple[int, str]]:
        return [(m.indexes[0], f"cluster {m.indexes[0]}") for m in self.members]


def _parse_members(members: str) -> list[int] | None:
    if members == "all":
        return None
    try:
        indexes = sorted({int(p) for p in members.split("-")})
    except ValueError as exc:
        raise LookupError("Bad member list.") from exc
    if not indexes:
        raise LookupError("Bad member list.")
    return indexes


def detail_build(
    *, image_view: ImageView, position: int, cluster_index: int | None = None, members: str = ""
) -> Detail:
    """The detail of one cluster (``cluster_index``) or group (``members``) of a layer.

    Raises LookupError when the layer, cluster or group does not exist (a relabelling may have
    changed which clusters are merged: the caller says so).
    """
    column = image_view.column(position)
    if column is None:
        raise LookupError("This image has no such explained layer.")
    cluster_cards = {c.indexes[0]: c for c in _unmerged_cards_of(image_view, position)}
    if cluster_index is not None:
        card = cluster_cards.get(cluster_index)
        if card is None:
            raise LookupError("This layer has no such cluster.")
        member_cards = [card]
    else:
        wanted = _parse_members(members)
        card = _group_of(image_view, position, wanted)
        if card is None:
            raise LookupError(
                "No merged group has exactly these clusters now (labels may have changed)."
            )
        member_cards = [cluster_cards[i] for i in card.indexes if i in cluster_cards]
    rows = [
        charts.StackedRow(label=bar.label, total=bar.score, segments=bar.segments)
        for bar in card.top10
    ]
    series = [(m.indexes[0], f"cluster {m.indexes[0]} (w {m.weight:.0f}%)") for m in member_cards]
    chart = charts.stacked_bars(
        rows,
        series=series,
        title=f"Top {len(rows)} label scores of {card.title}"
        + (", stacked by sub-cluster" if len(series) > 1 else ""),
    )
    note = (
        f"as revealed at step {card.frame_step} (mean step {card.mean_step:.1f})"
        if card.mean_step is not None
        else f"not played yet: shown at the last step ({MAX_STEP})"
    )
    return Detail(card=card, column=column, members=member_cards, chart=chart, frame_note=note)


def _unmerged_cards_of(image_view: ImageView, position: int) -> list[Card]:
    """The cluster cards of a layer, whatever the current view (built from the same records)."""
    column = image_view.column(position)
    if image_view.view == "unmerged":
        return column.cards
    return _cache_unmerged(image_view).get(position, [])


def _cache_unmerged(image_view: ImageView) -> dict[int, list[Card]]:
    cached = getattr(image_view, "_unmerged", None)
    if cached is None:
        other = image_view_build(
            campaign=image_view.campaign, image=image_view.image, view="unmerged"
        )
        cached = {col.position: col.cards for col in other.layers}
        image_view._unmerged = cached  # type: ignore[attr-defined]
    return cached


def _group_of(image_view: ImageView, position: int, wanted: list[int] | None) -> Card | None:
    """The group card with exactly these members (None: the full merge) in the merged/full view."""
    view = "full" if wanted is None else "merged"
    if image_view.view == view:
        column = image_view.column(position)
    else:
        other = image_view_build(campaign=image_view.campaign, image=image_view.image, view=view)
        column = other.column(position)
    if column is None:
        return None
    for card in column.cards:
        if wanted is None and card.kind == "full":
            return card
        if wanted is not None and card.is_group and card.indexes == wanted:
            return card
    return None


def card_data(card: Card, *, campaign: Campaign, image: CampaignImage) -> dict:
    """The JSON of a card (what its download holds)."""
    return {
        "campaign": campaign.slug,
        "image": {
            "id": image.pk,
            "name": image.original_name,
            "true_class": image.true_class,
            "predicted_class": image.predicted_class,
            "target_class": image.target_class,
        },
        "layer": card.layer,
        "layer_position": card.layer_position,
        "kind": card.kind,
        "clusters": card.indexes,
        "weight": round(card.weight, 4),
        "n_maps": card.n_maps,
        "channels": card.channels,
        "rounds": card.rounds,
        "wins": card.wins,
        "losses": card.losses,
        "resigns": card.resigns,
        "mean_step": card.mean_step,
        "best_labels": card.best,
        "labels": [
            {
                "label": bar.label,
                "score": round(bar.score, 6),
                "mentions": bar.mentions,
                "mean_step": bar.mean_step,
                "correct": bar.correct,
                "by_cluster": [{"cluster": i, "value": round(v, 6)} for i, v in bar.segments],
            }
            for bar in card.labels
        ],
        "url": card.url,
        "overlay_url": card.overlay_url,
    }
