"""Writes for models, campaigns, images and explanations (HackSoft style: keyword-only args).

Every function either completes or leaves nothing behind: database writes happen in one
transaction, and files written for a transaction that fails are removed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from core import roles
from core.enqueue import enqueue_on_commit
from core.errors import ApplicationError
from core.jobs import job_claim, job_fail, job_finish, job_progress, job_requeue
from workers.inv.catalog import BUILTIN_MODELS
from workers.inv.errors import EngineError
from workers.inv.images import decode_image, load_image
from workers.inv.types import EngineParams, ImageExplanation

if TYPE_CHECKING:  # torch-importing engine modules load where they run (workers), not at import
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from workers.inv.artifacts import ImageArtifacts

from .arrays import array_to_bytes
from .files import FileBatch, files_for_transaction, image_for_storage, size_text
from .models import (
    Campaign,
    CampaignImage,
    ClusterMap,
    ExplanationJob,
    LayerResult,
    ModelSpec,
)

logger = logging.getLogger(__name__)

# --- models ----------------------------------------------------------------------------------


def torchscript_refusal() -> str:
    """Why a TorchScript upload is refused to a user :func:`core.roles` does not allow."""
    who = "staff only" if settings.NETVIZ_TORCHSCRIPT_UPLOADS == "staff" else "nobody"
    return (
        f"On this server TorchScript models may be uploaded by {who}: a TorchScript file is a "
        "program the workers run. Upload a state dict of a named architecture instead, or ask "
        "the server's staff (NETVIZ_TORCHSCRIPT_UPLOADS, docs/SECURITY.md)."
    )


def _spec_fields_from_loaded(loaded) -> dict:
    return {
        "class_names": list(loaded.class_names),
        "preprocessing": loaded.preprocessing.to_dict(),
        "explainable_layers": list(loaded.explainable_layers),
        "default_layers": list(loaded.default_layers),
    }


def model_spec_create(
    *,
    name: str,
    kind: str,
    architecture: str = "",
    display_name: str = "",
    weights: tuple[str, bytes] | None = None,
    class_names: tuple[str, bytes] | None = None,
    enqueue: bool = True,
    uploaded_by: AbstractBaseUser | AnonymousUser | None = None,
) -> ModelSpec:
    """Register a model: store its files and a queued spec, and enqueue its validation (the
    ``validate_model`` task, :func:`model_spec_validate`: the model is loaded in a worker,
    never in a web request). The spec is usable once its validation is done.

    ``weights`` and ``class_names`` are (file name, content) pairs for uploaded files. A failed
    registration of the same name is replaced. ``uploaded_by`` is the user of a page or API
    request: a TorchScript file is code the workers run, refused (403, nothing stored) unless
    :func:`core.roles.user_may_upload_torchscript` allows that user. ``None`` is a caller of
    the server itself (a management command, a test), trusted like the deployment.
    """
    slug = slugify(name)
    if not slug:
        raise ApplicationError("A model needs a name made of letters, digits or dashes.")
    if kind not in ModelSpec.Kind.values:
        raise ApplicationError(
            f"Unknown model kind '{kind}'. Choose one of: {', '.join(ModelSpec.Kind.values)}."
        )
    if (
        kind == ModelSpec.Kind.TORCHSCRIPT
        and uploaded_by is not None
        and not roles.user_may_upload_torchscript(uploaded_by)
    ):
        raise ApplicationError(torchscript_refusal(), status=403)
    taken = ApplicationError(f"A model named '{slug}' already exists.", status=409)
    with files_for_transaction() as files, transaction.atomic():
        existing = ModelSpec.objects.select_for_update().filter(name=slug).first()
        if existing is not None:
            if existing.status != ModelSpec.Status.FAILED:
                raise taken
            existing.delete()  # a failed spec: no campaign uses it, its files are gone
        weights_name = (
            files.save("models", weights[1], suffix=Path(weights[0]).suffix or ".pt")
            if weights
            else ""
        )
        classes_name = files.save("models", class_names[1], suffix=".txt") if class_names else ""
        try:
            with transaction.atomic():
                spec = ModelSpec.objects.create(
                    name=slug,
                    display_name=display_name or name,
                    kind=kind,
                    architecture=architecture,
                    weights_file=weights_name,
                    class_names_file=classes_name,
                    stage="waiting for a worker",
                )
        except IntegrityError as exc:  # registered at the same moment by another request
            raise taken from exc
        if enqueue:
            model_spec_validation_enqueue(spec=spec)
    return spec


def model_spec_get_or_create_builtin(*, name: str, enqueue: bool = True) -> ModelSpec:
    """The registry entry for a built-in or torchvision model, registered (its validation
    queued) on first use, or again after a failed validation."""
    existing = ModelSpec.objects.filter(name=name).first()
    if existing is not None and existing.status != ModelSpec.Status.FAILED:
        return existing
    kind = ModelSpec.Kind.BUILTIN if name in BUILTIN_MODELS else ModelSpec.Kind.TORCHVISION
    return model_spec_create(name=name, kind=kind, display_name=name, enqueue=enqueue)


def model_spec_validation_enqueue(*, spec: ModelSpec) -> None:
    """Send the spec's validation to the workers once the current transaction commits (a
    broker failure fails the validation with a message saying so)."""
    spec_id = spec.pk

    def not_sent(exc: Exception) -> None:
        logger.error("could not enqueue the validation of model %s", spec_id, exc_info=exc)
        model_spec_validation_fail(
            spec_id=spec_id, error="Could not start the validation (no worker queue): try again."
        )

    enqueue_on_commit(
        "explanations.tasks.validate_model",
        args=(spec_id,),
        queue=settings.NETVIZ_EXPLAIN_QUEUE,
        on_error=not_sent,
    )


def model_spec_validate(*, spec_id: int, device: str = "cpu") -> str:
    """Validate a queued model here (a worker, a command): load it once (the loader checks the
    file, the architecture and, by one forward pass, that the class-names file lists as many
    classes as the model has outputs), then store its class names, preprocessing and layers.

    Returns "done", "skipped" (missing, finished, or failed meanwhile) or "failed" (the reason
    on the spec; its files are removed). Transient errors (database) propagate for a retry.
    """
    from workers.runtime import model_get  # imports torch: runs in workers only

    from .selectors import model_source_for_spec

    spec = job_claim(ModelSpec, spec_id, stage="loading the model", progress=0.1)
    if spec is None:
        return "skipped"
    t0 = time.perf_counter()
    try:
        loaded = model_get(model_source_for_spec(spec), device=device)
    except EngineError as exc:
        model_spec_validation_fail(spec_id=spec_id, error=exc.message)
        return "failed"
    job_progress(spec, stage="storing the layers", progress=0.9)
    with transaction.atomic():
        spec = ModelSpec.objects.select_for_update().get(pk=spec_id)
        if spec.status != ModelSpec.Status.RUNNING:
            return "skipped"
        fields = _spec_fields_from_loaded(loaded)
        for field, value in fields.items():
            setattr(spec, field, value)
        job_finish(spec, timings={"load": time.perf_counter() - t0}, update_fields=fields)
    return "done"


def model_spec_validation_fail(*, spec_id: int, error: str) -> None:
    """Fail a model's validation with its reason and remove its uploaded files (a failed spec
    keeps its name and error only, until the name is registered again)."""
    with transaction.atomic():
        spec = ModelSpec.objects.select_for_update().filter(pk=spec_id).first()
        if spec is None or spec.status == ModelSpec.Status.DONE:
            return
        names = [f.name for f in (spec.weights_file, spec.class_names_file) if f]
        ModelSpec.objects.filter(pk=spec_id).update(weights_file="", class_names_file="")
        job_fail(ModelSpec, spec_id, error=error)
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names])


def model_spec_validated(*, spec: ModelSpec) -> ModelSpec:
    """``spec``, validated here first unless it is done (commands and tests, which may load
    torch); an ApplicationError with the reason when its validation fails."""
    if spec.status != ModelSpec.Status.DONE:
        model_spec_validate(spec_id=spec.pk)
        spec.refresh_from_db()
    if spec.status != ModelSpec.Status.DONE:
        raise ApplicationError(_model_unusable(spec))
    return spec


def _model_unusable(model: ModelSpec) -> str:
    """Why a campaign cannot use ``model`` yet, in words (its validation is not done)."""
    if model.status == ModelSpec.Status.FAILED:
        return f"Model '{model.name}' failed its validation: {model.error} Register it again."
    where = f" ({model.stage}, {round(100 * model.progress)}%)" if model.stage else ""
    return (
        f"Model '{model.name}' cannot be used yet: its validation is "
        f"{model.get_status_display().lower()}{where}. Try again when it is done."
    )


# --- campaigns -------------------------------------------------------------------------------


def _campaign_hash(
    *, model: ModelSpec, layers: list[str], params: EngineParams, target_mode: str
) -> str:
    payload = {
        "model": model.name,
        "weights": model.weights_file.name if model.weights_file else "",
        "layers": layers,
        "params": params.to_dict(),
        "target_mode": target_mode,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def campaign_create(
    *,
    name: str,
    model: ModelSpec,
    classes: Iterable[str] | None = None,
    aliases: dict[str, list[str]] | None = None,
    explained_layers: Iterable[str] | None = None,
    engine_params: dict | None = None,
    target_mode: str = Campaign.TargetMode.PREDICTED,
    target_rounds: int = 5,
    description: str = "",
) -> Campaign:
    name = name.strip()
    if not name:
        raise ApplicationError("A campaign needs a name.")
    if model.status != ModelSpec.Status.DONE:
        raise ApplicationError(_model_unusable(model), status=409)
    if Campaign.objects.filter(name=name).exists():
        raise ApplicationError(f"A campaign named '{name}' already exists.")
    classes = list(classes or [])
    unknown = sorted(set(classes) - set(model.class_names))
    if unknown:
        raise ApplicationError(
            f"These classes are not among the model's classes: {', '.join(unknown)}."
        )
    aliases = {k: [a.strip() for a in v if a.strip()] for k, v in (aliases or {}).items()}
    unknown = sorted(set(aliases) - set(model.class_names))
    if unknown:
        raise ApplicationError(f"Aliases given for unknown classes: {', '.join(unknown)}.")
    layers = list(explained_layers or model.default_layers)
    if not layers:
        raise ApplicationError("Choose at least one layer to explain.")
    bad = [layer for layer in layers if layer not in model.explainable_layers]
    if bad:
        raise ApplicationError(
            f"Unknown layer name(s) {', '.join(bad)} for model '{model.name}'. "
            f"Explainable layers: {', '.join(model.explainable_layers[:30])}"
            + (" …" if len(model.explainable_layers) > 30 else "")
        )
    if len(set(layers)) != len(layers):
        raise ApplicationError("A layer is listed twice.")
    try:
        params = EngineParams.from_dict(engine_params or {})
    except ValueError as exc:
        raise ApplicationError(f"Invalid engine parameters: {exc}") from exc
    if target_mode not in Campaign.TargetMode.values:
        raise ApplicationError("Target mode must be 'predicted' or 'true'.")
    if not 1 <= int(target_rounds) <= 1000:
        raise ApplicationError("Target rounds per item must be between 1 and 1000.")
    base_slug = slugify(name)[:180] or "campaign"
    slug, n = base_slug, 1
    while Campaign.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base_slug}-{n}"
    return Campaign.objects.create(
        name=name,
        slug=slug,
        description=description,
        model=model,
        classes=classes,
        aliases=aliases,
        explained_layers=layers,
        engine_params=params.to_dict(),
        params_hash=_campaign_hash(
            model=model, layers=layers, params=params, target_mode=target_mode
        ),
        target_mode=target_mode,
        target_rounds=int(target_rounds),
    )


# --- images ----------------------------------------------------------------------------------


def campaign_image_add(
    *,
    campaign: Campaign,
    content: bytes,
    original_name: str = "",
    true_class: str = "",
    enqueue: bool = True,
) -> CampaignImage:
    """Validate and store an image, and create (and enqueue, on commit) its explanation job.

    Adding the same bytes twice to a campaign returns the existing image.
    """
    max_bytes = settings.NETVIZ_MAX_UPLOAD_BYTES
    if not content:
        raise ApplicationError(f"'{original_name or 'upload'}' is empty (0 bytes).")
    if len(content) > max_bytes:
        raise ApplicationError(
            f"'{original_name or 'upload'}' is {size_text(len(content), up=True)}; "
            f"the limit is {size_text(max_bytes)}."
        )
    true_class = true_class.strip()
    allowed = campaign.classes or campaign.model.class_names
    if true_class and true_class not in allowed:
        raise ApplicationError(f"'{true_class}' is not one of the campaign's classes.")
    try:
        decoded = decode_image(
            content,
            max_pixels=settings.NETVIZ_MAX_IMAGE_PIXELS,
            min_side=settings.NETVIZ_MIN_IMAGE_SIDE,
        )
    except EngineError as exc:
        raise ApplicationError(f"'{original_name or 'upload'}': {exc.message}") from exc
    image = decoded.image
    digest = hashlib.sha256(content).hexdigest()  # of the upload: the same file is added once
    existing = CampaignImage.objects.filter(campaign=campaign, sha256=digest).first()
    if existing is not None:
        return existing
    # The stored name comes from the decoded format, never from the client's file name.
    data, suffix = image_for_storage(
        content,
        image_format=decoded.format,
        max_pixels=settings.NETVIZ_MAX_IMAGE_PIXELS,
        image=image,
    )
    with files_for_transaction() as files, transaction.atomic():
        stored = files.save(f"images/{digest[:2]}", data, suffix=suffix)
        img = CampaignImage.objects.create(
            campaign=campaign,
            file=stored,
            sha256=digest,
            original_name=original_name[:255],
            width=image.width,
            height=image.height,
            true_class=true_class,
        )
        job = explanation_job_create(image=img)
        if enqueue:
            explanation_job_enqueue(job=job)
    return img


def explanation_job_create(*, image: CampaignImage) -> ExplanationJob:
    campaign = image.campaign
    job, _ = ExplanationJob.objects.get_or_create(
        image=image,
        params_hash=campaign.params_hash,  # the current job (ExplanationJob.objects.current_for)
        defaults={"engine_params": campaign.engine_params, "layers": campaign.explained_layers},
    )
    return job


def explanation_job_enqueue(*, job: ExplanationJob) -> None:
    """Send the job to the workers once the current transaction commits."""
    enqueue_on_commit(
        "explanations.tasks.explain_image", args=(job.pk,), queue=settings.NETVIZ_EXPLAIN_QUEUE
    )


def explanation_job_retry(*, job: ExplanationJob) -> ExplanationJob:
    """Queue a failed job again and enqueue it."""
    with transaction.atomic():
        job = ExplanationJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ExplanationJob.Status.FAILED:
            raise ApplicationError("Only a failed job can be retried.")
        job_requeue(job)
        explanation_job_enqueue(job=job)
    return job


def campaign_compute(*, campaign: Campaign) -> int:
    """Create the missing jobs of a campaign and enqueue every job not done; returns the count."""
    count = 0
    with transaction.atomic():
        for image in campaign.images.all():
            job = explanation_job_create(image=image)
            if job.status in (ExplanationJob.Status.QUEUED, ExplanationJob.Status.RUNNING):
                explanation_job_enqueue(job=job)
                count += 1
    return count


# --- running a job -----------------------------------------------------------------------------


def explanation_job_claim(*, job_id: int) -> ExplanationJob | None:
    """Lock the job and mark it running; ``None`` when it is missing, done or failed (a
    running job is claimed again: its task was redelivered after its worker died)."""
    related = ["image__campaign__model"]
    return job_claim(ExplanationJob, job_id, stage="explaining", progress=0.05, related=related)


def explanation_job_fail(*, job_id: int, error: str) -> None:
    """Record a permanent failure (with its reason); results stay empty."""
    with transaction.atomic():
        if job_fail(ExplanationJob, job_id, error=error):
            LayerResult.objects.filter(job_id=job_id).delete()


@dataclass(frozen=True)
class ComputedExplanation:
    explanation: ImageExplanation
    artifacts: ImageArtifacts
    class_names: tuple[str, ...]
    seconds: dict[str, float]
    device: str = "cpu"


def explanation_compute(*, job: ExplanationJob, device: str | None = None) -> ComputedExplanation:
    """Run the engine for one job (no database writes). Raises EngineError on bad input."""
    from workers.inv.explain import explain_batch
    from workers.runtime import model_get

    from .selectors import model_source_for_spec

    image = job.image
    campaign = image.campaign
    t0 = time.perf_counter()
    loaded = model_get(model_source_for_spec(campaign.model), device=device)
    t_model = time.perf_counter()
    with image.file.open("rb") as fh:
        content = fh.read()
    pil = load_image(content, max_pixels=settings.NETVIZ_MAX_IMAGE_PIXELS)
    view = loaded.preprocessing.model_view(pil)
    params = EngineParams.from_dict(job.engine_params)
    target = None
    if campaign.target_mode == Campaign.TargetMode.TRUE and image.true_class:
        target = loaded.class_names.index(image.true_class)
    (explanation,) = explain_batch(
        loaded, [view], layers=job.layers, params=params, targets=[target]
    )
    empty = [layer.layer for layer in explanation.layers if layer.no_positive_evidence]
    if empty:
        raise EngineError(
            f"Layer(s) {', '.join(empty)} yield no positive gradient for class "
            f"'{loaded.class_names[explanation.target_index]}': nothing to explain there."
        )
    t_engine = time.perf_counter()
    job_progress(job, stage="rendering", progress=0.6)
    from workers.inv.artifacts import game_image_for, render_explanation

    game = game_image_for(pil, view, preprocessing=loaded.preprocessing, params=params)
    artifacts = render_explanation(view, explanation, params=params, game=game)
    t_render = time.perf_counter()
    seconds = {
        "model_load": t_model - t0,
        "engine": t_engine - t_model,
        "render": t_render - t_engine,
        **{f"engine_{k}": v for k, v in explanation.timings.items()},
    }
    return ComputedExplanation(
        explanation, artifacts, loaded.class_names, seconds, device=str(loaded.device)
    )


def _layers_store(
    *, job: ExplanationJob, image: CampaignImage, computed: ComputedExplanation, files: FileBatch
) -> None:
    """The job's LayerResult rows and their ClusterMap rows (with their overlays and frames)."""
    exp = computed.explanation
    layer_rows = []
    for position, (layer, art) in enumerate(
        zip(exp.layers, computed.artifacts.layers, strict=True)
    ):
        layer_rows.append(
            LayerResult(
                job=job,
                image=image,
                layer=layer.layer,
                position=position,
                n_channels=layer.n_channels,
                height=layer.height,
                width=layer.width,
                kept_channels=list(layer.kept_channels),
                n_clusters_before_prune=layer.n_clusters_before_prune,
                retained_weight=float(layer.retained_weight),
                no_positive_evidence=layer.no_positive_evidence,
                shares=array_to_bytes(layer.shares, dtype="float32"),
                gradcam=array_to_bytes(layer.gradcam),
                gradcam_overlay=files.save("overlays", art.gradcam_overlay_jpeg, suffix=".jpg"),
            )
        )
    LayerResult.objects.bulk_create(layer_rows)
    cluster_rows = []
    for layer_row, layer, art in zip(
        layer_rows, exp.layers, computed.artifacts.layers, strict=True
    ):
        for cluster, cart in zip(layer.clusters, art.clusters, strict=True):
            cluster_rows.append(
                ClusterMap(
                    layer_result=layer_row,
                    image=image,
                    index=cluster.index,
                    channels=[int(c) for c in cluster.channels],
                    weight=float(cluster.weight),
                    n_maps=len(cluster.channels),
                    map=array_to_bytes(cluster.map),
                    overlay=files.save("overlays", cart.overlay_jpeg, suffix=".jpg"),
                    frames=[files.save("frames", f, suffix=".jpg") for f in cart.frames_jpeg],
                )
            )
    ClusterMap.objects.bulk_create(cluster_rows)


def explanation_store(*, job_id: int, computed: ComputedExplanation) -> bool:
    """Store a computed explanation for a job, exactly once. Returns False if already stored."""
    exp = computed.explanation
    t0 = time.perf_counter()
    with files_for_transaction() as files, transaction.atomic():
        job = ExplanationJob.objects.select_for_update().select_related("image").get(pk=job_id)
        if job.status == ExplanationJob.Status.DONE:
            files.discard()
            return False
        image = job.image
        # A crashed earlier attempt cannot have stored rows (one transaction), but be explicit.
        job.layer_results.all().delete()
        old_view = image.view_file.name if image.view_file else ""
        old_game = image.game_file.name if image.game_file else ""
        image.view_file = files.save("views", computed.artifacts.view_png, suffix=".png")
        image.game_file = files.save("games", computed.artifacts.game_jpeg, suffix=".jpg")
        image.predicted_index = exp.predicted_index
        image.predicted_class = computed.class_names[exp.predicted_index]
        image.probability = exp.probability
        image.target_index = exp.target_index
        image.target_class = computed.class_names[exp.target_index]
        image.save(
            update_fields=[
                "view_file",
                "game_file",
                "predicted_index",
                "predicted_class",
                "probability",
                "target_index",
                "target_class",
            ]
        )
        _layers_store(job=job, image=image, computed=computed, files=files)
        job.device = computed.device
        job_finish(
            job,
            timings={**computed.seconds, "store": time.perf_counter() - t0},
            update_fields=["device"],
        )
        if old_view:
            transaction.on_commit(lambda: default_storage.delete(old_view))
        if old_game:
            transaction.on_commit(lambda: default_storage.delete(old_game))
    return True


def explanation_job_run(*, job_id: int, device: str | None = None) -> str:
    """Claim, compute and store one job. Engine errors become a failed job with the reason.

    Returns the outcome: "done", "skipped" (already done or failed) or "failed".
    Transient errors (database, storage) propagate so the task can retry.
    """
    job = explanation_job_claim(job_id=job_id)
    if job is None:
        return "skipped"
    try:
        computed = explanation_compute(job=job, device=device)
    except EngineError as exc:
        explanation_job_fail(job_id=job_id, error=exc.message)
        return "failed"
    except (ValueError, KeyError) as exc:
        explanation_job_fail(job_id=job_id, error=f"Invalid job: {exc}")
        return "failed"
    explanation_store(job_id=job_id, computed=computed)
    return "done"
