"""Writes of label processing (METHOD §6–§8): groups, mentions, scores, merges, globals.

One module per concern (keyword-only entry points, HackSoft style); the in-memory group algebra
they use is pure (:mod:`processing.nlp.groups`), and so is the scoring (:mod:`processing.scoring`).

* :mod:`.rounds` — :func:`rounds_process`, the incremental path run by the ``process_rounds``
  task a finished round enqueues (batched per campaign), and :func:`round_process` of one round.
* :mod:`.rebuild` — :func:`campaign_rebuild` (the full regroup), :func:`campaign_catch_up`, and
  :func:`campaign_process` (either, the ``process_campaign`` task's work).
* :mod:`.scores` and :mod:`.global_labels` — cluster scores, stats, merged groups (maps
  included) and global explanations, recomputed from the stored records.
* :mod:`.curation` — :func:`label_group_rename`, :func:`label_groups_merge`,
  :func:`label_group_split`, :func:`label_group_block`, :func:`curation_rule_delete`.
* :mod:`.exports` — :func:`campaign_export_create`, :func:`campaign_export_run`.
* :mod:`.trust` — players' agreement and trust after processing.
* :mod:`.verification` — the players' bonus questions on synonym pairs (issue 12).
* :mod:`.enqueue` — the processing tasks, enqueued after commit.
* :mod:`.common` and :mod:`.label_groups` — settings, the embedder, the campaign lock, stored
  groups to and from working groups.

Every write of one campaign happens under a lock on its ``CampaignProcessing`` row, so an
incremental task, a rebuild and a curation action never interleave. This package re-exports
the entry points other apps call.
"""

from .common import grouping_settings_get, processing_warm_up
from .curation import (
    curation_rule_delete,
    label_group_block,
    label_group_rename,
    label_group_split,
    label_groups_merge,
)
from .enqueue import campaign_process_enqueue, rounds_process_enqueue
from .exports import campaign_export_create, campaign_export_fail, campaign_export_run
from .rebuild import RebuildResult, campaign_catch_up, campaign_process, campaign_rebuild
from .rounds import ProcessResult, label_mentions_follow_merge, round_process, rounds_process
from .trust import (
    campaigns_rescore,
    players_trust_refresh,
    round_trust_update,
    rounds_trust_update,
)
from .verification import (
    verification_answer_submit,
    verification_answers_merge,
    verification_question_next,
    verification_recount,
)

__all__ = [
    "ProcessResult",
    "RebuildResult",
    "campaign_catch_up",
    "campaign_export_create",
    "campaign_export_fail",
    "campaign_export_run",
    "campaign_process",
    "campaign_process_enqueue",
    "campaign_rebuild",
    "campaigns_rescore",
    "curation_rule_delete",
    "grouping_settings_get",
    "label_group_block",
    "label_group_rename",
    "label_group_split",
    "label_groups_merge",
    "label_mentions_follow_merge",
    "players_trust_refresh",
    "processing_warm_up",
    "round_process",
    "round_trust_update",
    "rounds_process",
    "rounds_process_enqueue",
    "rounds_trust_update",
    "verification_answer_submit",
    "verification_answers_merge",
    "verification_question_next",
    "verification_recount",
]
