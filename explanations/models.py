"""Storage of models, campaigns, images and their INV explanations.

Arrays (Grad-CAM maps, cluster maps, shares) are stored compactly as float16 ``.npy`` bytes
(see :mod:`explanations.arrays`); images (uploads, overlays, reveal frames) are files under
MEDIA_ROOT with unguessable names.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, Exists, F, OuterRef, Q, When

from core.jobs import TrackedJob


class ModelSpecQuerySet(models.QuerySet):
    def usable(self) -> ModelSpecQuerySet:
        """Models whose validation is done: the only ones a campaign may use."""
        return self.filter(status=ModelSpec.Status.DONE)


class ModelSpec(TrackedJob):
    """A classifier NetViz can explain: architecture, weights, class names, preprocessing, layers.

    Registering one is a job (:class:`core.jobs.TrackedJob`): the request stores the files and
    a queued spec; the ``validate_model`` task loads the model in a worker, checks it (class
    count by one forward pass, explainable layers) and fills in ``class_names``,
    ``preprocessing`` and the layers, or fails with the reason (its files are then removed).
    Only a done spec is :meth:`~ModelSpecQuerySet.usable`.
    """

    class Kind(models.TextChoices):
        BUILTIN = "builtin", "Built-in"
        TORCHVISION = "torchvision", "torchvision architecture"
        TIMM = "timm", "timm architecture"
        TORCHSCRIPT = "torchscript", "TorchScript file"
        STATE_DICT = "state_dict", "State dict for a named architecture"

    name = models.SlugField(max_length=100, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    architecture = models.CharField(max_length=200, blank=True)
    weights_file = models.FileField(upload_to="models/", blank=True)
    class_names_file = models.FileField(upload_to="models/", blank=True)
    class_names = models.JSONField(default=list)
    preprocessing = models.JSONField(default=dict)
    explainable_layers = models.JSONField(default=list)
    default_layers = models.JSONField(default=list)

    objects = ModelSpecQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name


class CampaignQuerySet(models.QuerySet):
    """Who may see what of a campaign (the answer key stays closed while it is played).

    * **live** (draft, published, paused): images, overlays, classes and predictions reach
      researchers and campaign admins only; players see a published campaign's name and
      description, and its class choices inside a round.
    * **closed**: the same, until an admin opens its results to the public (``results_public``).
    """

    def public_results(self) -> CampaignQuerySet:
        return self.filter(status=Campaign.Status.CLOSED, results_public=True)

    def listed_publicly(self) -> CampaignQuerySet:
        """Campaigns whose name, description and leaderboard anyone may see."""
        return self.filter(
            Q(status__in=[Campaign.Status.PUBLISHED, Campaign.Status.PAUSED])
            | Q(status=Campaign.Status.CLOSED, results_public=True)
        )


def default_languages() -> list[str]:
    return ["en"]


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    class TargetMode(models.TextChoices):
        PREDICTED = "predicted", "Predicted top-1 class"
        TRUE = "true", "True class"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    model = models.ForeignKey(ModelSpec, on_delete=models.PROTECT, related_name="campaigns")
    classes = models.JSONField(default=list, help_text="Class subset (model class names).")
    aliases = models.JSONField(default=dict, help_text="Class name -> list of aliases.")
    forbidden_terms = models.JSONField(
        default=dict,
        blank=True,
        help_text="Class name -> {language code: [terms]}: translations and synonyms a "
        "characteristic must not use (leak control, processing/nlp/leaks.py).",
    )
    languages = models.JSONField(
        default=default_languages,
        help_text="ISO 639-1 codes of the languages characteristics may be written in; the "
        "first is the main one (other languages are grouped apart).",
    )
    explained_layers = models.JSONField(default=list)
    engine_params = models.JSONField(default=dict)
    params_hash = models.CharField(max_length=64)
    target_mode = models.CharField(
        max_length=10, choices=TargetMode.choices, default=TargetMode.PREDICTED
    )
    target_rounds = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    results_public = models.BooleanField(
        default=False,
        help_text="Closed campaigns only: images, explanations and labels are open to everyone.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(results_public=False) | Q(status="closed"),
                name="results_public_only_when_closed",
            )
        ]
        permissions = [
            (
                "manage_campaigns",
                "Can manage campaigns (create, upload, compute, publish, moderate)",
            )
        ]

    def __str__(self) -> str:
        return self.name


def image_class_expression(prefix: str = "") -> Case:
    """SQL for :attr:`CampaignImage.class_name` (``prefix``: the path to the image, ``"image__"``)."""
    return Case(
        When(**{f"{prefix}true_class": ""}, then=F(f"{prefix}target_class")),
        default=F(f"{prefix}true_class"),
    )


class CampaignImageQuerySet(models.QuerySet):
    def of_classes(self, names) -> CampaignImageQuerySet:
        """Images whose :attr:`~CampaignImage.class_name` is one of ``names``."""
        names = list(names)
        return self.filter(Q(true_class__in=names) | Q(true_class="", target_class__in=names))

    def explained(self) -> CampaignImageQuerySet:
        """Images whose current job (their campaign's parameters) is done."""
        current_done = ExplanationJob.objects.filter(
            image=OuterRef("pk"),
            params_hash=OuterRef("campaign__params_hash"),
            status=ExplanationJob.Status.DONE,
        )
        return self.filter(Exists(current_done))


class CampaignImage(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to="images/")
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    true_class = models.CharField(max_length=200, blank=True)
    # The image exactly as the model saw it (after resize and crop), as a PNG.
    view_file = models.FileField(upload_to="views/", blank=True)
    # The game image (METHOD §5): the model's field of view taken from the original at its own
    # resolution, ``game_size`` on the long side; frames and overlays line up with it.
    game_file = models.FileField(upload_to="games/", blank=True)
    predicted_index = models.IntegerField(null=True, blank=True)
    predicted_class = models.CharField(max_length=200, blank=True)
    probability = models.FloatField(null=True, blank=True)
    target_index = models.IntegerField(null=True, blank=True)
    target_class = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignImageQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "sha256"], name="uniq_image_per_campaign"),
        ]

    def __str__(self) -> str:
        return self.original_name or f"image {self.pk}"

    @property
    def class_name(self) -> str:
        """The class the image is about (a round's answer): its true class, else the class it
        was explained for. In queries: :func:`image_class_expression`."""
        return self.true_class or self.target_class


class ExplanationJobQuerySet(models.QuerySet):
    """A campaign's *current* job of an image is the one with the campaign's ``params_hash``
    (older jobs, computed with other parameters, stay stored but are never shown or played)."""

    def current(self) -> ExplanationJobQuerySet:
        """Every campaign's current jobs."""
        return self.filter(params_hash=F("image__campaign__params_hash"))

    def current_for(self, campaign: Campaign) -> ExplanationJobQuerySet:
        """The current jobs of ``campaign``'s images."""
        return self.filter(image__campaign=campaign, params_hash=campaign.params_hash)

    def done(self) -> ExplanationJobQuerySet:
        return self.filter(status=ExplanationJob.Status.DONE)


class ExplanationJob(TrackedJob):
    """The INV explanation of one image with one set of parameters (``params_hash``)."""

    image = models.ForeignKey(CampaignImage, on_delete=models.CASCADE, related_name="jobs")
    params_hash = models.CharField(max_length=64)
    engine_params = models.JSONField(default=dict)
    layers = models.JSONField(default=list)
    device = models.CharField(
        max_length=20,
        blank=True,
        help_text="Engine device that computed the result (cpu, cuda, cuda:1); paper-mode "
        "clusters differ between devices (docs/gpu.md).",
    )

    objects = ExplanationJobQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "params_hash"], name="uniq_job_per_params"),
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"


class LayerResultQuerySet(models.QuerySet):
    def current_for(self, campaign: Campaign) -> LayerResultQuerySet:
        """The layers of ``campaign``'s finished current jobs."""
        return self.filter(
            image__campaign=campaign,
            job__params_hash=campaign.params_hash,
            job__status=ExplanationJob.Status.DONE,
        )


class LayerResult(models.Model):
    job = models.ForeignKey(ExplanationJob, on_delete=models.CASCADE, related_name="layer_results")
    image = models.ForeignKey(CampaignImage, on_delete=models.CASCADE, related_name="layer_results")
    layer = models.CharField(max_length=200)
    position = models.PositiveIntegerField(help_text="0 = shallowest explained layer.")
    n_channels = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    kept_channels = models.JSONField(default=list)
    n_clusters_before_prune = models.PositiveIntegerField(default=0)
    retained_weight = models.FloatField()
    no_positive_evidence = models.BooleanField(default=False)
    shares = models.BinaryField(help_text="float16 .npy, (K,) percent shares")
    gradcam = models.BinaryField(help_text="float16 .npy, (H, W) in [0, 1]")
    gradcam_overlay = models.FileField(upload_to="overlays/", blank=True)

    objects = LayerResultQuerySet.as_manager()

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "layer"], name="uniq_layer_per_job"),
            models.UniqueConstraint(fields=["job", "position"], name="uniq_layer_position_per_job"),
        ]

    def __str__(self) -> str:
        return f"{self.layer} of job {self.job_id}"


class ClusterMapQuerySet(models.QuerySet):
    def current_for(self, campaign: Campaign) -> ClusterMapQuerySet:
        """The cluster maps of ``campaign``'s finished current jobs."""
        return self.filter(
            image__campaign=campaign,
            layer_result__job__status=ExplanationJob.Status.DONE,
            layer_result__job__params_hash=campaign.params_hash,
        )

    def playable(self) -> ClusterMapQuerySet:
        """Every item of the game: the cluster maps of published campaigns' finished current
        jobs (game/models.py)."""
        return self.filter(
            image__campaign__status=Campaign.Status.PUBLISHED,
            layer_result__job__status=ExplanationJob.Status.DONE,
            layer_result__job__params_hash=F("image__campaign__params_hash"),
        )


class ClusterMap(models.Model):
    """One weighted cluster map (image × layer × cluster): the unit of play in Deep Reveal."""

    layer_result = models.ForeignKey(LayerResult, on_delete=models.CASCADE, related_name="clusters")
    image = models.ForeignKey(CampaignImage, on_delete=models.CASCADE, related_name="clusters")
    index = models.PositiveIntegerField(help_text="0 = heaviest cluster of the layer.")
    channels = models.JSONField(default=list)
    weight = models.FloatField(
        validators=[MinValueValidator(0.0), MaxValueValidator(100.0)], help_text="W_C in percent"
    )
    n_maps = models.PositiveIntegerField()
    map = models.BinaryField(help_text="float16 .npy, (H, W) in [0, 1] at native resolution")
    overlay = models.FileField(upload_to="overlays/")
    frames = models.JSONField(
        default=list, help_text="Storage names of the reveal frames, step 0..5."
    )

    objects = ClusterMapQuerySet.as_manager()

    class Meta:
        ordering = ["layer_result", "index"]
        constraints = [
            models.UniqueConstraint(fields=["layer_result", "index"], name="uniq_cluster_index"),
            models.CheckConstraint(
                condition=Q(weight__gt=0) & Q(weight__lte=100), name="cluster_weight_range"
            ),
        ]

    def __str__(self) -> str:
        return f"cluster {self.index} of {self.layer_result}"
