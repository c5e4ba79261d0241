"""Writes of the validation app: create, run and store a campaign validation (METHOD §10).

The heavy compute lives in the pure engine (:mod:`workers.inv.tcav`,
:mod:`workers.inv.faithfulness`, :mod:`workers.inv.human_metric`); this module gathers the
campaign's data (views, cluster maps, crowd labels, rounds), calls the engine and stores every
result in one transaction at the end: a failed run keeps its error and no result rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from explanations.arrays import array_from_bytes
from explanations.models import Campaign, CampaignImage, ClusterMap, ExplanationJob, LayerResult
from explanations.selectors import model_source_for_spec
from game.models import Round
from netviz_site.errors import ApplicationError
from processing.models import ClusterLabelScore, GlobalLabel
from workers.inv import human_metric as hm

from .models import ClusterFaithfulness, HumanMetric, LayerSummary, TcavScore, ValidationRun

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

DEFAULT_PARAMS: dict = {
    "steps": 20,  # deletion / insertion steps (S)
    "percents": [13.0, 20.0, 30.0],  # reveal percents of a concept example (one view each)
    "top_labels": 8,  # canonical labels tested per class and layer (by INV rank)
    "pool_size": 60,  # at most this many random views per layer
    "max_images": None,  # at most this many images per class (None: all)
    "simulate_rounds": 0,  # > 0: simulated rounds per cluster (command only; labelled)
    "tcav": {"n_runs": 10, "n_null_sets": 10, "set_size": 50, "seed": 432},
}
SIMULATED_PREFIX = "simulated: "


def _params_normalise(params: dict | None) -> dict:
    out = json.loads(json.dumps(DEFAULT_PARAMS))
    for key, value in (params or {}).items():
        if key not in DEFAULT_PARAMS:
            raise ApplicationError(f"Unknown validation parameter {key!r}.")
        if key == "tcav":
            out["tcav"].update(value or {})
        else:
            out[key] = value
    from workers.inv import faithfulness as fa  # torch: imported where it runs
    from workers.inv import tcav

    fa.FaithfulnessParams(steps=int(out["steps"]))  # validates
    tcav.TcavParams(**out["tcav"])  # validates
    if out["max_images"] is not None and int(out["max_images"]) < 1:
        raise ApplicationError("max_images must be ≥ 1.")
    if int(out["simulate_rounds"]) < 0:
        raise ApplicationError("simulate_rounds must be ≥ 0.")
    return out


def _hash(params: dict, class_name: str) -> str:
    blob = json.dumps({"params": params, "class": class_name}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def validation_run_create(
    *,
    campaign: Campaign,
    class_name: str = "",
    params: dict | None = None,
    user=None,
) -> ValidationRun:
    """A pending run for one class ("" = every class) of ``campaign``."""
    class_name = (class_name or "").strip()
    if class_name and class_name not in _campaign_classes(campaign):
        raise ApplicationError(f"'{class_name}' is not a class of this campaign.")
    try:
        normalised = _params_normalise(params)
    except (TypeError, ValueError) as exc:
        raise ApplicationError(f"Invalid validation parameters: {exc}") from exc
    return ValidationRun.objects.create(
        campaign=campaign,
        class_name=class_name,
        params=normalised,
        params_hash=_hash(normalised, class_name),
        simulated=int(normalised["simulate_rounds"]) > 0,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def validation_run_enqueue(*, run: ValidationRun) -> None:
    """Send the run to the workers once the current transaction commits."""
    from workers.tasks import validate_campaign

    run_id = run.pk
    queue = getattr(settings, "NETVIZ_EXPLAIN_QUEUE", None)
    transaction.on_commit(lambda: validate_campaign.apply_async(args=[run_id], queue=queue))


def validation_run_fail(*, run_id: int, error: str) -> None:
    ValidationRun.objects.filter(pk=run_id).exclude(status=ValidationRun.Status.DONE).update(
        status=ValidationRun.Status.FAILED, error=error[:5000], finished_at=timezone.now()
    )


def _progress_update(run_id: int, fraction: float, stage: str) -> None:
    ValidationRun.objects.filter(pk=run_id).update(
        progress=round(max(0.0, min(1.0, fraction)), 4), stage=stage[:200]
    )


# --- gathering the campaign's data -------------------------------------------------------------


def _image_class(image: CampaignImage) -> str:
    return image.true_class or image.target_class


def _campaign_classes(campaign: Campaign) -> list[str]:
    names = set(campaign.classes or [])
    for t, p in CampaignImage.objects.filter(campaign=campaign).values_list(
        "true_class", "target_class"
    ):
        if t or p:
            names.add(t or p)
    return sorted(names)


def _done_images(campaign: Campaign) -> list[CampaignImage]:
    return list(
        CampaignImage.objects.filter(
            campaign=campaign,
            jobs__params_hash=campaign.params_hash,
            jobs__status=ExplanationJob.Status.DONE,
        )
        .exclude(view_file="")
        .order_by("id")
        .distinct()
    )


def _load_view(image: CampaignImage) -> np.ndarray:
    from PIL import Image

    with image.view_file.open("rb") as fh:
        return np.asarray(Image.open(fh).convert("RGB"), dtype=np.uint8)


@dataclass(eq=False)
class _Cluster:
    id: int
    image_id: int
    index: int
    weight: float
    map: np.ndarray


@dataclass
class _Layer:
    layer: str
    position: int
    gradcam: dict[int, np.ndarray] = field(default_factory=dict)  # image id -> map
    clusters: list[_Cluster] = field(default_factory=list)


def _layers_for(campaign: Campaign, image_ids: list[int]) -> dict[str, _Layer]:
    layers: dict[str, _Layer] = {}
    results = LayerResult.objects.filter(
        image_id__in=image_ids,
        job__params_hash=campaign.params_hash,
        job__status=ExplanationJob.Status.DONE,
    ).order_by("position", "image_id")
    for lr in results.only("id", "image_id", "layer", "position", "gradcam"):
        entry = layers.setdefault(lr.layer, _Layer(lr.layer, lr.position))
        if lr.gradcam:
            entry.gradcam[lr.image_id] = array_from_bytes(lr.gradcam).astype(np.float32)
    clusters = ClusterMap.objects.filter(layer_result__in=results).select_related("layer_result")
    for cm in clusters.only(
        "id", "image_id", "index", "weight", "map", "layer_result__layer", "layer_result__position"
    ).order_by("image_id", "layer_result__position", "index"):
        if not cm.map:
            continue
        layers[cm.layer_result.layer].clusters.append(
            _Cluster(
                cm.pk,
                cm.image_id,
                cm.index,
                float(cm.weight),
                array_from_bytes(cm.map).astype(np.float32),
            )
        )
    return dict(sorted(layers.items(), key=lambda kv: kv[1].position))


def _round_records(campaign: Campaign, cluster_class: dict[int, tuple[str, str]]) -> list:
    rows = Round.objects.filter(
        campaign=campaign,
        status=Round.Status.DONE,
        outcome__in=[Round.Outcome.WIN, Round.Outcome.LOSS, Round.Outcome.RESIGN],
        cluster_map_id__in=list(cluster_class),
    ).values_list("cluster_map_id", "outcome", "step")
    return [
        hm.RoundRecord(cid, cluster_class[cid][1], cluster_class[cid][0], outcome, min(int(s), 5))
        for cid, outcome, s in rows
    ]


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


def _label_clusters(
    campaign: Campaign, class_name: str, layer: str, cluster_ids: set[int], top: int
) -> list[tuple[str, float, int, list[int]]]:
    """(label, G(s), INV rank, cluster ids carrying it) of the class's top labels at ``layer``."""
    labels = list(
        GlobalLabel.objects.filter(campaign=campaign, class_name=class_name, layer=layer)
        .order_by("rank")
        .values_list("label", "total", "rank", "examples")[:top]
    )
    if not labels:
        return []
    carriers: dict[str, set[int]] = defaultdict(set)
    for label, cid in ClusterLabelScore.objects.filter(
        cluster_map_id__in=cluster_ids, label__in=[lab for lab, *_ in labels]
    ).values_list("label", "cluster_map_id"):
        carriers[label].add(cid)
    out = []
    for label, total, rank, examples in labels:
        ids = set(carriers.get(label, set()))
        for ex in examples or []:
            ids.update(c for c in ex.get("clusters", []) if c in cluster_ids)
        if ids:
            out.append((label, float(total), int(rank), sorted(ids)))
    return out


def _f(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# --- the run -----------------------------------------------------------------------------------


@dataclass
class _Rows:
    tcav: list[TcavScore] = field(default_factory=list)
    faith: list[ClusterFaithfulness] = field(default_factory=list)
    human: list[HumanMetric] = field(default_factory=list)
    layers: list[LayerSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _claim(run_id: int) -> ValidationRun | None:
    with transaction.atomic():
        run = ValidationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status == ValidationRun.Status.DONE:
            return None
        run.status = ValidationRun.Status.RUNNING
        run.started_at = timezone.now()
        run.progress = 0.0
        run.error = ""
        run.save(update_fields=["status", "started_at", "progress", "error"])
    return run


def validation_run_execute(
    *, run_id: int, progress: Progress | None = None, device: str | None = None
) -> str:
    """Compute and store a run: "done", "skipped" (missing or already done) or "failed"."""
    from workers.runtime import model_get

    run = _claim(run_id)
    if run is None:
        return "skipped"

    def report(fraction: float, stage: str) -> None:
        _progress_update(run_id, fraction, stage)
        if progress is not None:
            progress(fraction, stage)

    t0 = time.perf_counter()
    try:
        campaign = Campaign.objects.select_related("model").get(pk=run.campaign_id)
        model = model_get(model_source_for_spec(campaign.model), device=device)
        rows, timings = _compute(run, campaign, model, report)
    except (OperationalError, InterfaceError):
        raise  # transient: the task retries (a running run can be claimed again)
    except Exception as exc:
        logger.exception("validation run %s failed", run_id)
        validation_run_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    timings["total"] = time.perf_counter() - t0
    with transaction.atomic():
        locked = ValidationRun.objects.select_for_update().get(pk=run_id)
        if locked.status == ValidationRun.Status.DONE:
            return "skipped"
        for model_cls in (TcavScore, ClusterFaithfulness, HumanMetric, LayerSummary):
            model_cls.objects.filter(run_id=run_id).delete()
        TcavScore.objects.bulk_create(rows.tcav)
        ClusterFaithfulness.objects.bulk_create(rows.faith)
        HumanMetric.objects.bulk_create(rows.human)
        LayerSummary.objects.bulk_create(rows.layers)
        locked.status = ValidationRun.Status.DONE
        locked.progress = 1.0
        locked.stage = "done"
        locked.finished_at = timezone.now()
        locked.timings = {k: round(v, 3) for k, v in timings.items()}
        locked.summary = {
            "tcav_scores": len(rows.tcav),
            "faithfulness": len(rows.faith),
            "human_metrics": len(rows.human),
            "layers": len(rows.layers),
            "notes": rows.notes[:200],
        }
        locked.save()
    if progress is not None:
        progress(1.0, "done")
    return "done"


def _reveal_feather(campaign: Campaign) -> str:
    """The campaign's reveal feathering (its frames'), for the TCAV concept examples."""
    from workers.inv.types import EngineParams

    try:
        return EngineParams.from_dict(dict(campaign.engine_params)).reveal_feather
    except ValueError:
        return EngineParams().reveal_feather


def _compute(run: ValidationRun, campaign: Campaign, model, report: Progress):
    p = run.params
    from workers.inv import faithfulness as fa
    from workers.inv import tcav

    tparams = tcav.TcavParams(**p["tcav"])
    feather = _reveal_feather(campaign)
    fparams = fa.FaithfulnessParams(steps=int(p["steps"]))
    percents = [float(x) for x in p["percents"]]
    rows = _Rows()
    timings: dict[str, float] = defaultdict(float)

    images = _done_images(campaign)
    by_class: dict[str, list[CampaignImage]] = defaultdict(list)
    for img in images:
        by_class[_image_class(img)].append(img)
    classes = [run.class_name] if run.class_name else sorted(by_class)
    if run.class_name and not by_class.get(run.class_name):
        raise ApplicationError(f"No explained image of class '{run.class_name}'.")
    max_images = p.get("max_images")
    if max_images:
        by_class = {c: imgs[: int(max_images)] for c, imgs in by_class.items()}
    # views and layers of every image used (class images, and other images for random sets)
    used = [img for imgs in by_class.values() for img in imgs]
    views = {img.pk: _load_view(img) for img in used}
    layers = _layers_for(campaign, [img.pk for img in used])
    class_of = {img.pk: _image_class(img) for img in used}
    names = list(model.class_names)

    n_steps = max(1, len(classes) * (len(layers) + 1))
    done = 0
    for class_name in classes:
        if class_name not in names:
            rows.notes.append(f"{class_name}: not a model class, skipped")
            continue
        target = names.index(class_name)
        class_ids = [img.pk for img in by_class[class_name]]
        class_views = [views[i] for i in class_ids]
        # --- faithfulness (per image, every layer in one batched call)
        faith_by_cluster: dict[int, tuple[float, float]] = {}
        t = time.perf_counter()
        for img_id in class_ids:
            maps, keys = [], []
            for lay in layers.values():
                if img_id in lay.gradcam:
                    maps.append(lay.gradcam[img_id])
                    keys.append((lay, None))
                for cl in lay.clusters:
                    if cl.image_id == img_id:
                        maps.append(cl.map)
                        keys.append((lay, cl))
            if not maps:
                continue
            res = fa.deletion_insertion(model, views[img_id], maps, target, params=fparams)
            gc_by_layer = {
                k[0].layer: m for k, m in zip(keys, res.maps, strict=True) if k[1] is None
            }
            for (lay, cl), m in zip(keys, res.maps, strict=True):
                row = ClusterFaithfulness(
                    run_id=run.pk,
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
                    faith_by_cluster[cl.id] = (m.deletion_auc, m.insertion_auc)
                    if gc is not None:
                        comp = fa.compare_to_gradcam(
                            m,
                            gc,
                            cluster_index=cl.index,
                            full_probability=res.full_probability,
                            insertion_base_probability=res.insertion_base_probability,
                        )
                        row.deletion_gain = _f(comp.deletion_gain)
                        row.insertion_gain = _f(comp.insertion_gain)
                        row.deletion_ratio = _f(comp.deletion_ratio)
                        row.insertion_ratio = _f(comp.insertion_ratio)
                rows.faith.append(row)
        timings["faithfulness"] += time.perf_counter() - t
        done += 1
        report(done / n_steps, f"{class_name}: faithfulness of {len(class_ids)} images")

        # --- human metric
        cluster_info = {
            cl.id: (class_name, lay.layer, cl.weight)
            for lay in layers.values()
            for cl in lay.clusters
            if cl.image_id in set(class_ids)
        }
        if int(p["simulate_rounds"]) > 0:
            records = simulate_rounds(
                [(cid, lay, c, w) for cid, (c, lay, w) in cluster_info.items()],
                n=int(p["simulate_rounds"]),
                seed=int(p["tcav"].get("seed", 432)),
            )
        else:
            records = _round_records(campaign, {k: (v[0], v[1]) for k, v in cluster_info.items()})
        metrics = hm.aggregate_rounds(records)
        simulated = int(p["simulate_rounds"]) > 0
        for m in metrics:
            rows.human.append(
                HumanMetric(
                    run_id=run.pk,
                    class_name=class_name,
                    layer=m.layer,
                    cluster_id=m.cluster,
                    simulated=simulated,
                    rounds=m.rounds,
                    wins=m.wins,
                    losses=m.losses,
                    resigns=m.resigns,
                    correct_share=m.correct_share,
                    guess_accuracy=_f(m.guess_accuracy),
                    mean_correct_step=_f(m.mean_correct_step),
                    recognition=m.recognition,
                )
            )
        summaries = {(s.layer, s.class_name): s for s in hm.summarise(metrics)}
        del_scores = {k: v[0] for k, v in faith_by_cluster.items()}
        ins_scores = {k: v[1] for k, v in faith_by_cluster.items()}
        corr_del = hm.correlate_by_group(metrics, del_scores)
        corr_ins = hm.correlate_by_group(metrics, ins_scores)

        # --- TCAV per layer, then the layer summary
        for lay in layers.values():
            t = time.perf_counter()
            notes: list[str] = []
            own = [cl for cl in lay.clusters if cl.image_id in set(class_ids)]
            concepts: dict[str, list[np.ndarray]] = {}
            inv: dict[str, tuple[float, int]] = {}
            labelled = _label_clusters(
                campaign, class_name, lay.layer, {cl.id for cl in own}, int(p["top_labels"])
            )
            by_id = {cl.id: cl for cl in lay.clusters}
            carrying: set[int] = set()
            for label, total, rank, ids in labelled:
                concepts[label] = [
                    v
                    for cid in ids
                    for v in tcav.masked_views(
                        views[by_id[cid].image_id], by_id[cid].map, percents, feather=feather
                    )
                ]
                inv[label] = (total, rank)
                carrying.update(ids)
            if not concepts and simulated:
                # no crowd labels: one simulated concept per cluster rank (clearly labelled)
                for index in sorted({cl.index for cl in own}):
                    members = [cl for cl in own if cl.index == index]
                    concepts[f"{SIMULATED_PREFIX}cluster {index}"] = [
                        v
                        for cl in members
                        for v in tcav.masked_views(
                            views[cl.image_id], cl.map, percents, feather=feather
                        )
                    ]
            concepts = {k: v for k, v in concepts.items() if len(v) >= 2}
            rng = np.random.default_rng([int(tparams.seed), lay.position])
            others = [
                cl
                for cl in lay.clusters
                if class_of.get(cl.image_id) != class_name and cl.id not in carrying
            ]
            if len(others) * len(percents) < 4:
                # too few other images: fall back to the class's clusters not carrying a label
                seen = {cl.id for cl in others}
                others += [cl for cl in own if cl.id not in carrying and cl.id not in seen]
            order = rng.permutation(len(others))
            pool = []
            for k in order:
                cl = others[int(k)]
                pool.extend(
                    tcav.masked_views(views[cl.image_id], cl.map, percents, feather=feather)
                )
                if len(pool) >= int(p["pool_size"]):
                    break
            result = None
            if not concepts:
                notes.append("no crowd label with examples at this layer")
            elif len(pool) < 4:
                notes.append("fewer than 4 random views")
            else:
                result = tcav.run_tcav(
                    model,
                    lay.layer,
                    target,
                    concepts=concepts,
                    random_views=pool,
                    class_views=class_views,
                    params=tparams,
                    ranking={k: v[0] for k, v in inv.items()} if inv else None,
                )
                for c in result.concepts:
                    total_rank = inv.get(c.label)
                    rows.tcav.append(
                        TcavScore(
                            run_id=run.pk,
                            class_name=class_name,
                            layer=lay.layer,
                            layer_position=lay.position,
                            label=c.label[:200],
                            simulated=c.label.startswith(SIMULATED_PREFIX),
                            inv_score=None if total_rank is None else total_rank[0],
                            inv_rank=None if total_rank is None else total_rank[1],
                            score=c.score,
                            score_std=_f(c.score_std),
                            p_value=_f(c.p_value),
                            p_adjusted=_f(c.p_adjusted),
                            significant=c.significant,
                            null_mean=_f(result.null_mean),
                            cav_accuracy=_f(c.cav_accuracy),
                            n_examples=c.n_examples,
                            n_class_images=result.n_class_images,
                        )
                    )
            timings["tcav"] += time.perf_counter() - t
            key = (lay.layer, class_name)
            own_faith = [faith_by_cluster[cl.id] for cl in own if cl.id in faith_by_cluster]
            gcs = [
                (r.deletion_auc, r.insertion_auc)
                for r in rows.faith
                if r.kind == "gradcam" and r.layer == lay.layer and r.class_name == class_name
            ]
            hs = summaries.get(key)
            cd, ci = corr_del.get(key), corr_ins.get(key)
            rank = result.rank if result is not None else None
            rows.layers.append(
                LayerSummary(
                    run_id=run.pk,
                    class_name=class_name,
                    layer=lay.layer,
                    layer_position=lay.position,
                    n_concepts=0 if result is None else len(result.concepts),
                    n_significant=0
                    if result is None
                    else sum(c.significant for c in result.concepts),
                    tcav_inv_rho=None if rank is None else _f(rank.rho),
                    tcav_inv_p=None if rank is None else _f(rank.p_value),
                    tcav_inv_n=0 if rank is None else rank.n,
                    n_clusters=len(own),
                    mean_deletion_auc=_f(np.mean([d for d, _ in own_faith])) if own_faith else None,
                    mean_insertion_auc=_f(np.mean([i for _, i in own_faith]))
                    if own_faith
                    else None,
                    gradcam_deletion_auc=_f(np.mean([d for d, _ in gcs])) if gcs else None,
                    gradcam_insertion_auc=_f(np.mean([i for _, i in gcs])) if gcs else None,
                    human_rounds=0 if hs is None else hs.rounds,
                    pooled_correct_share=None if hs is None else _f(hs.pooled_correct_share),
                    mean_correct_step=None if hs is None else _f(hs.mean_correct_step),
                    human_deletion_rho=None if cd is None else _f(cd.rho),
                    human_insertion_rho=None if ci is None else _f(ci.rho),
                    human_rho_n=0 if cd is None else cd.n,
                    notes=notes,
                )
            )
            rows.notes.extend(f"{class_name} @ {lay.layer}: {n}" for n in notes)
            done += 1
            report(done / n_steps, f"{class_name}: TCAV at {lay.layer}")
    return rows, dict(timings)
