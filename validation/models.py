"""Validation of a campaign's explanations (METHOD §10, issue 6).

A :class:`ValidationRun` validates one class (or every class) of a campaign; its results are
written in one transaction when the run finishes (nothing partial on failure):

* :class:`TcavScore`: TCAV of a crowd label (canonical label of the class at a layer);
* :class:`ClusterFaithfulness`: deletion / insertion areas of a cluster map, or of the layer's
  Grad-CAM (``cluster`` null, ``kind`` "gradcam"), with the comparison to Grad-CAM;
* :class:`HumanMetric`: the human reveal metric of a cluster map (from finished rounds, or from
  simulated rounds when the run was started with ``simulate_rounds``: ``simulated`` is then set);
* :class:`LayerSummary`: per (class, layer), TCAV-vs-INV rank agreement and human-vs-model
  correlations.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.jobs import TrackedJob
from explanations.models import Campaign, CampaignImage, ClusterMap


class ValidationRun(TrackedJob):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="validations")
    class_name = models.CharField(max_length=200, blank=True, help_text="Blank: every class.")
    params = models.JSONField(default=dict)
    params_hash = models.CharField(max_length=64)
    simulated = models.BooleanField(default=False, help_text="Human metric from simulated rounds.")
    summary = models.JSONField(default=dict, help_text="Counts and notes (skipped layers).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["campaign", "class_name", "status"])]

    def __str__(self) -> str:
        return f"validation {self.pk} of {self.campaign_id} ({self.status})"


class TcavScore(models.Model):
    run = models.ForeignKey(ValidationRun, on_delete=models.CASCADE, related_name="tcav_scores")
    class_name = models.CharField(max_length=200)
    layer = models.CharField(max_length=200)
    layer_position = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=200, help_text="Canonical label (or simulated concept).")
    simulated = models.BooleanField(default=False)
    inv_score = models.FloatField(null=True, blank=True, help_text="INV's G(s) at the layer.")
    inv_rank = models.PositiveIntegerField(null=True, blank=True)
    score = models.FloatField()
    score_std = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    p_adjusted = models.FloatField(null=True, blank=True)
    significant = models.BooleanField(default=False)
    null_mean = models.FloatField(null=True, blank=True)
    cav_accuracy = models.FloatField(null=True, blank=True)
    n_examples = models.PositiveIntegerField()
    n_class_images = models.PositiveIntegerField()

    class Meta:
        ordering = ["run", "class_name", "layer_position", "-score"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "class_name", "layer", "label"], name="uniq_tcav_label"
            ),
        ]

    def __str__(self) -> str:
        return f"TCAV {self.label} @ {self.layer}: {self.score:.2f}"


class ClusterFaithfulness(models.Model):
    class Kind(models.TextChoices):
        CLUSTER = "cluster", "Cluster map"
        GRADCAM = "gradcam", "Grad-CAM of the layer"

    run = models.ForeignKey(ValidationRun, on_delete=models.CASCADE, related_name="faithfulness")
    class_name = models.CharField(max_length=200)
    layer = models.CharField(max_length=200)
    layer_position = models.PositiveIntegerField(default=0)
    image = models.ForeignKey(CampaignImage, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    cluster = models.ForeignKey(
        ClusterMap, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    cluster_index = models.IntegerField(null=True, blank=True)
    full_probability = models.FloatField()
    deletion_auc = models.FloatField()
    insertion_auc = models.FloatField()
    deletion_gain = models.FloatField(null=True, blank=True, help_text="vs Grad-CAM (> 0 better)")
    insertion_gain = models.FloatField(null=True, blank=True)
    deletion_ratio = models.FloatField(null=True, blank=True)
    insertion_ratio = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run", "class_name", "image", "layer_position", "kind", "cluster_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "cluster"],
                condition=Q(cluster__isnull=False),
                name="uniq_faithfulness_cluster",
            ),
            models.UniqueConstraint(
                fields=["run", "image", "layer"],
                condition=Q(kind="gradcam"),
                name="uniq_faithfulness_gradcam",
            ),
            models.CheckConstraint(
                condition=Q(kind="gradcam", cluster__isnull=True)
                | Q(kind="cluster", cluster__isnull=False),
                name="faithfulness_kind_cluster",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.cluster_id or ''} @ {self.layer}"


class HumanMetric(models.Model):
    run = models.ForeignKey(ValidationRun, on_delete=models.CASCADE, related_name="human_metrics")
    class_name = models.CharField(max_length=200)
    layer = models.CharField(max_length=200)
    cluster = models.ForeignKey(ClusterMap, on_delete=models.CASCADE, related_name="+")
    simulated = models.BooleanField(default=False)
    rounds = models.PositiveIntegerField()
    wins = models.PositiveIntegerField()
    losses = models.PositiveIntegerField()
    resigns = models.PositiveIntegerField()
    correct_share = models.FloatField()
    guess_accuracy = models.FloatField(null=True, blank=True)
    mean_correct_step = models.FloatField(null=True, blank=True)
    recognition = models.FloatField()

    class Meta:
        ordering = ["run", "class_name", "layer", "cluster"]
        constraints = [
            models.UniqueConstraint(fields=["run", "cluster"], name="uniq_human_metric_cluster"),
        ]

    def __str__(self) -> str:
        return f"human metric of {self.cluster_id}: {self.correct_share:.2f}"


class LayerSummary(models.Model):
    run = models.ForeignKey(ValidationRun, on_delete=models.CASCADE, related_name="layer_summaries")
    class_name = models.CharField(max_length=200)
    layer = models.CharField(max_length=200)
    layer_position = models.PositiveIntegerField(default=0)
    n_concepts = models.PositiveIntegerField(default=0)
    n_significant = models.PositiveIntegerField(default=0)
    tcav_inv_rho = models.FloatField(null=True, blank=True, help_text="Spearman TCAV vs INV G(s)")
    tcav_inv_p = models.FloatField(null=True, blank=True)
    tcav_inv_n = models.PositiveIntegerField(default=0)
    n_clusters = models.PositiveIntegerField(default=0)
    mean_deletion_auc = models.FloatField(null=True, blank=True)
    mean_insertion_auc = models.FloatField(null=True, blank=True)
    gradcam_deletion_auc = models.FloatField(null=True, blank=True)
    gradcam_insertion_auc = models.FloatField(null=True, blank=True)
    human_rounds = models.PositiveIntegerField(default=0)
    pooled_correct_share = models.FloatField(null=True, blank=True)
    mean_correct_step = models.FloatField(null=True, blank=True)
    human_deletion_rho = models.FloatField(null=True, blank=True)
    human_insertion_rho = models.FloatField(null=True, blank=True)
    human_rho_n = models.PositiveIntegerField(default=0)
    notes = models.JSONField(default=list)

    class Meta:
        ordering = ["run", "class_name", "layer_position"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "class_name", "layer"], name="uniq_layer_summary"
            ),
        ]

    def __str__(self) -> str:
        return f"summary {self.class_name} @ {self.layer}"
