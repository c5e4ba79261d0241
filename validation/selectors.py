"""Reads of the validation app (never computes, never writes)."""

from __future__ import annotations

from django.db.models import QuerySet

from explanations.models import Campaign

from .models import ClusterFaithfulness, HumanMetric, LayerSummary, TcavScore, ValidationRun


def validation_run_list(*, campaign: Campaign, class_name: str | None = None) -> QuerySet:
    qs = ValidationRun.objects.filter(campaign=campaign)
    if class_name is not None:
        qs = qs.filter(class_name__in=[class_name, ""])
    return qs


def validation_run_latest(
    *, campaign: Campaign, class_name: str | None = None
) -> ValidationRun | None:
    """The newest finished run covering ``class_name`` (or any run when None)."""
    return (
        validation_run_list(campaign=campaign, class_name=class_name)
        .filter(status=ValidationRun.Status.DONE)
        .order_by("-finished_at", "-id")
        .first()
    )


def _filter(qs: QuerySet, class_name: str | None) -> QuerySet:
    return qs if not class_name else qs.filter(class_name=class_name)


def tcav_score_list(*, run: ValidationRun, class_name: str | None = None) -> QuerySet:
    return _filter(TcavScore.objects.filter(run=run), class_name)


def faithfulness_list(*, run: ValidationRun, class_name: str | None = None) -> QuerySet:
    return _filter(
        ClusterFaithfulness.objects.filter(run=run).select_related("image", "cluster"), class_name
    )


def human_metric_list(*, run: ValidationRun, class_name: str | None = None) -> QuerySet:
    return _filter(
        HumanMetric.objects.filter(run=run).select_related("cluster", "cluster__layer_result"),
        class_name,
    )


def layer_summary_list(*, run: ValidationRun, class_name: str | None = None) -> QuerySet:
    return _filter(LayerSummary.objects.filter(run=run), class_name)


# Result fields, in output order (the command's JSON and the export's columns).
TCAV_FIELDS = (
    "class_name",
    "layer",
    "label",
    "simulated",
    "inv_score",
    "inv_rank",
    "score",
    "score_std",
    "p_value",
    "p_adjusted",
    "significant",
    "null_mean",
    "cav_accuracy",
    "n_examples",
    "n_class_images",
)
FAITHFULNESS_FIELDS = (
    "class_name",
    "layer",
    "image_id",
    "kind",
    "cluster_id",
    "cluster_index",
    "full_probability",
    "deletion_auc",
    "insertion_auc",
    "deletion_gain",
    "insertion_gain",
    "deletion_ratio",
    "insertion_ratio",
)
HUMAN_FIELDS = (
    "class_name",
    "layer",
    "cluster_id",
    "simulated",
    "rounds",
    "wins",
    "losses",
    "resigns",
    "correct_share",
    "guess_accuracy",
    "mean_correct_step",
    "recognition",
)
LAYER_FIELDS = (
    "class_name",
    "layer",
    "layer_position",
    "n_concepts",
    "n_significant",
    "tcav_inv_rho",
    "tcav_inv_p",
    "tcav_inv_n",
    "n_clusters",
    "mean_deletion_auc",
    "mean_insertion_auc",
    "gradcam_deletion_auc",
    "gradcam_insertion_auc",
    "human_rounds",
    "pooled_correct_share",
    "mean_correct_step",
    "human_deletion_rho",
    "human_insertion_rho",
    "human_rho_n",
    "notes",
)


def validation_results(*, run: ValidationRun, class_name: str | None = None) -> dict:
    """The run and its results as plain JSON-safe data (command output, export)."""
    return {
        "run": {
            "id": run.pk,
            "campaign": run.campaign_id,
            "class_name": run.class_name or None,
            "status": run.status,
            "error": run.error,
            "params": run.params,
            "params_hash": run.params_hash,
            "simulated_rounds": run.simulated,
            "timings": run.timings,
            "summary": run.summary,
            "created_at": run.created_at.isoformat() if run.created_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        },
        "tcav": list(tcav_score_list(run=run, class_name=class_name).values(*TCAV_FIELDS)),
        "faithfulness": list(
            faithfulness_list(run=run, class_name=class_name).values(*FAITHFULNESS_FIELDS)
        ),
        "human": list(human_metric_list(run=run, class_name=class_name).values(*HUMAN_FIELDS)),
        "layers": list(layer_summary_list(run=run, class_name=class_name).values(*LAYER_FIELDS)),
    }
