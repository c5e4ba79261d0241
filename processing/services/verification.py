"""Writes of the human verification of synonym groups (issue 12).

After a round's characteristics are processed, the player may get one optional bonus question
about two labels of the class they described. First choice: the class-wide question most worth
asking that is still open (the researchers' suggestion ranking,
:func:`processing.selectors.verification_suggestions`, recomputed at most once a minute per
class), shown with the player's own text when they wrote one of its two keys ("Another
player described a picture of this kind as *control keys*. Same thing as your *buttons*?", or
"Two other players described pictures of this kind as ... and ...", or "Another player
described pictures of this kind as ... and as ..." when one player wrote both).
Otherwise: one of *their* labels of the round against a label *another* player typed for the
same cluster map (else for another map of the same image, whose revealed regions usually
overlap), the pair whose answer is worth most (:func:`processing.nlp.bonus.offer_pair`).
Measured by ``benchmarks/verification_policy.py``: the class-wide questions are the ones that
bring precision and recall to 0.95 (docs/PROCESSING.md, "Human verification").

Answers are counted on a :class:`VerificationQuestion` per pair of keys; once the answers
decide it (:func:`processing.selectors.question_verdict`: a sequential rule, as many answers as
the pair needs, at most ``AnswerRule.max_answers``), everyone whose answer agrees with the
verdict gets ``NETVIZ_VERIFICATION_POINTS`` once at least two players' answers agree with it
(output agreement, as in the ESP game). Decided questions are must-links / cannot-links of the
next regroup (:func:`processing.selectors.rebuild_signals_get`).

Sock puppets (docs/PROCESSING.md, "Human verification"): a player's first questions, then about
one in five, are gold questions whose answer the data presumes (:func:`_gold_question`); each
answer counts with its player's weight, from their accuracy on the golds
(:func:`answerer_weights`, :class:`processing.nlp.reliability.Reliability`), and only the first
counted answer of a client network counts on a question
(:func:`processing.nlp.reliability.counted_evidence`). ``yes`` / ``no`` are the counted weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from rest_framework import status

from core.errors import ApplicationError
from explanations.models import Campaign
from game.models import Player, Round
from processing.embeddings import EmbeddingMissing
from processing.models import (
    LabelMention,
    VerificationAnswer,
    VerificationOffer,
    VerificationQuestion,
)
from processing.nlp.bonus import Asked, offer_pair
from processing.nlp.embed import Embedder
from processing.nlp.grouping import head_word, label_distances
from processing.nlp.verify import DEFAULT_MODEL, DEFAULT_RULE
from processing.selectors import (
    question_settled,
    verification_answered_pairs,
    verification_suggestions,
)

from . import verification_gold
from .common import embed_templated, embedder_stored, grouping_settings_get
from .verification_counts import (
    answers_evidence,
    network_key,
    question_recount_locked,
    round_to,
)

MAX_OTHERS = 200  # other players' mentions considered for one question


#: Class-wide questions kept per class (the researchers' suggestion ranking,
#: :func:`processing.selectors.verification_suggestions`), recomputed at most once a minute.
CLASS_CANDIDATES = 30
CLASS_CANDIDATES_TTL = 60  # seconds


@dataclass(frozen=True)
class OfferedQuestion:
    """A question as offered to one player: the two texts shown (``texts``, in the order of
    the prompt), the player's own one (``yours``, None when both are other players') and the
    other player's (``theirs``), and the sentence asked (``prompt``)."""

    question: VerificationQuestion
    yours: str | None
    theirs: str
    texts: tuple[str, str]
    prompt: str


def _round_mentions(player: Player, round: Round) -> tuple[list, list]:
    """The player's accepted labels of the round and up to :data:`MAX_OTHERS` recent labels of
    other players in the same bucket on the same cluster map (else the same image), never
    hidden, blocked or of a blocked player, and never one of the player's own keys."""
    own = list(
        LabelMention.objects.filter(round=round, refused_reason="")
        .exclude(key="")
        .select_related("characteristic")
    )
    if not own:
        return [], []
    base = (
        LabelMention.objects.filter(
            campaign_id=round.campaign_id,
            class_name=own[0].class_name,
            refused_reason="",
            characteristic__hidden=False,  # moderated, or a player blocked since: never shown
            player__is_blocked=False,
        )
        .exclude(group__blocked=True)
        .exclude(player=player)
        .exclude(key="")
        .select_related("characteristic")
    )
    others = list(base.filter(cluster_map_id=round.cluster_map_id).order_by("-id")[:MAX_OTHERS])
    if not others:
        others = list(base.filter(image_id=round.image_id).order_by("-id")[:MAX_OTHERS])
    own_keys = {m.key for m in own}
    return own, [m for m in others if m.key not in own_keys]


def _best_pair(player: Player, round: Round, own: list, others: list, embedder):
    """(mine, theirs, :class:`processing.nlp.bonus.Offer`) of the pair whose answer is worth
    most (:func:`processing.nlp.bonus.offer_pair`: expected mention pairs set right per expected
    answer) among those the player has not answered; None when no pair is worth asking (all
    decided or closed, or too far apart) or a label's vector is not stored yet."""
    class_name = own[0].class_name
    answered = verification_answered_pairs(
        player=player, campaign_id=round.campaign_id, class_name=class_name
    )
    gs = grouping_settings_get()
    # A web request: stored vectors only (the processing task embedded every label).
    embed = embed_templated(embedder_stored(embedder, lookup_only=True), gs)
    own_keys = sorted({m.key for m in own})
    other_keys = sorted({m.key for m in others} - set(own_keys))
    keys = own_keys + other_keys
    try:
        emb = embed(keys)
        heads = embed([head_word(k) for k in keys]) if gs.head_weight > 0 else None
    except EmbeddingMissing:
        return None  # a label not processed yet: nothing to ask this time
    dist = label_distances(keys, np.asarray(emb), heads, settings=gs)
    asked = {
        (q.key_a, q.key_b): Asked(q.kind, q.distance, q.yes, q.no, q.prior)
        for q in VerificationQuestion.objects.filter(
            campaign_id=round.campaign_id, class_name=class_name
        ).only("key_a", "key_b", "kind", "distance", "yes", "no", "prior")
    }
    group_of, group_mentions, key_mentions = _class_sizes(round, class_name, own + others, keys)
    offer = offer_pair(
        own_keys,
        other_keys,
        dist,
        group_of=group_of,
        group_mentions=group_mentions,
        key_mentions=key_mentions,
        asked=asked,
        skip=answered,
    )
    if offer is None:
        return None
    mine = next(m for m in own if m.key == offer.mine)
    theirs = next(m for m in others if m.key == offer.theirs)  # the most recent one
    return mine, theirs, offer


def _class_sizes(round: Round, class_name: str, mentions: list, keys: list[str]):
    """Each key's group (its own key when not grouped yet), the groups' and keys' accepted
    mentions in the class: what a verdict would move."""
    group_of: dict[str, object] = {}
    for m in mentions:
        if m.group_id is not None:
            group_of.setdefault(m.key, m.group_id)
    in_class = LabelMention.objects.filter(
        campaign_id=round.campaign_id, class_name=class_name, refused_reason=""
    )
    key_mentions = {
        row["key"]: row["n"]
        for row in in_class.filter(key__in=keys).values("key").annotate(n=Count("id"))
    }
    group_mentions: dict[object, float] = {
        row["group_id"]: row["n"]
        for row in in_class.filter(group_id__in=set(group_of.values()))
        .values("group_id")
        .annotate(n=Count("id"))
    }
    for k in keys:
        if k not in group_of:  # not grouped yet: a group of its own
            group_of[k] = ("key", k)
            group_mentions[group_of[k]] = key_mentions.get(k, 1)
        key_mentions.setdefault(k, 1)
        group_mentions.setdefault(group_of[k], key_mentions[k])
    return group_of, group_mentions, key_mentions


def verification_question_next(
    *, player: Player, token: str, embedder: Embedder | None = None
) -> OfferedQuestion | None:
    """The bonus question for ``player`` after their round ``token`` (None when there is
    nothing to ask: labels not processed yet, no other player's label, all answered, or the
    round's question answered already). One question per round: asked again, the question
    already offered after the round is shown again, as it was, until it is answered."""
    round = Round.objects.filter(token=token, player=player).first()
    if round is None:
        raise ApplicationError("No such round.", status=status.HTTP_404_NOT_FOUND)
    if round.status != Round.Status.DONE:
        raise ApplicationError("Finish the round first.", status=status.HTTP_409_CONFLICT)
    shown = _round_offer(player, round)
    if shown is not None:  # one question per round: the same one until it is answered
        return shown or None
    own, others = _round_mentions(player, round)
    if not own:
        return None
    offered = None
    if others and verification_gold.gold_due(player, round):
        offered = _gold_question(player, round, own, others, embedder)
    if offered is None:
        offered = _class_question(player, round, own, embedder)
    if offered is None and others:
        offered = _same_map_question(player, round, own, others, embedder)
    if offered is None:
        return None
    try:  # only an offered question may be answered
        with transaction.atomic():
            VerificationOffer.objects.update_or_create(
                question=offered.question,
                player=player,
                defaults=dict(
                    round=round,
                    text_a=offered.texts[0],
                    text_b=offered.texts[1],
                    yours=offered.yours or "",
                    prompt=offered.prompt,
                ),
            )
    except IntegrityError:  # a concurrent request offered another question after this round
        return _round_offer(player, round) or None
    return offered


#: Gold questions (:func:`_gold_question`): the first ``GOLD_FIRST`` questions of a player
#: are gold ones when one can be made, then about one in ``1 / GOLD_SHARE``. A pair typed by
#: another trusted player in one round (the game asks for different things) is presumed
#: different with P(same) ``GOLD_CO_TYPED_SAME`` (or the model's prior, if lower) when the model
#: does not find it likely the same (prior ≤ ``GOLD_CO_TYPED_PRIOR``); any other pair whose
#: prior is at most ``GOLD_PRIOR`` is presumed different with P(same) its prior.
def _gold_question(player: Player, round: Round, own: list, others: list, embedder):
    """A gold question (:func:`verification_gold.gold_question_pick`), offered as any other."""
    picked = verification_gold.gold_question_pick(player, round, own, others, embedder)
    if picked is None:
        return None
    question, mine, theirs = picked
    return _offered(question, mine.characteristic.text, theirs, round=round)


def _round_offer(player: Player, round: Round) -> OfferedQuestion | bool | None:
    """The question offered after ``round`` as it was shown; False when the player answered it
    (nothing more after this round); None when none was offered yet."""
    offer = (
        VerificationOffer.objects.filter(player=player, round=round)
        .select_related("question")
        .first()
    )
    if offer is None:
        return None
    if VerificationAnswer.objects.filter(question_id=offer.question_id, player=player).exists():
        return False
    return OfferedQuestion(
        offer.question,
        offer.yours or None,
        offer.text_a,
        (offer.text_a, offer.text_b),
        offer.prompt,
    )


def _same_map_question(player: Player, round: Round, own: list, others: list, embedder):
    """One of the player's labels of the round against another player's on the same cluster
    map (else the same image), the pair worth most (:func:`_best_pair`); None if none is."""
    chosen = _best_pair(player, round, own, others, embedder)
    if chosen is None:
        return None
    mine, theirs, offer = chosen
    a, b = (mine, theirs) if mine.key < theirs.key else (theirs, mine)
    d = round_to(offer.distance)
    question, _ = VerificationQuestion.objects.get_or_create(
        campaign_id=round.campaign_id,
        class_name=own[0].class_name,
        key_a=a.key,
        key_b=b.key,
        defaults=dict(
            characteristic_a_id=a.characteristic_id,
            characteristic_b_id=b.characteristic_id,
            kind=offer.kind,
            distance=d,
            prior=round_to(DEFAULT_MODEL.prior(offer.kind, d)),
        ),
    )
    return _offered(question, mine.characteristic.text, theirs, round=round)


def _offered(question, yours: str | None, theirs, *, round: Round, other=None):
    """The :class:`OfferedQuestion` of ``question`` with the player's text ``yours`` (None:
    two mentions of other players, ``theirs`` and ``other``), worded to be true of them: "two
    other players" only when they are two, and where the other player's text was written
    (this region: the round's cluster map; another part of this picture: another map of the
    round's image; else a picture of this kind)."""
    t = theirs.characteristic.text
    if yours is None:
        o = other.characteristic.text
        if other.player_id == theirs.player_id:  # one player wrote both (no one else did)
            prompt = f"Another player described pictures of this kind as “{t}” and as “{o}”."
        else:
            prompt = f"Two other players described pictures of this kind as “{t}” and “{o}”."
        return OfferedQuestion(question, None, t, (t, o), prompt + " Same thing?")
    if theirs.cluster_map_id == round.cluster_map_id:
        where = "this region"
    elif theirs.image_id == round.image_id:
        where = "another part of this picture"
    else:
        where = "a picture of this kind"
    prompt = f"Another player described {where} as “{t}”. Same thing as your “{yours}”?"
    return OfferedQuestion(question, yours, t, (t, yours), prompt)


def _class_candidates(campaign_id: int, class_name: str, embedder) -> list[tuple]:
    """The class-wide questions most worth asking, best first: (key_a, key_b, kind, distance)
    of the researchers' suggestions (:func:`processing.selectors.verification_suggestions`).

    Computing them reads every label vector of the class and ranks its groups (about 0.1 s of
    CPU for a class of 600 distinct labels: 28 ms of distances, 70 ms of ranking, measured on
    the grouping set's development half), so the web processes compute them at most once per
    :data:`CLASS_CANDIDATES_TTL` seconds per class for all (the shared cache); the questions
    decided, closed or answered since are skipped when one is offered. Empty when the class has
    no groups yet or a label's vector is not stored yet (that too is kept for the TTL, so that a
    missing vector does not make every request recompute)."""
    digest = hashlib.sha1(class_name.encode()).hexdigest()[:16]
    key = f"netviz:verification:candidates:{campaign_id}:{digest}"
    found = cache.get(key)
    if found is None:
        gs = grouping_settings_get()
        embed = embed_templated(embedder_stored(embedder, lookup_only=True), gs)
        try:
            suggestions = verification_suggestions(
                campaign=Campaign.objects.get(pk=campaign_id),
                settings=gs,
                embed=embed,
                class_name=class_name,
                limit=CLASS_CANDIDATES,
            )
        except EmbeddingMissing:
            suggestions = []  # a label not processed yet: nothing class-wide to ask for a while
        found = [
            (*sorted((sg.key_a, sg.key_b)), sg.kind, round_to(sg.distance)) for sg in suggestions
        ]
        cache.set(key, found, CLASS_CANDIDATES_TTL)
    return found


def _shown_mention(
    round: Round,
    class_name: str,
    key: str,
    *,
    player: Player,
    own_ok: bool,
    avoid_player_id: int | None = None,
):
    """The text shown for ``key``: the player's own mention of it (when ``own_ok``), else
    another player's most recent one (visible: not hidden, of a player not blocked, in a group
    not blocked), on the round's cluster map if there is one; one of a player other than
    ``avoid_player_id`` when there is one (the question's other text is theirs)."""
    visible = (
        LabelMention.objects.filter(
            campaign_id=round.campaign_id,
            class_name=class_name,
            key=key,
            refused_reason="",
            characteristic__hidden=False,
            player__is_blocked=False,
        )
        .exclude(group__blocked=True)
        .select_related("characteristic")
    )
    mine = visible.filter(player=player).order_by("-id").first() if own_ok else None
    if mine is not None:
        return mine
    others = visible.exclude(player=player)
    if avoid_player_id is not None:
        found = _latest_mention(others.exclude(player_id=avoid_player_id), round)
        if found is not None:
            return found
    return _latest_mention(others, round)


def _latest_mention(mentions, round: Round):
    """The most recent of ``mentions`` on the round's cluster map, else anywhere."""
    return (
        mentions.filter(cluster_map_id=round.cluster_map_id).order_by("-id").first()
        or mentions.order_by("-id").first()
    )


def _class_question(player: Player, round: Round, own: list, embedder):
    """The class-wide question most worth asking that the player has not answered and that is
    still open (its verdict undecided, fewer than the rule's most answers), shown with the
    player's own text when they wrote one of its two keys."""
    class_name = own[0].class_name
    candidates = _class_candidates(round.campaign_id, class_name, embedder)
    if not candidates:
        return None
    answered = verification_answered_pairs(
        player=player, campaign_id=round.campaign_id, class_name=class_name
    )
    asked = {
        (q.key_a, q.key_b): q
        for q in VerificationQuestion.objects.filter(
            campaign_id=round.campaign_id,
            class_name=class_name,
            key_a__in=[c[0] for c in candidates],
        ).annotate(n_answers=Count("answers"))
    }
    for a, b, kind, distance in candidates:
        q = asked.get((a, b))
        if (a, b) in answered or (q is not None and _question_full(q)):
            continue
        # at most one of the two texts is the player's own: they are asked about someone else's;
        # two texts of others are two players' where the mentions allow it
        ma = _shown_mention(round, class_name, a, player=player, own_ok=True)
        own_a = ma is not None and ma.player_id == player.pk
        avoid = ma.player_id if ma is not None and not own_a else None
        mb = _shown_mention(
            round, class_name, b, player=player, own_ok=not own_a, avoid_player_id=avoid
        )
        if ma is None or mb is None:
            continue
        if not own_a and mb.player_id == ma.player_id:  # b has no one else's: try a's others
            ma = _shown_mention(
                round, class_name, a, player=player, own_ok=False, avoid_player_id=mb.player_id
            )
        if q is None:
            q, _ = VerificationQuestion.objects.get_or_create(
                campaign_id=round.campaign_id,
                class_name=class_name,
                key_a=a,
                key_b=b,
                defaults=dict(
                    characteristic_a_id=ma.characteristic_id,
                    characteristic_b_id=mb.characteristic_id,
                    kind=kind,
                    distance=distance,
                    prior=round_to(DEFAULT_MODEL.prior(kind, distance)),
                ),
            )
        mine = ma if ma.player_id == player.pk else mb if mb.player_id == player.pk else None
        if mine is None:
            return _offered(q, None, ma, round=round, other=mb)
        theirs = mb if mine is ma else ma
        return _offered(q, mine.characteristic.text, theirs, round=round)
    return None


def _question_full(q) -> bool:
    """Settled (decided, or closed by its counted answers), or answered
    ``2 · AnswerRule.max_answers`` times (answers that count little or nothing do not keep a
    question open for ever). ``q.n_answers``: its answers (annotated)."""
    return question_settled(q) or q.n_answers >= 2 * DEFAULT_RULE.max_answers


def verification_answer_submit(
    *, player: Player, question_id: int, same: bool, network: str = ""
) -> VerificationAnswer:
    """Record ``player``'s answer to a question they were offered (:class:`VerificationOffer`),
    once, from the client network ``network`` (``game.throttles.address_network`` of the
    request; empty: unknown); once the answers decide the question and two counted answers
    agree with the verdict, the counted answers agreeing with it get the bonus (each once).

    Only an offered question may be answered: a player cannot choose which questions they
    answer, nor answer faster than they finish rounds. A blocked player's answer is refused.
    An answer counts with its player's weight (:func:`answerer_weights`: nothing while they are
    untrusted, less as they fail gold questions), and only the first counted answer of a
    network counts on a question. An answer to a gold question re-weighs all the player's
    answers (:func:`verification_recount`)."""
    offer = (
        VerificationOffer.objects.filter(question_id=question_id, player=player)
        .only("round_id")
        .first()
    )
    if offer is None:
        raise ApplicationError("No such question.", status=status.HTTP_404_NOT_FOUND)
    player = Player.objects.get(pk=player.pk)  # trust and block as they are now
    if player.is_blocked:
        raise ApplicationError(
            "Your account is blocked: answers are not taken.", status=status.HTTP_403_FORBIDDEN
        )
    with transaction.atomic():
        question = VerificationQuestion.objects.select_for_update().get(pk=question_id)
        try:
            with transaction.atomic():
                answer = VerificationAnswer.objects.create(
                    question=question,
                    player=player,
                    round_id=offer.round_id,
                    same=same,
                    network=network_key(network),
                )
        except IntegrityError:
            raise ApplicationError(
                "You already answered this question.", status=status.HTTP_409_CONFLICT
            ) from None
        question_recount_locked(question)
    if question.gold_same is not None:  # the player's accuracy changed: so did their weight
        verification_recount(player_ids=[player.pk])
    answer = VerificationAnswer.objects.select_related("question").get(pk=answer.pk)
    return answer


def verification_recount(*, player_ids: Iterable[int]) -> int:
    """Recount ``yes`` / ``no`` of the questions these players answered as the answers count
    now (after their trust crossed ``NETVIZ_TRUST_MIN_COUNTED``, an admin blocked, unblocked or
    overrode them, or their answers to gold questions changed their weight), then judge the
    pending answers of those questions. Points already given stay. Returns how many questions
    changed."""
    ids = sorted(set(player_ids))
    if not ids:
        return 0
    question_ids: set[int] = set()
    for start in range(0, len(ids), 500):  # bounded parameter lists (SQLite)
        question_ids |= set(
            VerificationAnswer.objects.filter(player_id__in=ids[start : start + 500]).values_list(
                "question_id", flat=True
            )
        )
    if not question_ids:
        return 0
    now = answers_evidence(question_ids)
    qids = sorted(question_ids)
    stored: dict[int, VerificationQuestion] = {}
    weights: dict[int, float] = {}
    for start in range(0, len(qids), 500):
        chunk = qids[start : start + 500]
        stored.update(
            (q.pk, q) for q in VerificationQuestion.objects.filter(pk__in=chunk).only("yes", "no")
        )
        weights.update(
            VerificationAnswer.objects.filter(question_id__in=chunk).values_list("id", "weight")
        )
    changed = 0
    for qid in qids:
        q = stored.get(qid)
        if q is None:
            continue
        yes, no, counted = now[qid]
        same_weights = all(abs(weights.get(a, 0.0) - w) <= 1e-9 for a, w in counted.items())
        if (yes, no) == (q.yes, q.no) and same_weights:
            continue
        with transaction.atomic():
            question = VerificationQuestion.objects.select_for_update().filter(pk=qid).first()
            if question is not None and question_recount_locked(question):
                changed += 1
    return changed


def verification_answers_merge(*, account_id: int, guest_id: int) -> None:
    """After a guest's play moved to an account (``game.signals.player_merged``): the guest's
    answers move too, except to questions the account answered itself, and both players get
    their answers' points back (the game recounts a player's points from rounds only). The
    guest's open offers move with them, and the moved answers count by the account's trust."""
    for model in (VerificationAnswer, VerificationOffer):
        held = model.objects.filter(player_id=account_id).values("question_id")
        model.objects.filter(player_id=guest_id).exclude(question_id__in=held).update(
            player_id=account_id
        )
    for player_id in (account_id, guest_id):
        extra = (
            VerificationAnswer.objects.filter(player_id=player_id).aggregate(s=Sum("points"))["s"]
            or 0
        )
        if extra:
            Player.objects.filter(pk=player_id).update(points=F("points") + extra)
    verification_recount(player_ids=[account_id, guest_id])
