"""Records of label processing (METHOD §6–§8): what researchers read.

Provenance runs through foreign keys all the way down:

    GlobalLabel / LabelTrend (per class, layer, label string)
      ← MergedGroup (per image × layer; ``cluster_ids`` and label scores)
      ← ClusterLabelScore (per cluster × label; ``group_ids``: its LabelGroups)
      ← LabelGroup (per campaign × guessed class: canonical label, members)
      ← LabelMention (one per Characteristic: cleaned text, lemma key, refusal reason)
      → Characteristic → Round → Player

The *label* of a group is its curated ``name`` when set, else its ``canonical`` label; scores
are kept per label string, so groups of different guessed classes with the same label count
together on a cluster (as in the paper). Curation (:class:`CurationRule`) is stored apart,
keyed on normalised member keys, and re-applied after each regroup.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.jobs import JobStatus, TrackedJob
from explanations.models import Campaign, CampaignImage, ClusterMap, LayerResult
from game.models import Characteristic, Player, Round


class CampaignProcessing(TrackedJob):
    """Processing state of one campaign (the row locked while its labels are written).

    One row per campaign, run again and again (a full regroup or a catch-up): it rests
    **done** (nothing queued: also before the first run), goes **queued** when a task is sent
    and **running** while one works; **failed** keeps the last run's error.
    """

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="processing")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.DONE)
    settings = models.JSONField(default=dict, help_text="GroupingSettings of the last rebuild.")
    settings_hash = models.CharField(max_length=64, blank=True)
    model_id = models.CharField(max_length=200, blank=True)
    n_mentions = models.PositiveIntegerField(default=0)
    n_refused = models.PositiveIntegerField(default=0)
    n_groups = models.PositiveIntegerField(default=0)
    mentions_at_rebuild = models.PositiveIntegerField(default=0)
    mentions_since_rebuild = models.PositiveIntegerField(
        default=0, help_text="Placed incrementally since the last full regroup."
    )
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "campaign processing"

    def __str__(self) -> str:
        return f"processing of {self.campaign_id} ({self.status})"


class LabelEmbedding(models.Model):
    """Cache of sentence embeddings: (model, exact string embedded) → float32 unit vector."""

    model_id = models.CharField(max_length=200)
    text = models.TextField()
    vector = models.BinaryField(help_text="float32 bytes, unit L2 norm")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_id", "text"], name="uniq_embedding_text"),
        ]

    def __str__(self) -> str:
        return self.text


class LabelGroup(models.Model):
    """A synonym group of one campaign and guessed class (METHOD §6.4–6.5).

    members: distinct lemma keys, most mentioned first; member_counts: their mentions;
    surfaces: per key, the surface forms typed (spelling-corrected) and their counts.
    """

    class Origin(models.TextChoices):
        REBUILD = "rebuild", "Full regroup"
        INCREMENTAL = "incremental", "Incremental"
        CURATION = "curation", "Curation"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="label_groups")
    class_name = models.CharField(max_length=200, help_text="The guessed class.")
    canonical = models.CharField(max_length=200, help_text="Canonical label as shown.")
    canonical_lemma = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True, help_text="Curated name.")
    blocked = models.BooleanField(default=False)
    members = models.JSONField(default=list)
    member_counts = models.JSONField(default=list)
    surfaces = models.JSONField(default=dict)
    count = models.PositiveIntegerField(default=0)
    score = models.FloatField(default=0.0)
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.REBUILD)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "class_name", "-count", "canonical"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "class_name", "canonical_lemma"], name="uniq_group_lemma"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.name or self.canonical


class LabelMention(models.Model):
    """One characteristic as processed: cleaned text, lemma key, group (or refusal reason)."""

    characteristic = models.OneToOneField(
        Characteristic, on_delete=models.CASCADE, related_name="mention"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="mentions")
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    cluster_map = models.ForeignKey(ClusterMap, on_delete=models.CASCADE, related_name="mentions")
    image = models.ForeignKey(CampaignImage, on_delete=models.CASCADE, related_name="+")
    class_name = models.CharField(max_length=200, help_text="The guessed class used to group.")
    text = models.CharField(max_length=200, blank=True, help_text="Cleaned, class names removed.")
    key = models.CharField(max_length=200, blank=True, help_text="Lemma key (grouped).")
    surface = models.CharField(max_length=200, blank=True)
    corrections = models.JSONField(default=list)
    refused_reason = models.CharField(max_length=20, blank=True)
    group = models.ForeignKey(
        LabelGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="mentions"
    )
    processed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["characteristic"]
        indexes = [
            models.Index(fields=["campaign", "class_name", "key"], name="mention_key_idx"),
            models.Index(fields=["image"], name="mention_image_idx"),
        ]

    def __str__(self) -> str:
        return self.key or f"refused ({self.refused_reason})"


class ClusterStat(models.Model):
    """Rounds on one cluster and its best labels (METHOD §7); kept for unlabelled clusters."""

    cluster_map = models.OneToOneField(ClusterMap, on_delete=models.CASCADE, related_name="stat")
    image = models.ForeignKey(CampaignImage, on_delete=models.CASCADE, related_name="+")
    rounds = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    resigns = models.PositiveIntegerField(default=0)
    mean_step = models.FloatField(null=True, blank=True, help_text="A resign counts as 5.")
    n_mentions = models.PositiveIntegerField(default=0)
    best = models.JSONField(default=list, help_text="Labels tied at the maximum score.")
    labelled = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"stats of {self.cluster_map_id}"


class ClusterLabelScore(models.Model):
    """score(C, s) = f · (1 − 0.1 · p̄) · (1 if correct else 1/4) for one cluster and label."""

    cluster_map = models.ForeignKey(
        ClusterMap, on_delete=models.CASCADE, related_name="label_scores"
    )
    image = models.ForeignKey(CampaignImage, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=200)
    group_ids = models.JSONField(
        default=list, help_text="LabelGroups shown under this label whose mentions count here."
    )
    mentions = models.PositiveIntegerField(help_text="f")
    mean_step = models.FloatField(help_text="p̄ (a resign counts as 5)")
    correct = models.BooleanField()
    score = models.FloatField()
    is_best = models.BooleanField(default=False)
    rank = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["cluster_map", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["cluster_map", "label"], name="uniq_cluster_label"),
        ]

    def __str__(self) -> str:
        return f"{self.label} on {self.cluster_map_id}: {self.score:.3f}"


class MergedGroup(models.Model):
    """Clusters of one image × layer shown as one card (METHOD §7).

    kind "single": one cluster (labelled or not), "merged": clusters whose best labels
    intersect, "full": every cluster of the layer. scores: [[label, score_M, Σ_C score]],
    highest score_M first. map: W-weighted mean of the member maps (float16 .npy; empty for
    a single cluster, whose own map is the cluster's).
    """

    class Kind(models.TextChoices):
        SINGLE = "single", "Single cluster"
        MERGED = "merged", "Merged"
        FULL = "full", "Full merge"

    image = models.ForeignKey(CampaignImage, on_delete=models.CASCADE, related_name="+")
    layer_result = models.ForeignKey(
        LayerResult, on_delete=models.CASCADE, related_name="merged_groups"
    )
    layer = models.CharField(max_length=200)
    kind = models.CharField(max_length=6, choices=Kind.choices)
    members_key = models.CharField(max_length=500, help_text="Sorted cluster ids.")
    cluster_ids = models.JSONField(default=list, help_text="Member ClusterMap ids.")
    weight = models.FloatField()
    n_maps = models.PositiveIntegerField()
    rounds = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    resigns = models.PositiveIntegerField(default=0)
    mean_step = models.FloatField(null=True, blank=True)
    scores = models.JSONField(default=list)
    best = models.JSONField(default=list)
    labelled = models.BooleanField(default=False)
    map = models.BinaryField(blank=True, default=b"")

    class Meta:
        ordering = ["image", "layer_result", "kind", "-weight"]
        constraints = [
            models.UniqueConstraint(
                fields=["layer_result", "kind", "members_key"], name="uniq_merged_group"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} group {self.members_key} of {self.layer}"


class GlobalLabel(models.Model):
    """A label of a class at a layer (METHOD §8): G(s), mean weight, examples, support."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="global_labels")
    class_name = models.CharField(max_length=200, help_text="The images' true class.")
    layer = models.CharField(max_length=200)
    layer_position = models.PositiveIntegerField()
    label = models.CharField(max_length=200)
    total = models.FloatField(help_text="G(s)")
    mean_weight = models.FloatField()
    n_groups = models.PositiveIntegerField()
    n_images = models.PositiveIntegerField(help_text="Supporting images.")
    class_images = models.PositiveIntegerField(help_text="Images of the class labelled here.")
    normalised = models.FloatField(help_text="Per-image-normalised share.")
    rank = models.PositiveIntegerField(help_text="0 = highest G(s).")
    rank_normalised = models.PositiveIntegerField()
    examples = models.JSONField(default=list, help_text='[{"image": id, "clusters": [ids]}]')

    class Meta:
        ordering = ["campaign", "class_name", "layer_position", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "class_name", "layer", "label"], name="uniq_global_label"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.class_name}, {self.layer})"


class LabelTrend(models.Model):
    """A label's mean score per layer across depth and its least-squares slope (METHOD §8)."""

    class Direction(models.TextChoices):
        RISING = "rising", "Rising"
        FADING = "fading", "Fading"
        FLAT = "flat", "Flat"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="label_trends")
    class_name = models.CharField(max_length=200)
    label = models.CharField(max_length=200)
    layers = models.JSONField(default=list)
    values = models.JSONField(default=list, help_text="Per layer; null: no labelled group.")
    slope = models.FloatField()
    direction = models.CharField(max_length=6, choices=Direction.choices)
    rank = models.PositiveIntegerField(help_text="0 = steepest in its direction.")
    shown = models.BooleanField(default=False, help_text="Among the 6 rising or 6 fading.")

    class Meta:
        ordering = ["campaign", "class_name", "direction", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "class_name", "label"], name="uniq_label_trend"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.class_name}): {self.slope:+.3f}"


class CurationRule(models.Model):
    """A researcher's correction, keyed on normalised member keys; re-applied after regroups.

    rename: the group holding most of ``keys`` (by mentions) is named ``name``.
    merge: every group holding one of ``keys`` becomes one group (named ``name`` if given).
    split: ``keys`` leave their groups and form one group (named ``name`` if given).
    block: ``keys`` leave their groups and form one blocked group (kept out of every score).
    unblock: the group holding most of ``keys`` is unblocked.
    """

    class Action(models.TextChoices):
        RENAME = "rename", "Rename"
        MERGE = "merge", "Merge"
        SPLIT = "split", "Split"
        BLOCK = "block", "Block"
        UNBLOCK = "unblock", "Unblock"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="curation_rules")
    class_name = models.CharField(max_length=200)
    action = models.CharField(max_length=8, choices=Action.choices)
    keys = models.JSONField(default=list)
    name = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(action="rename") | ~Q(name=""), name="curation_rename_has_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.keys[:3]}"


class CampaignExport(TrackedJob):
    """A campaign export (JSON + CSV in one zip) built by a task, downloaded by its token."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="exports")
    token = models.CharField(max_length=43, unique=True, editable=False)
    file = models.FileField(upload_to="exports/", blank=True)
    size = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.campaign_id} ({self.status})"


class VerificationQuestion(models.Model):
    """A pair of labels of one campaign and guessed class that people are asked about (issue 12):
    "Another player described this region as *a*. Same thing as your *b*?" (or two other
    players' texts of the class).

    Keyed on the two lemma keys (sorted); ``characteristic_a`` / ``characteristic_b`` are the
    characteristics shown when it was created (players see their raw texts; a regroup maps the
    decision to their keys of the day). Answers (:class:`VerificationAnswer`) decide it by the
    sequential rule of ``processing.nlp.verify`` (``processing.selectors.question_verdict``);
    a decided question is a must-link ("same") or a cannot-link ("different") of the next
    grouping of the class. ``yes`` / ``no`` sum the weights of the *counted* answers: of trusted
    players only (``game.selectors.trusted_players_q``), each weighted by its player's accuracy
    on gold questions (``processing.nlp.reliability.Reliability``), at most one per network
    (``processing.nlp.reliability.counted_evidence``); they are recounted when a player's trust
    crosses ``NETVIZ_TRUST_MIN_COUNTED`` or their accuracy changes
    (``processing.services.verification.verification_recount``). A gold question
    (``gold_same`` set) is offered and counted like any other; its answers also measure the
    answerers.
    """

    class Kind(models.TextChoices):
        MERGE = "merge", "Merge (in different groups)"
        SPLIT = "split", "Split (in one group)"

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="verification_questions"
    )
    class_name = models.CharField(max_length=200, help_text="The guessed class.")
    key_a = models.CharField(max_length=200)
    key_b = models.CharField(max_length=200)
    characteristic_a = models.ForeignKey(
        Characteristic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    characteristic_b = models.ForeignKey(
        Characteristic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    distance = models.FloatField(help_text="Grouping distance of the pair when asked.")
    prior = models.FloatField(
        null=True,
        blank=True,
        help_text="P(same) before any answer, fixed when first asked (the uncertainty model's "
        "prior of its kind and distance then), so that a refitted model never changes the "
        "verdict of answers already given. Empty: computed from kind and distance.",
    )
    yes = models.FloatField(
        default=0.0,
        help_text='Counted answers "same": the sum of their weights (1 for an answerer of the '
        "assumed accuracy; one answer per network).",
    )
    no = models.FloatField(
        default=0.0, help_text='Counted answers "different": the sum of their weights.'
    )
    gold_same = models.FloatField(
        null=True,
        blank=True,
        help_text="Gold question: P(same) the data presumes (a pair another player typed in one "
        "round, or one the model finds very unlikely the same); its answers measure each "
        "answerer's accuracy. Empty: not a gold question.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "class_name", "key_a", "key_b"], name="verification_pair_unique"
            ),
            models.CheckConstraint(
                condition=Q(key_a__lt=models.F("key_b")), name="verification_keys_sorted"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key_a} ~ {self.key_b} ({self.class_name}: {self.yes}/{self.no})"


class VerificationOffer(models.Model):
    """A question as offered to one player after one of their rounds, with what they were
    shown. Only an offered question may be answered (``verification_answer_submit``), and a
    round gets one question: a player cannot pick the questions they answer by id, and answers
    come at the pace of finished rounds. Offered again after a later round, the offer moves to
    that round."""

    question = models.ForeignKey(
        VerificationQuestion, on_delete=models.CASCADE, related_name="offers"
    )
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(
        Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text_a = models.CharField(max_length=200, blank=True, help_text="First text, prompt order.")
    text_b = models.CharField(max_length=200, blank=True, help_text="Second text.")
    yours = models.CharField(
        max_length=200, blank=True, help_text="The player's own text of the two, if one is."
    )
    prompt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question", "player"], name="verification_offer_once"),
            models.UniqueConstraint(
                fields=["player", "round"],
                condition=Q(round__isnull=False),
                name="verification_offer_per_round",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question_id} offered to {self.player_id}"


class VerificationAnswer(models.Model):
    """One player's answer to a :class:`VerificationQuestion` (one per player and question).

    Only a question offered to the player (:class:`VerificationOffer`) may be answered.
    points: the output-agreement bonus, given once the answers decide the question
    (``processing.nlp.verify``'s sequential rule) and at least two counted answers (two
    networks) agree with the verdict, to every counted answer that agrees (``awarded`` set
    then; an answer that does not count, ``weight`` 0, waits, earning nothing).
    """

    question = models.ForeignKey(
        VerificationQuestion, on_delete=models.CASCADE, related_name="answers"
    )
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(
        Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    same = models.BooleanField()
    points = models.PositiveIntegerField(default=0)
    awarded = models.BooleanField(default=False)
    network = models.CharField(
        max_length=32,
        blank=True,
        help_text="Keyed hash of the answering client's network (IPv4 /24, IPv6 /64): one "
        "counted answer per network and question. Empty: unknown (the player's own).",
    )
    weight = models.FloatField(
        default=0.0,
        help_text="What the answer counts in the question's yes / no at its last count (0: not "
        "counted: an untrusted player, one failing the gold questions, or another answer "
        "from its network counted first).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question", "player"], name="verification_answer_once")
        ]

    def __str__(self) -> str:
        return f"{self.player_id}: {'same' if self.same else 'different'} ({self.question_id})"
