"""Validation rows for the campaign export (``processing.export`` adds them as sections).

Every finished run of the campaign is exported; each row names its run (see the ``run`` column)
and whether its human metric came from simulated rounds.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from explanations.models import Campaign

from .models import ClusterFaithfulness, HumanMetric, LayerSummary, TcavScore, ValidationRun

TCAV_COLUMNS = (
    "run",
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
FAITHFULNESS_COLUMNS = (
    "run",
    "class_name",
    "layer",
    "image",
    "kind",
    "cluster",
    "cluster_index",
    "full_probability",
    "deletion_auc",
    "insertion_auc",
    "deletion_gain",
    "insertion_gain",
    "deletion_ratio",
    "insertion_ratio",
)
HUMAN_COLUMNS = (
    "run",
    "class_name",
    "layer",
    "cluster",
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
LAYER_COLUMNS = (
    "run",
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
RENAMES = {"run_id": "run", "image_id": "image", "cluster_id": "cluster"}


def _qs(model, campaign: Campaign) -> QuerySet:
    return model.objects.filter(
        run__campaign=campaign, run__status=ValidationRun.Status.DONE
    ).order_by("run_id", "id")


def _rows(model, campaign: Campaign, columns: tuple[str, ...]) -> Iterator[dict]:
    fields = [next((k for k, v in RENAMES.items() if v == c), c) for c in columns]
    for row in _qs(model, campaign).values(*fields).iterator(chunk_size=2000):
        yield {RENAMES.get(k, k): v for k, v in row.items()}


def tcav_rows(campaign: Campaign) -> Iterator[dict]:
    return _rows(TcavScore, campaign, TCAV_COLUMNS)


def faithfulness_rows(campaign: Campaign) -> Iterator[dict]:
    return _rows(ClusterFaithfulness, campaign, FAITHFULNESS_COLUMNS)


def human_rows(campaign: Campaign) -> Iterator[dict]:
    return _rows(HumanMetric, campaign, HUMAN_COLUMNS)


def layer_rows(campaign: Campaign) -> Iterator[dict]:
    return _rows(LayerSummary, campaign, LAYER_COLUMNS)


def tcav_count(campaign: Campaign) -> int:
    return _qs(TcavScore, campaign).count()


def faithfulness_count(campaign: Campaign) -> int:
    return _qs(ClusterFaithfulness, campaign).count()


def human_count(campaign: Campaign) -> int:
    return _qs(HumanMetric, campaign).count()


def layer_count(campaign: Campaign) -> int:
    return _qs(LayerSummary, campaign).count()
