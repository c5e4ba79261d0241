"""One function per metric of a validation run (METHOD §10), each for one class of the run:

- :func:`faithfulness_measure`: deletion / insertion AUCs of every cluster map and Grad-CAM map,
  and each cluster's gain over its layer's Grad-CAM;
- :func:`human_metric_measure`: the crowd's rounds per cluster, summarised per layer and
  correlated with the faithfulness scores;
- :func:`tcav_measure`: TCAV of the class's top crowd labels at one layer;
- :func:`layer_summary_build`: the three joined per layer.

They return unsaved result rows; :mod:`validation.services` stores them. The compute is the pure
engine's (:mod:`workers.inv.faithfulness`, :mod:`workers.inv.tcav`: torch, imported where they
run; :mod:`workers.inv.human_metric`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explanations.models import Campaign
from workers.inv import human_metric as hm

from .inputs import Cluster, Layer, label_clusters, round_records
from .models import ClusterFaithfulness, HumanMetric, LayerSummary, TcavScore

SIMULATED_PREFIX = "simulated: "


@dataclass(frozen=True, eq=False)
class RunInputs:
    """What every metric of one run reads.

    ``views``: image id -> (H, W, 3) uint8 view; ``layers``: by name, in network order;
    ``class_of``: image id -> class; ``params``: the run's normalised parameters, with the engine's
    parameter objects built from them (``tcav_params``, ``faithfulness_params``) and the reveal
    ``percents`` and ``feather`` of the concept examples.
    """

    run_id: int
    campaign: Campaign
    model: object
    views: dict[int, np.ndarray]
    layers: dict[str, Layer]
    class_of: dict[int, str]
    params: dict
    tcav_params: object
    faithfulness_params: object
    percents: list[float]
    feather: str

    @property
    def simulated(self) -> bool:
        return int(self.params["simulate_rounds"]) > 0


@dataclass(frozen=True)
class HumanResult:
    """The human metric of one class: rows, and per (layer, class) the summary and the rank
    correlations of recognition with deletion and insertion AUC."""

    rows: list[HumanMetric]
    summaries: dict
    corr_deletion: dict
    corr_insertion: dict


def finite(x) -> float | None:
    """``x`` as a float, or None when missing or not finite (NaN, inf)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def simulate_rounds(
    clusters: list[tuple[int, str, str, float]], *, n: int, seed: int = 432
) -> list[hm.RoundRecord]:
    """Simulated rounds (no human data): ``n`` per cluster (id, layer, class, weight %).

    A seeded toy player: the chance of a correct guess grows with the cluster's weight and the
    reveal step of a win shrinks with it. Only for demonstrating the pipeline; every result
    computed from these rounds is marked ``simulated``.
    """
    out = []
    for cid, layer, class_name, weight in clusters:
        rng = np.random.default_rng([seed, int(cid)])
        p_win = 0.25 + 0.6 * min(max(weight, 0.0), 100.0) / 100.0
        for _ in range(n):
            u = rng.random()
            if u < p_win:
                step = int(min(5, rng.geometric(0.25 + 0.6 * weight / 100.0) - 1))
                out.append(hm.RoundRecord(cid, layer, class_name, "win", step))
            elif u < p_win + (1 - p_win) * 0.6:
                out.append(hm.RoundRecord(cid, layer, class_name, "loss", int(rng.integers(0, 6))))
            else:
                out.append(hm.RoundRecord(cid, layer, class_name, "resign", 5))
    return out


# --- faithfulness ------------------------------------------------------------------------------


def _image_maps(
    layers: dict[str, Layer], image_id: int
) -> tuple[list[np.ndarray], list[tuple[Layer, Cluster | None]]]:
    """Every map of one image, layer by layer (Grad-CAM first), and its (layer, cluster) key."""
    maps, keys = [], []
    for lay in layers.values():
        if image_id in lay.gradcam:
            maps.append(lay.gradcam[image_id])
            keys.append((lay, None))
        for cl in lay.clusters:
            if cl.image_id == image_id:
                maps.append(cl.map)
                keys.append((lay, cl))
    return maps, keys


def faithfulness_measure(
    *, inputs: RunInputs, class_name: str, target: int, image_ids: list[int]
) -> tuple[list[ClusterFaithfulness], dict[int, tuple[float, float]]]:
    """Deletion / insertion of every map of the class's images (one batched engine call per
    image); returns the rows and cluster id -> (deletion AUC, insertion AUC)."""
    from workers.inv import faithfulness as fa  # torch: imported where it runs

    rows: list[ClusterFaithfulness] = []
    by_cluster: dict[int, tuple[float, float]] = {}
    for img_id in image_ids:
        maps, keys = _image_maps(inputs.layers, img_id)
        if not maps:
            continue
        res = fa.deletion_insertion(
            inputs.model, inputs.views[img_id], maps, target, params=inputs.faithfulness_params
        )
        gc_by_layer = {k[0].layer: m for k, m in zip(keys, res.maps, strict=True) if k[1] is None}
        for (lay, cl), m in zip(keys, res.maps, strict=True):
            row = ClusterFaithfulness(
                run_id=inputs.run_id,
                class_name=class_name,
                layer=lay.layer,
                layer_position=lay.position,
                image_id=img_id,
                kind="gradcam" if cl is None else "cluster",
                cluster_id=None if cl is None else cl.id,
                cluster_index=None if cl is None else cl.index,
                full_probability=res.full_probability,
                deletion_auc=m.deletion_auc,
                insertion_auc=m.insertion_auc,
            )
            gc = gc_by_layer.get(lay.layer)
            if cl is not None:
                by_cluster[cl.id] = (m.deletion_auc, m.insertion_auc)
                if gc is not None:
                    comp = fa.compare_to_gradcam(
                        m,
                        gc,
                        cluster_index=cl.index,
                        full_probability=res.full_probability,
                        insertion_base_probability=res.insertion_base_probability,
                    )
                    row.deletion_gain = finite(comp.deletion_gain)
                    row.insertion_gain = finite(comp.insertion_gain)
                    row.deletion_ratio = finite(comp.deletion_ratio)
                    row.insertion_ratio = finite(comp.insertion_ratio)
            rows.append(row)
    return rows, by_cluster


# --- human metric ------------------------------------------------------------------------------


def human_metric_measure(
    *,
    inputs: RunInputs,
    class_name: str,
    image_ids: list[int],
    faithfulness: dict[int, tuple[float, float]],
) -> HumanResult:
    """The crowd's rounds (or simulated ones) on the class's clusters, per cluster, summarised
    per layer and rank-correlated with the clusters' ``faithfulness`` (id -> deletion, insertion)."""
    ids = set(image_ids)
    cluster_info = {
        cl.id: (class_name, lay.layer, cl.weight)
        for lay in inputs.layers.values()
        for cl in lay.clusters
        if cl.image_id in ids
    }
    if inputs.simulated:
        records = simulate_rounds(
            [(cid, lay, c, w) for cid, (c, lay, w) in cluster_info.items()],
            n=int(inputs.params["simulate_rounds"]),
            seed=int(inputs.params["tcav"].get("seed", 432)),
        )
    else:
        records = round_records(inputs.campaign, {k: (v[0], v[1]) for k, v in cluster_info.items()})
    metrics = hm.aggregate_rounds(records)
    rows = [
        HumanMetric(
            run_id=inputs.run_id,
            class_name=class_name,
            layer=m.layer,
            cluster_id=m.cluster,
            simulated=inputs.simulated,
            rounds=m.rounds,
            wins=m.wins,
            losses=m.losses,
            resigns=m.resigns,
            correct_share=m.correct_share,
            guess_accuracy=finite(m.guess_accuracy),
            mean_correct_step=finite(m.mean_correct_step),
            recognition=m.recognition,
        )
        for m in metrics
    ]
    return HumanResult(
        rows=rows,
        summaries={(s.layer, s.class_name): s for s in hm.summarise(metrics)},
        corr_deletion=hm.correlate_by_group(metrics, {k: v[0] for k, v in faithfulness.items()}),
        corr_insertion=hm.correlate_by_group(metrics, {k: v[1] for k, v in faithfulness.items()}),
    )


# --- TCAV --------------------------------------------------------------------------------------


def _concept_views(inputs: RunInputs, clusters: list[Cluster]) -> list[np.ndarray]:
    """The reveal views (one per percent) of ``clusters``' images through their maps."""
    from workers.inv import tcav  # torch: imported where it runs

    return [
        v
        for cl in clusters
        for v in tcav.masked_views(
            inputs.views[cl.image_id], cl.map, inputs.percents, feather=inputs.feather
        )
    ]


def _tcav_concepts(
    inputs: RunInputs, class_name: str, layer: Layer, own: list[Cluster]
) -> tuple[dict[str, list[np.ndarray]], dict[str, tuple[float, int]], set[int]]:
    """Concept examples per label (at least 2), label -> (G(s), INV rank), and the ids of the
    clusters carrying a label. Without crowd labels in a simulated run: one simulated concept per
    cluster rank (clearly labelled)."""
    concepts: dict[str, list[np.ndarray]] = {}
    inv: dict[str, tuple[float, int]] = {}
    carrying: set[int] = set()
    labelled = label_clusters(
        inputs.campaign,
        class_name,
        layer.layer,
        {cl.id for cl in own},
        int(inputs.params["top_labels"]),
    )
    by_id = {cl.id: cl for cl in layer.clusters}
    for label, total, rank, ids in labelled:
        concepts[label] = _concept_views(inputs, [by_id[cid] for cid in ids])
        inv[label] = (total, rank)
        carrying.update(ids)
    if not concepts and inputs.simulated:
        for index in sorted({cl.index for cl in own}):
            members = [cl for cl in own if cl.index == index]
            concepts[f"{SIMULATED_PREFIX}cluster {index}"] = _concept_views(inputs, members)
    return {k: v for k, v in concepts.items() if len(v) >= 2}, inv, carrying


def _tcav_random_views(
    inputs: RunInputs, class_name: str, layer: Layer, own: list[Cluster], carrying: set[int]
) -> list[np.ndarray]:
    """Up to ``pool_size`` random views (seeded per layer) of other classes' clusters that carry
    no label; with too few other images, the class's own clusters that carry no label too."""
    from workers.inv import tcav  # torch: imported where it runs

    rng = np.random.default_rng([int(inputs.tcav_params.seed), layer.position])
    others = [
        cl
        for cl in layer.clusters
        if inputs.class_of.get(cl.image_id) != class_name and cl.id not in carrying
    ]
    if len(others) * len(inputs.percents) < 4:
        seen = {cl.id for cl in others}
        others += [cl for cl in own if cl.id not in carrying and cl.id not in seen]
    pool: list[np.ndarray] = []
    for k in rng.permutation(len(others)):
        cl = others[int(k)]
        pool.extend(
            tcav.masked_views(
                inputs.views[cl.image_id], cl.map, inputs.percents, feather=inputs.feather
            )
        )
        if len(pool) >= int(inputs.params["pool_size"]):
            break
    return pool


def tcav_measure(
    *, inputs: RunInputs, class_name: str, target: int, image_ids: list[int], layer: Layer
) -> tuple[object | None, list[TcavScore], list[str]]:
    """TCAV of the class's top crowd labels at ``layer``, ranked against their INV scores.

    Returns (the engine's result or None, the score rows, notes on why nothing was tested).
    """
    from workers.inv import tcav  # torch: imported where it runs

    ids = set(image_ids)
    own = [cl for cl in layer.clusters if cl.image_id in ids]
    concepts, inv, carrying = _tcav_concepts(inputs, class_name, layer, own)
    pool = _tcav_random_views(inputs, class_name, layer, own, carrying)
    if not concepts:
        return None, [], ["no crowd label with examples at this layer"]
    if len(pool) < 4:
        return None, [], ["fewer than 4 random views"]
    result = tcav.run_tcav(
        inputs.model,
        layer.layer,
        target,
        concepts=concepts,
        random_views=pool,
        class_views=[inputs.views[i] for i in image_ids],
        params=inputs.tcav_params,
        ranking={k: v[0] for k, v in inv.items()} if inv else None,
    )
    rows = []
    for c in result.concepts:
        total_rank = inv.get(c.label)
        rows.append(
            TcavScore(
                run_id=inputs.run_id,
                class_name=class_name,
                layer=layer.layer,
                layer_position=layer.position,
                label=c.label[:200],
                simulated=c.label.startswith(SIMULATED_PREFIX),
                inv_score=None if total_rank is None else total_rank[0],
                inv_rank=None if total_rank is None else total_rank[1],
                score=c.score,
                score_std=finite(c.score_std),
                p_value=finite(c.p_value),
                p_adjusted=finite(c.p_adjusted),
                significant=c.significant,
                null_mean=finite(result.null_mean),
                cav_accuracy=finite(c.cav_accuracy),
                n_examples=c.n_examples,
                n_class_images=result.n_class_images,
            )
        )
    return result, rows, []


# --- per layer ---------------------------------------------------------------------------------


def _mean(values: list[float]) -> float | None:
    return finite(np.mean(values)) if values else None


def layer_summary_build(
    *,
    inputs: RunInputs,
    class_name: str,
    image_ids: list[int],
    layer: Layer,
    tcav_result,
    faithfulness_rows: list[ClusterFaithfulness],
    faithfulness: dict[int, tuple[float, float]],
    human: HumanResult,
    notes: list[str],
) -> LayerSummary:
    """The class's metrics at ``layer`` side by side: TCAV against INV, the mean AUCs of its
    clusters and of Grad-CAM, the pooled human metric and its correlations with the AUCs."""
    ids = set(image_ids)
    own = [cl for cl in layer.clusters if cl.image_id in ids]
    own_faith = [faithfulness[cl.id] for cl in own if cl.id in faithfulness]
    gcs = [
        (r.deletion_auc, r.insertion_auc)
        for r in faithfulness_rows
        if r.kind == "gradcam" and r.layer == layer.layer and r.class_name == class_name
    ]
    key = (layer.layer, class_name)
    hs = human.summaries.get(key)
    cd, ci = human.corr_deletion.get(key), human.corr_insertion.get(key)
    concepts = [] if tcav_result is None else tcav_result.concepts
    rank = None if tcav_result is None else tcav_result.rank
    return LayerSummary(
        run_id=inputs.run_id,
        class_name=class_name,
        layer=layer.layer,
        layer_position=layer.position,
        n_concepts=len(concepts),
        n_significant=sum(c.significant for c in concepts),
        tcav_inv_rho=None if rank is None else finite(rank.rho),
        tcav_inv_p=None if rank is None else finite(rank.p_value),
        tcav_inv_n=0 if rank is None else rank.n,
        n_clusters=len(own),
        mean_deletion_auc=_mean([d for d, _ in own_faith]),
        mean_insertion_auc=_mean([i for _, i in own_faith]),
        gradcam_deletion_auc=_mean([d for d, _ in gcs]),
        gradcam_insertion_auc=_mean([i for _, i in gcs]),
        human_rounds=0 if hs is None else hs.rounds,
        pooled_correct_share=None if hs is None else finite(hs.pooled_correct_share),
        mean_correct_step=None if hs is None else finite(hs.mean_correct_step),
        human_deletion_rho=None if cd is None else finite(cd.rho),
        human_insertion_rho=None if ci is None else finite(ci.rho),
        human_rho_n=0 if cd is None else cd.n,
        notes=notes,
    )
