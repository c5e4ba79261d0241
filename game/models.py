"""Deep Reveal (METHOD §5): players, rounds and the characteristics players type.

An *item* is one ClusterMap of a DONE ExplanationJob whose ``params_hash`` equals its campaign's
``params_hash``, in a campaign whose status is ``published``. Items are not copied into a table
of their own: a Round points at its ClusterMap and carries the denormalised image, campaign and
layer position that assignment, uniqueness and leaderboards need. An item's round counts are
kept in an :class:`ItemTally` row, so that assignment never counts a campaign's rounds.

The class a round is about (the "answer") is ``image.true_class`` when set, otherwise
``image.target_class`` (the class the explanation was computed for).
"""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.db import models
from django.db.models import Q

from explanations.models import Campaign, CampaignImage, ClusterMap

from . import rules

# Letters that look alike (after case folding): two display names that differ only by these,
# by case, accents, spaces or '.', '-', '_' are the same name (no impersonation by look-alikes).
_CONFUSABLES = str.maketrans(
    {
        "0": "o",
        "1": "l",
        "i": "l",
        "|": "l",
        "5": "s",
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "һ": "h",
        "н": "h",
        "і": "l",
        "ї": "l",
        "ј": "j",
        "к": "k",
        "м": "m",
        "о": "o",
        "п": "n",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ѕ": "s",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "l",
        "κ": "k",
        "μ": "u",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
    }
)
NICKNAME_KEY_LENGTH = 100


def nickname_key(nickname: str) -> str:
    """The form under which display names are unique: case, accents, separators and look-alike
    letters folded (``"Al1ce"``, ``"alice"``, ``"A.L.I.C.E"`` and Cyrillic ``"Аlice"`` are one)."""
    text = unicodedata.normalize("NFKD", nickname or "").casefold()
    text = "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))
    text = text.translate(_CONFUSABLES).replace("rn", "m").replace("vv", "w")
    return text[:NICKNAME_KEY_LENGTH]


class Player(models.Model):
    """Someone who plays: a registered user, or a guest bound to a browser session.

    ``nickname`` is the player's public display name, the only name shown on public pages
    (leaderboards, summaries): chosen by the player, or generated ("Player 4821") for an account
    that has not chosen one, never the account's username. Display names are unique under
    ``nickname_key`` (case, accents, separators and look-alike letters folded); game/services.py
    also keeps them apart from other accounts' usernames.

    Totals are denormalised (updated with F() expressions when a round finishes) so that the
    all-time leaderboard and a player's rank are single indexed reads.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="player",
    )
    nickname = models.CharField(
        max_length=rules.NICKNAME_MAX_LENGTH, help_text="Public display name."
    )
    nickname_key = models.CharField(
        max_length=NICKNAME_KEY_LENGTH,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="nickname_key(nickname): display names are unique under it (set on save).",
    )
    points = models.PositiveIntegerField(default=0)
    rounds_finished = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    resigns = models.PositiveIntegerField(default=0)
    step_sum = models.PositiveIntegerField(
        default=0, help_text="Sum of the reveal step of finished rounds (resign counts as 5)."
    )
    is_blocked = models.BooleanField(default=False, help_text="Blocked players cannot play.")
    network = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="A keyed hash of the network (IPv4 /24, IPv6 /48) a guest was started from; "
        "for an account, of its first game request; empty for older players. Players of one network "
        "do not count as agreeing with each other.",
    )
    # Trust (docs/METHOD_NOTES.md, "Player trust"): the weight of the player's labels and whether
    # their rounds count toward an item's target. ``trust`` is computed from the evidence below
    # (processing/trust.py); an admin's ``trust_override`` replaces it; a blocked player has 0.
    trust = models.FloatField(
        default=0.5, help_text="Computed trust in [0, 1] (the prior until there is evidence)."
    )
    trust_override = models.FloatField(
        null=True, blank=True, help_text="Set by an admin: used instead of the computed trust."
    )
    trust_refusals = models.PositiveIntegerField(
        default=0, help_text="Characteristics refused when sent (class names, junk)."
    )
    trust_accepted = models.PositiveIntegerField(
        default=0, help_text="Characteristics accepted (at the last trust update)."
    )
    trust_step0_rounds = models.PositiveIntegerField(
        default=0, help_text="Finished rounds judged for wins at step 0."
    )
    trust_step0_wins = models.PositiveIntegerField(default=0, help_text="Wins at step 0.")
    trust_early_wins = models.PositiveIntegerField(
        default=0, help_text="Wins at step 1 or before (NETVIZ_TRUST early_step), of those rounds."
    )
    trust_early_expected = models.FloatField(
        default=0.0, help_text="Expected early wins: Σ of the crowd's early-win probability."
    )
    trust_unlabelled = models.PositiveIntegerField(
        default=0, help_text="Of those rounds, how many gave no label (resigns, never described)."
    )
    trust_step0_expected = models.FloatField(
        default=0.0,
        help_text="Expected wins at step 0: Σ over those rounds of the crowd's step-0 win "
        "probability on the item.",
    )
    trust_agreements = models.PositiveIntegerField(
        default=0, help_text="Labels another player also gave on the same cluster map."
    )
    trust_disagreements = models.PositiveIntegerField(
        default=0, help_text="Labels no other player gave on a cluster map others labelled."
    )
    trust_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_played_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-points", "id"]
        indexes = [models.Index(fields=["-points", "id"], name="player_points_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(trust__gte=0.0, trust__lte=1.0), name="player_trust_range"
            ),
            models.CheckConstraint(
                condition=Q(trust_override__isnull=True)
                | Q(trust_override__gte=0.0, trust_override__lte=1.0),
                name="player_trust_override_range",
            ),
        ]

    def __str__(self) -> str:
        return self.nickname

    def save(self, *args, **kwargs) -> None:
        self.nickname_key = nickname_key(self.nickname) or None
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "nickname" in update_fields:
            kwargs["update_fields"] = {*update_fields, "nickname_key"}
        super().save(*args, **kwargs)

    @property
    def is_guest(self) -> bool:
        return self.user_id is None

    @property
    def effective_trust(self) -> float:
        """The admin's override if set, else the computed trust; 0 for a blocked player."""
        if self.is_blocked:
            return 0.0
        return self.trust if self.trust_override is None else self.trust_override


class Round(models.Model):
    """One play of one item by one player.

    Life cycle (``status``):

    * ``active``: revealing; SHOW MORE, GUESS and RESIGN are allowed until ``expires_at``.
    * ``labelling``: guessed (``outcome`` win or loss); waiting for 1-5 characteristics.
    * ``done``: finished (after characteristics, after a resign, or a labelling round closed).
    * ``expired``: abandoned while active; it never counts towards the item's target.

    ``step`` is the reveal step 0..5 (after a resign it is recorded as 5, METHOD §5).
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LABELLING = "labelling", "Waiting for characteristics"
        DONE = "done", "Done"
        EXPIRED = "expired", "Expired"

    class Outcome(models.TextChoices):
        NONE = "", "None yet"
        WIN = "win", "Win"
        LOSS = "loss", "Loss"
        RESIGN = "resign", "Resign"

    token = models.CharField(max_length=43, unique=True, editable=False)
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="rounds")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rounds")
    image = models.ForeignKey(CampaignImage, on_delete=models.CASCADE, related_name="rounds")
    cluster_map = models.ForeignKey(ClusterMap, on_delete=models.CASCADE, related_name="rounds")
    layer_position = models.PositiveIntegerField(help_text="Copy of the layer's position.")
    answer = models.CharField(max_length=200, help_text="True class of the image for the game.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    outcome = models.CharField(max_length=6, choices=Outcome.choices, default="", blank=True)
    step = models.PositiveSmallIntegerField(default=0)
    guess = models.CharField(max_length=200, blank=True)
    points_base = models.PositiveIntegerField(default=0)
    points_bonus = models.PositiveIntegerField(default=0)
    points = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    guessed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When label processing took the finished round in (its characteristics "
        "grouped and scored, its player's trust updated); null while it waits.",
    )
    processing_error = models.CharField(
        max_length=300,
        blank=True,
        default="",
        help_text="Why label processing failed on this round alone (set when it failed again "
        "on its own after its batch failed); such a round no longer waits in the batches, the "
        "campaign's catch-up (process_labels) retries it and clears this.",
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # A player never gets two items of the same image (the first reveals the answer).
            models.UniqueConstraint(fields=["player", "image"], name="round_one_per_player_image"),
            # At most one open round per player.
            models.UniqueConstraint(
                fields=["player"],
                condition=Q(status__in=["active", "labelling"]),
                name="round_one_open_per_player",
            ),
            models.CheckConstraint(condition=Q(step__lte=5), name="round_step_range"),
        ]
        indexes = [
            models.Index(fields=["cluster_map", "status"], name="round_item_status_idx"),
            models.Index(fields=["finished_at"], name="round_finished_idx"),
            models.Index(fields=["campaign", "layer_position"], name="round_layer_idx"),
            # The few active rounds by expiry: the sweep of abandoned rounds and the rounds
            # that stopped counting against their item (selectors.assignment).
            models.Index(
                fields=["expires_at"],
                condition=Q(status="active"),
                name="round_active_expiry_idx",
            ),
            # The finished rounds label processing has not taken in yet, per campaign
            # (processing.services.rounds.rounds_process): a few, however long the history.
            models.Index(
                fields=["campaign"],
                condition=Q(status="done", processed_at__isnull=True),
                name="round_unprocessed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"round {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status == self.Status.DONE


class Characteristic(models.Model):
    """A short free text of what the player saw, as typed (the raw text is always kept)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="characteristics")
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="characteristics")
    position = models.PositiveSmallIntegerField(help_text="0-based order within the round.")
    text = models.CharField(max_length=200)
    hidden = models.BooleanField(default=False, help_text="Hidden by a moderator.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["round", "position"]
        constraints = [
            models.UniqueConstraint(fields=["round", "position"], name="characteristic_position"),
        ]

    def __str__(self) -> str:
        return self.text


class ItemTally(models.Model):
    """How many rounds an item (cluster map) has: its active and its finished rounds.

    Kept exact by the statements that change a round's status, in the same transaction
    (``game.services.tallies``): a start adds a live round; a guess or a resign moves one from
    live to finished; an expiry (or a closed active round) takes a live one away. A round waiting
    for characteristics that finishes stays finished. Assignment reads these rows instead of
    counting a campaign's rounds, so a round start costs the same at any number of rounds.

    The counts are of every player's rounds, by status only: whether a round counts against the
    item's target also depends on its player's trust and on its expiry (``counted_rounds_q``),
    which change without a round statement, so assignment subtracts those rounds when it orders
    the items, and re-counts an item exactly under its row lock whenever this row says it may be
    at its target. ``manage.py game_item_tallies_rebuild`` recounts the rows from the rounds
    (after rounds were written around the services, e.g. by a bulk import).
    """

    cluster_map = models.OneToOneField(
        ClusterMap, primary_key=True, on_delete=models.CASCADE, related_name="tally"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="item_tallies")
    live = models.PositiveIntegerField(default=0, help_text="Active rounds.")
    finished = models.PositiveIntegerField(
        default=0, help_text="Guessed or resigned rounds (waiting for characteristics, or done)."
    )

    class Meta:
        verbose_name_plural = "item tallies"

    def __str__(self) -> str:
        return f"item {self.cluster_map_id}: {self.live} live, {self.finished} finished"
