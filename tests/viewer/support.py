"""A computed, played and processed campaign for the viewer tests (factories + real processing).

Images get real cluster maps (so merged maps render), a Grad-CAM overlay per layer, and rounds
with characteristics that processing turns into label groups, scores, merged groups and global
labels (with the fast hashing embedder).
"""

from __future__ import annotations

import numpy as np

from explanations.arrays import array_to_bytes
from tests.factories import (
    CampaignFactory,
    PlayerFactory,
    jpeg_bytes,
    make_finished_round,
    make_image_items,
    store,
)

SPRINGER = "English springer"
TRUCK = "garbage truck"

# (class, layer position, cluster index) -> texts typed by successive players
PLAYS = {
    (SPRINGER, 0, 0): [["floppy ears", "fur"], ["ears", "brown fur"]],
    (SPRINGER, 0, 1): [["floppy ears"], ["fur"]],
    (SPRINGER, 1, 0): [["fur", "eyes"]],
    (SPRINGER, 2, 0): [["dog face", "eyes"], ["eyes"]],
    (TRUCK, 0, 0): [["wheel", "tyre"], ["wheels"]],
    (TRUCK, 1, 1): [["wheel"]],
    (TRUCK, 2, 0): [["green bin"]],
}


def _with_maps(items, rng) -> None:
    layers = {}
    for cm in items:
        cm.map = array_to_bytes(rng.random((7, 7)).astype(np.float32))
        cm.overlay = store("overlays", jpeg_bytes(color=(40 * cm.index + 60, 80, 160)), ".jpg")
        cm.save(update_fields=["map", "overlay"])
        layers[cm.layer_result_id] = cm.layer_result
    for layer in layers.values():
        layer.gradcam_overlay = store("overlays", jpeg_bytes(color=(220, 200, 40)), ".jpg")
        layer.save(update_fields=["gradcam_overlay"])


def played_campaign(*, layers: int = 3, clusters: int = 3, process: bool = True):
    """A published campaign, one springer and one truck image, played and processed."""
    from processing import services
    from processing.nlp.embed import HashingEmbedder

    rng = np.random.default_rng(0)
    campaign = CampaignFactory(
        name="Played campaign",
        slug="played-campaign",
        explained_layers=[f"layer{i + 1}" for i in range(layers)],
    )
    images = {}
    for cls in (SPRINGER, TRUCK):
        items = make_image_items(
            campaign=campaign,
            layers=layers,
            clusters=clusters,
            true_class=cls,
            original_name=f"{cls.split()[-1]}.png",
        )
        _with_maps(items, rng)
        images[cls] = items
    rounds = []
    for (cls, position, index), plays in PLAYS.items():
        cm = next(
            c for c in images[cls] if c.layer_result.position == position and c.index == index
        )
        for k, texts in enumerate(plays):
            rounds.append(
                make_finished_round(cluster_map=cm, player=PlayerFactory(), texts=texts, step=1 + k)
            )
    if process:
        embedder = HashingEmbedder()
        for rnd in rounds:
            services.round_process(round_id=rnd.pk, embedder=embedder)
    return campaign, images


def big_image(*, layers: int = 9, clusters: int = 8, labels: int = 5):
    """One image with ``layers`` × ``clusters`` cluster maps and processing records for each
    (stats, ``labels`` label scores, singles, one merged pair and the full merge per layer),
    written with bulk inserts: the viewer's query-count and timing fixture."""
    from explanations.models import ClusterMap, LayerResult
    from processing.models import ClusterLabelScore, ClusterStat, MergedGroup
    from tests.factories import CampaignImageFactory, ExplanationJobFactory

    rng = np.random.default_rng(1)
    names = [f"features.{i}" for i in range(layers)]
    campaign = CampaignFactory(name="Big", slug="big", explained_layers=names)
    image = CampaignImageFactory(campaign=campaign, original_name="big.png")
    job = ExplanationJobFactory(image=image)
    overlay = store("overlays", jpeg_bytes(color=(200, 60, 60)), ".jpg")
    gradcam = store("overlays", jpeg_bytes(color=(220, 200, 40)), ".jpg")
    frames = [store("frames", jpeg_bytes(shade=40 * s), ".jpg") for s in range(6)]
    layer_rows = LayerResult.objects.bulk_create(
        LayerResult(
            job=job,
            image=image,
            layer=name,
            position=p,
            n_channels=64,
            height=7,
            width=7,
            kept_channels=list(range(40)),
            retained_weight=90.0,
            shares=b"",
            gradcam=b"",
            gradcam_overlay=gradcam,
        )
        for p, name in enumerate(names)
    )
    weights = [30.0 - 3 * i for i in range(clusters)]
    cluster_rows = ClusterMap.objects.bulk_create(
        ClusterMap(
            layer_result=layer,
            image=image,
            index=i,
            channels=list(range(5 * i, 5 * i + 5)),
            weight=weights[i],
            n_maps=5,
            map=array_to_bytes(rng.random((7, 7)).astype(np.float32)),
            overlay=overlay,
            frames=frames,
        )
        for layer in layer_rows
        for i in range(clusters)
    )
    vocab = ["wheel", "fur", "ears", "eyes", "sky", "grass", "metal", "window", "road", "tail"]
    ClusterStat.objects.bulk_create(
        ClusterStat(
            cluster_map=c,
            image=image,
            rounds=3,
            wins=2,
            losses=1,
            resigns=0,
            mean_step=2.0,
            n_mentions=labels,
            best=[vocab[c.index % len(vocab)]],
            labelled=True,
        )
        for c in cluster_rows
    )
    ClusterLabelScore.objects.bulk_create(
        ClusterLabelScore(
            cluster_map=c,
            image=image,
            label=vocab[(c.index + k) % len(vocab)],
            mentions=3 - k // 2,
            mean_step=2.0,
            correct=True,
            score=2.5 - 0.4 * k,
            is_best=k == 0,
            rank=k,
        )
        for c in cluster_rows
        for k in range(labels)
    )
    groups = []
    for layer in layer_rows:
        members = [c for c in cluster_rows if c.layer_result_id == layer.pk]
        sets = [("full", members), ("merged", members[:2])] + [("single", [c]) for c in members[2:]]
        for kind, ms in sets:
            groups.append(
                MergedGroup(
                    image=image,
                    layer_result=layer,
                    layer=layer.layer,
                    kind=kind,
                    members_key=",".join(str(c.pk) for c in ms),
                    cluster_ids=[c.pk for c in ms],
                    weight=sum(c.weight for c in ms),
                    n_maps=5 * len(ms),
                    rounds=3 * len(ms),
                    wins=2 * len(ms),
                    losses=len(ms),
                    resigns=0,
                    mean_step=2.0,
                    scores=[[vocab[k], 2.5 - 0.4 * k, 2.5 * len(ms)] for k in range(labels)],
                    best=[vocab[0]],
                    labelled=True,
                )
            )
    MergedGroup.objects.bulk_create(groups)
    return campaign, image
