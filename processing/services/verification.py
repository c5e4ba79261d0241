"""Writes of the human verification of synonym groups (issue 12).

After a round's characteristics are processed, the player may get one optional bonus question:
one of *their* labels of the round against a label *another* player typed for the same cluster
map (else for another map of the same image, whose revealed regions usually overlap), the pair
whose answer is worth most to the grouping (:func:`processing.nlp.bonus.offer_pair`: expected
mention pairs set right per expected answer; decided, closed and far-apart pairs are not asked)
("Another player described this region as *control keys*. Same thing as your *buttons*?"). Answers are counted on a :class:`VerificationQuestion` per pair of
keys; once the answers decide it (:func:`processing.selectors.question_verdict`: a sequential
rule, as many answers as the pair needs, at most ``AnswerRule.max_answers``), everyone whose
answer agrees with the verdict gets ``NETVIZ_VERIFICATION_POINTS`` once at least two players'
answers agree with it (output agreement, as in the ESP game). Decided questions are must-links / cannot-links of the next regroup
(:func:`processing.selectors.rebuild_signals_get`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from rest_framework import status

from core.errors import ApplicationError
from game.models import Player, Round
from processing.embeddings import EmbeddingMissing
from processing.models import LabelMention, VerificationAnswer, VerificationQuestion
from processing.nlp.bonus import Asked, offer_pair
from processing.nlp.embed import Embedder
from processing.nlp.grouping import head_word, label_distances
from processing.nlp.verify import DEFAULT_MODEL
from processing.selectors import question_verdict

from .common import embed_templated, embedder_stored, grouping_settings_get

MAX_OTHERS = 200  # other players' mentions considered for one question


def verification_points() -> int:
    """The bonus for an answer agreeing with the verdict (``NETVIZ_VERIFICATION_POINTS``)."""
    return int(settings.NETVIZ_VERIFICATION_POINTS)


@dataclass(frozen=True)
class OfferedQuestion:
    """A question as offered to one player: their own text and the other player's."""

    question: VerificationQuestion
    yours: str
    theirs: str


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
    """(mine, theirs, distance) of the pair whose answer is worth most
    (:func:`processing.nlp.bonus.offer_pair`: expected mention pairs set right per expected
    answer) among those the player has not answered; None when no pair is worth asking (all
    decided or closed, or too far apart) or a label's vector is not stored yet."""
    class_name = own[0].class_name
    answered = set(
        VerificationAnswer.objects.filter(
            player=player, question__campaign_id=round.campaign_id, question__class_name=class_name
        ).values_list("question__key_a", "question__key_b")
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
    return mine, theirs, offer.distance


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
    nothing to ask: labels not processed yet, no other player's label, all answered)."""
    round = Round.objects.filter(token=token, player=player).first()
    if round is None:
        raise ApplicationError("No such round.", status=status.HTTP_404_NOT_FOUND)
    if round.status != Round.Status.DONE:
        raise ApplicationError("Finish the round first.", status=status.HTTP_409_CONFLICT)
    own, others = _round_mentions(player, round)
    if not own or not others:
        return None
    chosen = _best_pair(player, round, own, others, embedder)
    if chosen is None:
        return None
    mine, theirs, d = chosen
    a, b = (mine, theirs) if mine.key < theirs.key else (theirs, mine)
    same_group = mine.group_id is not None and mine.group_id == theirs.group_id
    kind = VerificationQuestion.Kind.SPLIT if same_group else VerificationQuestion.Kind.MERGE
    question, _ = VerificationQuestion.objects.get_or_create(
        campaign_id=round.campaign_id,
        class_name=own[0].class_name,
        key_a=a.key,
        key_b=b.key,
        defaults=dict(
            characteristic_a_id=a.characteristic_id,
            characteristic_b_id=b.characteristic_id,
            kind=kind,
            distance=round_to(d),
            prior=round_to(DEFAULT_MODEL.prior(kind, round_to(d))),
        ),
    )
    return OfferedQuestion(
        question=question, yours=mine.characteristic.text, theirs=theirs.characteristic.text
    )


def round_to(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}f}")


def _answers_award(question: VerificationQuestion, answer: VerificationAnswer):
    """Once the question has a verdict that at least two players' answers agree with, award
    the pending answers (points to those agreeing); returns ``answer`` as awarded.

    Output agreement, as in the ESP game: points need another player's matching answer. The
    sequential rule may decide a question from one answer that confirms what the grouping
    expected; paying that answer alone would teach players to answer what the grouping
    expects instead of what they see. Such answers wait (``awarded`` false) until a second
    player agrees, or stay unpaid."""
    majority = question_verdict(question).same
    if majority is None:
        return answer
    if (question.yes if majority else question.no) < 2:
        return answer
    points = verification_points()
    pending = list(
        VerificationAnswer.objects.select_for_update().filter(question=question, awarded=False)
    )
    for a in pending:
        a.awarded = True
        a.points = points if a.same == majority else 0
    VerificationAnswer.objects.bulk_update(pending, ["awarded", "points"])
    for a in pending:
        if a.points:
            Player.objects.filter(pk=a.player_id).update(points=F("points") + a.points)
        if a.pk == answer.pk:
            answer = a
    return answer


def verification_answer_submit(
    *, player: Player, question_id: int, same: bool, token: str | None = None
) -> VerificationAnswer:
    """Record ``player``'s answer; once the answers decide the question and two of them agree
    with the verdict, the answers agreeing with it get the bonus (each once). Only a player with a label of the question's pair in
    that campaign and class may answer, once."""
    question = VerificationQuestion.objects.filter(pk=question_id).first()
    if (
        question is None
        or not LabelMention.objects.filter(
            campaign_id=question.campaign_id,
            class_name=question.class_name,
            player=player,
            key__in=[question.key_a, question.key_b],
        ).exists()
    ):
        raise ApplicationError("No such question.", status=status.HTTP_404_NOT_FOUND)
    round = Round.objects.filter(token=token, player=player).first() if token else None
    with transaction.atomic():
        question = VerificationQuestion.objects.select_for_update().get(pk=question.pk)
        try:
            with transaction.atomic():
                answer = VerificationAnswer.objects.create(
                    question=question, player=player, round=round, same=same
                )
        except IntegrityError:
            raise ApplicationError(
                "You already answered this question.", status=status.HTTP_409_CONFLICT
            ) from None
        if same:
            question.yes += 1
        else:
            question.no += 1
        question.save(update_fields=["yes", "no"])
        answer = _answers_award(question, answer)
    return answer


def verification_answers_merge(*, account_id: int, guest_id: int) -> None:
    """After a guest's play moved to an account (``game.signals.player_merged``): the guest's
    answers move too, except to questions the account answered itself, and both players get
    their answers' points back (the game recounts a player's points from rounds only)."""
    answered = list(
        VerificationAnswer.objects.filter(player_id=account_id).values_list(
            "question_id", flat=True
        )
    )
    VerificationAnswer.objects.filter(player_id=guest_id).exclude(question_id__in=answered).update(
        player_id=account_id
    )
    for player_id in (account_id, guest_id):
        extra = (
            VerificationAnswer.objects.filter(player_id=player_id).aggregate(s=Sum("points"))["s"]
            or 0
        )
        if extra:
            Player.objects.filter(pk=player_id).update(points=F("points") + extra)
