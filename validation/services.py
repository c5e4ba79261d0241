"""Writes of the validation app: create, run and store a campaign validation (METHOD §10).

A run gathers the campaign's data once (:mod:`validation.inputs`: views, cluster maps, crowd
labels, rounds), measures each class with one function per metric (:mod:`validation.metrics`:
faithfulness, the human metric, TCAV per layer, the layer summary; the compute is the pure
engine's) and stores every result in one transaction at the end: a failed run keeps its error
and no result rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from core.enqueue import enqueue_on_commit
from core.errors import ApplicationError
from core.jobs import job_claim, job_fail, job_finish, job_progress
from explanations.models import Campaign, CampaignImage
from explanations.selectors import model_source_for_spec
from workers.inv.validation_params import FaithfulnessParams, TcavParams

from . import inputs, metrics
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


def _params_normalise(params: dict | None) -> dict:
    out = json.loads(json.dumps(DEFAULT_PARAMS))
    for key, value in (params or {}).items():
        if key not in DEFAULT_PARAMS:
            raise ApplicationError(f"Unknown validation parameter {key!r}.")
        if key == "tcav":
            out["tcav"].update(value or {})
        else:
            out[key] = value
    FaithfulnessParams(steps=int(out["steps"]))  # validates
    TcavParams(**out["tcav"])  # validates
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
    if class_name and class_name not in inputs.campaign_classes(campaign):
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
    enqueue_on_commit(
        "validation.tasks.validate_campaign", args=(run.pk,), queue=settings.NETVIZ_EXPLAIN_QUEUE
    )


def validation_run_fail(*, run_id: int, error: str) -> None:
    job_fail(ValidationRun, run_id, error=error)


# --- the run -----------------------------------------------------------------------------------


@dataclass
class _Rows:
    tcav: list[TcavScore] = field(default_factory=list)
    faith: list[ClusterFaithfulness] = field(default_factory=list)
    human: list[HumanMetric] = field(default_factory=list)
    layers: list[LayerSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _results_store(*, run_id: int, rows: _Rows, timings: dict[str, float]) -> bool:
    """Replace the run's result rows and mark it done, in one transaction (False: already done)."""
    with transaction.atomic():
        locked = ValidationRun.objects.select_for_update().get(pk=run_id)
        if locked.status == ValidationRun.Status.DONE:
            return False
        for model_cls in (TcavScore, ClusterFaithfulness, HumanMetric, LayerSummary):
            model_cls.objects.filter(run_id=run_id).delete()
        TcavScore.objects.bulk_create(rows.tcav)
        ClusterFaithfulness.objects.bulk_create(rows.faith)
        HumanMetric.objects.bulk_create(rows.human)
        LayerSummary.objects.bulk_create(rows.layers)
        locked.summary = {
            "tcav_scores": len(rows.tcav),
            "faithfulness": len(rows.faith),
            "human_metrics": len(rows.human),
            "layers": len(rows.layers),
            "notes": rows.notes[:200],
        }
        job_finish(locked, timings=timings, update_fields=["summary"])
    return True


def validation_run_execute(
    *, run_id: int, progress: Progress | None = None, device: str | None = None
) -> str:
    """Compute and store a run: "done", "skipped" (missing, done or failed) or "failed"."""
    from workers.runtime import model_get

    run = job_claim(ValidationRun, run_id, stage="loading")
    if run is None:
        return "skipped"

    def report(fraction: float, stage: str) -> None:
        job_progress(run, stage=stage, progress=fraction)
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
    if not _results_store(run_id=run_id, rows=rows, timings=timings):
        return "skipped"
    if progress is not None:
        progress(1.0, "done")
    return "done"


def _run_inputs(run: ValidationRun, campaign: Campaign, model):
    """The run's classes, each class's images (by id) and what every metric reads."""
    from workers.inv import faithfulness as fa  # torch: imported where it runs
    from workers.inv import tcav

    p = run.params
    tcav_params = tcav.TcavParams(**p["tcav"])
    feather = inputs.reveal_feather(campaign)
    faithfulness_params = fa.FaithfulnessParams(steps=int(p["steps"]))
    by_class: dict[str, list[CampaignImage]] = defaultdict(list)
    for img in inputs.done_images(campaign):
        by_class[img.class_name].append(img)
    classes = [run.class_name] if run.class_name else sorted(by_class)
    if run.class_name and not by_class.get(run.class_name):
        raise ApplicationError(f"No explained image of class '{run.class_name}'.")
    max_images = p.get("max_images")
    if max_images:
        by_class = {c: imgs[: int(max_images)] for c, imgs in by_class.items()}
    # views and layers of every image used (class images, and other images for random sets)
    used = [img for imgs in by_class.values() for img in imgs]
    run_inputs = metrics.RunInputs(
        run_id=run.pk,
        campaign=campaign,
        model=model,
        views={img.pk: inputs.view_load(img) for img in used},
        layers=inputs.layers_load(campaign, [img.pk for img in used]),
        class_of={img.pk: img.class_name for img in used},
        params=p,
        tcav_params=tcav_params,
        faithfulness_params=faithfulness_params,
        percents=[float(x) for x in p["percents"]],
        feather=feather,
    )
    image_ids = {c: [img.pk for img in imgs] for c, imgs in by_class.items()}
    return classes, image_ids, run_inputs


def _compute(run: ValidationRun, campaign: Campaign, model, report: Progress):
    """Every metric of every class of the run: (result rows, seconds per metric)."""
    classes, image_ids, run_inputs = _run_inputs(run, campaign, model)
    names = list(model.class_names)
    rows = _Rows()
    timings: dict[str, float] = defaultdict(float)
    n_steps = max(1, len(classes) * (len(run_inputs.layers) + 1))
    steps = iter(range(1, n_steps + 1))

    def advance(stage: str) -> None:
        report(next(steps) / n_steps, stage)

    for class_name in classes:
        if class_name not in names:
            rows.notes.append(f"{class_name}: not a model class, skipped")
            continue
        _class_measure(
            run_inputs,
            class_name=class_name,
            target=names.index(class_name),
            image_ids=image_ids[class_name],
            rows=rows,
            timings=timings,
            advance=advance,
        )
    return rows, dict(timings)


def _class_measure(
    run_inputs: metrics.RunInputs,
    *,
    class_name: str,
    target: int,
    image_ids: list[int],
    rows: _Rows,
    timings: dict[str, float],
    advance: Callable[[str], None],
) -> None:
    """One class: faithfulness, the human metric, then TCAV and the summary layer by layer."""
    t = time.perf_counter()
    faith_rows, faith = metrics.faithfulness_measure(
        inputs=run_inputs, class_name=class_name, target=target, image_ids=image_ids
    )
    rows.faith.extend(faith_rows)
    timings["faithfulness"] += time.perf_counter() - t
    advance(f"{class_name}: faithfulness of {len(image_ids)} images")

    human = metrics.human_metric_measure(
        inputs=run_inputs, class_name=class_name, image_ids=image_ids, faithfulness=faith
    )
    rows.human.extend(human.rows)
    for layer in run_inputs.layers.values():
        t = time.perf_counter()
        result, tcav_rows, notes = metrics.tcav_measure(
            inputs=run_inputs,
            class_name=class_name,
            target=target,
            image_ids=image_ids,
            layer=layer,
        )
        rows.tcav.extend(tcav_rows)
        timings["tcav"] += time.perf_counter() - t
        rows.layers.append(
            metrics.layer_summary_build(
                inputs=run_inputs,
                class_name=class_name,
                image_ids=image_ids,
                layer=layer,
                tcav_result=result,
                faithfulness_rows=faith_rows,
                faithfulness=faith,
                human=human,
                notes=notes,
            )
        )
        rows.notes.extend(f"{class_name} @ {layer.layer}: {n}" for n in notes)
        advance(f"{class_name}: TCAV at {layer.layer}")
