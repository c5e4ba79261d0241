"""What every processing service shares: settings, the embedder, a campaign's text context, the
campaign lock and the rows characteristics are read as.

Every write of one campaign happens under a lock on its :class:`CampaignProcessing` row
(:func:`processing_state_lock`), so an incremental task, a rebuild and a curation action never
interleave.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

import numpy as np
from django.conf import settings
from django.db.models import QuerySet

from explanations.models import Campaign
from game.models import Characteristic, Round
from processing.embeddings import LookupOnlyEmbedder, StoredEmbedder
from processing.models import CampaignProcessing, LabelGroup, LabelMention
from processing.nlp.embed import Embedder, TemplatedEmbedder
from processing.nlp.grouping import GroupingSettings
from processing.nlp.groups import bucket_class, bucket_of
from processing.nlp.leaks import forbidden_terms_for
from processing.nlp.pipeline import prepare_label

#: A long job's progress callback: (stage, fraction done in [0, 1]).
ProgressFn = Callable[[str, float], None]

#: Refusal reasons set here (the others come from processing.nlp.clean).
HIDDEN = "hidden"
BLOCKED_PLAYER = "blocked_player"


# --- settings ---------------------------------------------------------------------------------


def grouping_settings_get() -> GroupingSettings:
    """GroupingSettings with the overrides of ``settings.NETVIZ_GROUPING`` (a dict)."""
    return GroupingSettings(**(settings.NETVIZ_GROUPING or {}))


def regroup_policy() -> tuple[float, int]:
    """(growth, minimum): a full regroup is enqueued once the mentions placed incrementally since
    the last one reach max(minimum, growth × mentions at that regroup); growth 0 disables it.
    Settings ``NETVIZ_PROCESSING_REGROUP_GROWTH`` (0.25) and ``NETVIZ_PROCESSING_REGROUP_MIN``
    (200)."""
    return (
        float(settings.NETVIZ_PROCESSING_REGROUP_GROWTH),
        int(settings.NETVIZ_PROCESSING_REGROUP_MIN),
    )


def once_per_player() -> bool:
    """``NETVIZ_PROCESSING_ONCE_PER_PLAYER`` (off): a player counts once per (cluster, label)."""
    return bool(settings.NETVIZ_PROCESSING_ONCE_PER_PLAYER)


def trust_weights() -> bool:
    """Label scores count each mention with its player's trust weight (f = Σ weights), the
    NetViz option ``NETVIZ_PROCESSING_TRUST_WEIGHTS`` (on); off, every mention weighs 1 (the
    paper's f)."""
    return bool(settings.NETVIZ_PROCESSING_TRUST_WEIGHTS)


def settings_hash(gs: GroupingSettings, model_id: str) -> str:
    """A digest of the grouping settings and the embedding model a regroup used."""
    blob = json.dumps({"settings": gs.as_dict(), "model": model_id}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


# --- the embedder -------------------------------------------------------------------------------


def embedder_stored(embedder: Embedder | None, *, lookup_only: bool = False) -> StoredEmbedder:
    """The embedder wrapped in the database store (None: this process's model).

    ``lookup_only`` (web requests): stored vectors only, the model is never loaded."""
    if isinstance(embedder, StoredEmbedder):
        return embedder
    if embedder is None:
        from workers.runtime import embedder_get

        embedder = embedder_get()
    if lookup_only:
        return StoredEmbedder(LookupOnlyEmbedder(embedder), autoflush=False)
    return StoredEmbedder(embedder)


def embed_templated(
    embedder: StoredEmbedder, gs: GroupingSettings
) -> Callable[[Sequence[str]], np.ndarray]:
    """Embeds strings as grouping does (the settings' template)."""
    return TemplatedEmbedder(embedder, gs.template).embed


def processing_warm_up() -> None:
    """Load the embedder and the lemmatiser's dictionary of this process (no database)."""
    from workers.runtime import embedder_get

    gs = grouping_settings_get()
    TemplatedEmbedder(embedder_get(), gs.template).embed(["warm up"])
    prepare_label("warm ups", class_name="none", settings=gs)


# --- a campaign's text context -------------------------------------------------------------------


def campaign_aliases(campaign: Campaign, bucket: str) -> tuple[str, ...]:
    """The class names' aliases of a grouping bucket's class."""
    return tuple((campaign.aliases or {}).get(bucket_class(bucket), ()))


def campaign_forbidden(campaign: Campaign, bucket: str) -> tuple[str, ...]:
    """The words a label of a bucket's class may not contain (leaks)."""
    return forbidden_terms_for(campaign.forbidden_terms, [bucket_class(bucket)])


def campaign_languages(campaign: Campaign) -> tuple[str, ...]:
    """The campaign's accepted languages, its main one first."""
    return tuple(campaign.languages or ("en",))


def campaign_bucket(campaign: Campaign, class_name: str, text: str) -> str:
    """The grouping bucket of a characteristic (:func:`processing.nlp.groups.bucket_of`).
    Stored as ``LabelMention.class_name`` and ``LabelGroup.class_name``."""
    return bucket_of(class_name, text, languages=campaign_languages(campaign))


# --- the campaign's processing row ----------------------------------------------------------------


def processing_state_lock(campaign: Campaign) -> CampaignProcessing:
    """The campaign's processing row, locked until the end of the transaction."""
    state = CampaignProcessing.objects.select_for_update().filter(campaign=campaign).first()
    if state is None:
        CampaignProcessing.objects.get_or_create(campaign=campaign)
        state = CampaignProcessing.objects.select_for_update().get(campaign=campaign)
    return state


def processing_state_row(campaign: Campaign) -> CampaignProcessing:
    """The campaign's processing row (created if missing), not locked: its life cycle moves
    with :mod:`core.jobs` (``job_requeue``, ``job_start``, ``job_progress``, ``job_fail``)."""
    return CampaignProcessing.objects.get_or_create(campaign=campaign)[0]


def processing_counters_update(*, campaign: Campaign, **extra) -> None:
    """Recount the campaign's mentions, refusals and groups (and set ``extra`` fields)."""
    mentions = LabelMention.objects.filter(campaign=campaign)
    CampaignProcessing.objects.filter(campaign=campaign).update(
        n_mentions=mentions.filter(refused_reason="").count(),
        n_refused=mentions.exclude(refused_reason="").count(),
        n_groups=LabelGroup.objects.filter(campaign=campaign).count(),
        **extra,
    )


# --- characteristics as rows ---------------------------------------------------------------------


def characteristics_done(campaign: Campaign) -> QuerySet[Characteristic]:
    """The characteristics of the campaign's finished rounds."""
    return Characteristic.objects.filter(round__campaign=campaign, round__status=Round.Status.DONE)


def characteristic_rows(qs: QuerySet[Characteristic]) -> list[dict]:
    """The fields processing reads of each characteristic, in id order."""
    return list(
        qs.values(
            "id",
            "text",
            "hidden",
            "round_id",
            "player_id",
            "player__is_blocked",
            "round__guess",
            "round__answer",
            "round__cluster_map_id",
            "round__image_id",
        ).order_by("id")
    )


def row_bucket(campaign: Campaign, row: dict) -> str:
    """The grouping bucket of a characteristic row: by the guess (else the answer)."""
    return campaign_bucket(campaign, row["round__guess"] or row["round__answer"], row["text"])


def mention_build(row: dict, class_name: str, campaign: Campaign, **fields) -> LabelMention:
    """An unsaved LabelMention of a characteristic row."""
    return LabelMention(
        characteristic_id=row["id"],
        campaign=campaign,
        round_id=row["round_id"],
        player_id=row["player_id"],
        cluster_map_id=row["round__cluster_map_id"],
        image_id=row["round__image_id"],
        class_name=class_name,
        **fields,
    )


def excluded_reason(row: dict) -> str | None:
    """Why a characteristic row is refused before any text check (moderation), or None."""
    if row["hidden"]:
        return HIDDEN
    if row["player__is_blocked"]:
        return BLOCKED_PLAYER
    return None
