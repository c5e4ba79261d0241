"""Gold questions of the human verification (issue 12): pairs whose answer the data presumes.

A player's first :data:`GOLD_FIRST` bonus questions, then about one in five
(:data:`GOLD_SHARE`), pair one of their labels of the round with another player's, shown as
any other question, but with the answer "different" presumed by the data: the two labels were
typed in one round by another trusted player (the game asks for different things; presumed
the same with probability :data:`GOLD_CO_TYPED_SAME`) and the model does not find them likely
the same, or the model finds them very unlikely the same (:data:`GOLD_PRIOR`). Answers to
golds measure each answerer's accuracy (:mod:`processing.nlp.reliability`,
:mod:`processing.services.verification_counts`).
"""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np

from game.models import Player, Round
from game.selectors import trusted_players_q
from processing.embeddings import EmbeddingMissing
from processing.models import LabelMention, VerificationAnswer, VerificationQuestion
from processing.nlp.grouping import head_word, label_distances
from processing.nlp.verify import DEFAULT_MODEL, MERGE
from processing.selectors import question_verdict, verification_answered_pairs

from .common import embed_templated, embedder_stored, grouping_settings_get
from .verification_counts import round_to

GOLD_FIRST = 3
GOLD_SHARE = 0.2
GOLD_CO_TYPED_SAME = 0.1
GOLD_CO_TYPED_PRIOR = 0.5
GOLD_PRIOR = 0.05
CO_TYPED_ROWS = 2000  # recent mentions read to find pairs typed in one round


def gold_due(player: Player, round: Round) -> bool:
    """Whether the question after ``round`` should be a gold one: always while the player has
    answered fewer than :data:`GOLD_FIRST` gold questions (a new answerer is measured before
    their answers count much), else with probability :data:`GOLD_SHARE` (fixed per round:
    asking again shows the same)."""
    answered = VerificationAnswer.objects.filter(
        player=player, question__gold_same__isnull=False
    ).count()
    if answered < GOLD_FIRST:
        return True
    return random.Random(f"gold:{round.token}").random() < GOLD_SHARE


def co_typed_pairs(round: Round, class_name: str, own_keys, other_keys, player: Player) -> set:
    """Sorted key pairs (one of ``own_keys``, one of ``other_keys``) that another trusted player
    typed in one round of the class (recent mentions only)."""
    own_set, other_set = set(own_keys), set(other_keys)
    rows = (
        LabelMention.objects.filter(
            trusted_players_q("player__"),
            campaign_id=round.campaign_id,
            class_name=class_name,
            refused_reason="",
            key__in=sorted(own_set | other_set),
        )
        .exclude(player=player)
        .order_by("-id")
        .values_list("round_id", "key")[:CO_TYPED_ROWS]
    )
    by_round: dict[int, set[str]] = defaultdict(set)
    for round_id, key in rows:
        by_round[round_id].add(key)
    out = set()
    for keys in by_round.values():
        for a in keys & own_set:
            for b in keys & other_set:
                out.add((a, b) if a < b else (b, a))
    return out


def _gold_candidates(own_keys, other_keys, dist, *, answered, existing, group_of, co_typed):
    """(pair, own key, other key, distance, presumed P(same)) of every pair fit to be a gold
    question (:func:`gold_question_pick`)."""
    candidates = []
    for i, a in enumerate(own_keys):
        for j, b in enumerate(other_keys, start=len(own_keys)):
            pair = (a, b) if a < b else (b, a)
            if pair in answered or (a in group_of and group_of.get(a) == group_of.get(b)):
                continue
            q = existing.get(pair)
            if q is not None and q.gold_same is None and question_verdict(q).same is True:
                continue
            d = round_to(float(dist[i, j]))
            prior = DEFAULT_MODEL.prior(MERGE, d)
            if pair in co_typed and prior <= GOLD_CO_TYPED_PRIOR:
                p_same = min(prior, GOLD_CO_TYPED_SAME)
            elif prior <= GOLD_PRIOR:
                p_same = prior
            else:
                continue
            candidates.append((pair, a, b, d, round_to(p_same)))
    return candidates


def gold_question_pick(player: Player, round: Round, own: list, others: list, embedder):
    """A gold question: one of the player's labels of the round against another player's on
    the same map (else image), shown as any such question, whose answer the data presumes
    "different" (:data:`GOLD_FIRST`): the pair co-typed by another trusted player in one round
    and not likely the same to the model, or very unlikely the same to the model. Never a pair
    grouped together, one the answers decided "same", or one the player answered. None when
    there is none (or a label's vector is not stored yet); else (question, the player's
    mention, the other player's mention)."""
    class_name = own[0].class_name
    own_keys = sorted({m.key for m in own})
    other_keys = sorted({m.key for m in others} - set(own_keys))
    if not other_keys:
        return None
    answered = verification_answered_pairs(
        player=player, campaign_id=round.campaign_id, class_name=class_name
    )
    existing = {
        (q.key_a, q.key_b): q
        for q in VerificationQuestion.objects.filter(
            campaign_id=round.campaign_id,
            class_name=class_name,
            key_a__in=own_keys + other_keys,
            key_b__in=own_keys + other_keys,
        )
    }
    group_of = {m.key: m.group_id for m in own + others if m.group_id is not None}
    co_typed = co_typed_pairs(round, class_name, own_keys, other_keys, player)
    gs = grouping_settings_get()
    embed = embed_templated(embedder_stored(embedder, lookup_only=True), gs)
    keys = own_keys + other_keys
    try:
        emb = embed(keys)
        heads = embed([head_word(k) for k in keys]) if gs.head_weight > 0 else None
    except EmbeddingMissing:
        return None
    dist = label_distances(keys, np.asarray(emb), heads, settings=gs)
    candidates = _gold_candidates(
        own_keys,
        other_keys,
        dist,
        answered=answered,
        existing=existing,
        group_of=group_of,
        co_typed=co_typed,
    )
    if not candidates:
        return None
    pair, mine_key, theirs_key, d, p_same = random.Random(f"pair:{round.token}").choice(candidates)
    mine = next(m for m in own if m.key == mine_key)
    theirs = next(m for m in others if m.key == theirs_key)  # the most recent one
    a, b = (mine, theirs) if mine.key < theirs.key else (theirs, mine)
    question, _ = VerificationQuestion.objects.get_or_create(
        campaign_id=round.campaign_id,
        class_name=class_name,
        key_a=a.key,
        key_b=b.key,
        defaults=dict(
            characteristic_a_id=a.characteristic_id,
            characteristic_b_id=b.characteristic_id,
            kind=MERGE,
            distance=d,
            prior=round_to(DEFAULT_MODEL.prior(MERGE, d)),
            gold_same=p_same,
        ),
    )
    if question.gold_same is None:
        VerificationQuestion.objects.filter(pk=question.pk, gold_same__isnull=True).update(
            gold_same=p_same
        )
        question.gold_same = p_same
    return question, mine, theirs
