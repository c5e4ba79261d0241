"""How the answers to a verification question count (issue 12): answerer weights from gold
questions, one counted answer per network, the question's ``yes`` / ``no``, and the points.

Each answer counts with its player's weight: 0 for a blocked or untrusted player, else from
their accuracy on gold questions (:class:`processing.nlp.reliability.Reliability`); on one
question only the first counted answer of a client network counts
(:func:`processing.nlp.reliability.counted_evidence`). Points follow output agreement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db.models import F

from game.models import Player
from game.selectors import trusted_players_q
from game.throttles import keyed_hash
from processing.models import VerificationAnswer, VerificationQuestion
from processing.nlp.reliability import DEFAULT_RELIABILITY, counted_evidence
from processing.selectors import question_verdict


def verification_points() -> int:
    """The bonus for an answer agreeing with the verdict (``NETVIZ_VERIFICATION_POINTS``)."""
    return int(settings.NETVIZ_VERIFICATION_POINTS)


def round_to(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}f}")


def network_key(network: str) -> str:
    """The stored key of a client network (``game.throttles.address_network``): a keyed hash,
    so that answers keep no address; empty for an unknown network."""
    return keyed_hash(network)


def answerer_weights(player_ids: Iterable[int]) -> dict[int, float]:
    """What one answer of each of these players counts now: 0 for a blocked or untrusted one
    (``game.selectors.trusted_players_q``), else the weight of their accuracy on the gold
    questions they answered (:class:`processing.nlp.reliability.Reliability`), in [0, 1]."""
    ids = sorted(set(player_ids))
    trusted: set[int] = set()
    golds: dict[int, list[tuple[bool, float]]] = defaultdict(list)
    for start in range(0, len(ids), 500):  # bounded parameter lists (SQLite)
        chunk = ids[start : start + 500]
        trusted |= set(
            Player.objects.filter(trusted_players_q(), pk__in=chunk).values_list("pk", flat=True)
        )
        for pid, same, p_same in VerificationAnswer.objects.filter(
            player_id__in=chunk, question__gold_same__isnull=False
        ).values_list("player_id", "same", "question__gold_same"):
            golds[pid].append((same, p_same))
    rel = DEFAULT_RELIABILITY
    return {
        pid: rel.weight(rel.accuracy(golds.get(pid, ()))) if pid in trusted else 0.0 for pid in ids
    }


def answers_evidence(question_ids: Iterable[int], weights: dict[int, float] | None = None) -> dict:
    """question id → (yes, no, {answer id: counted weight}) of its answers as they count now
    (:func:`processing.nlp.reliability.counted_evidence`: first answered first, one per network, an
    answer of unknown network being its player's own)."""
    qids = sorted(set(question_ids))
    rows: list[tuple] = []
    for start in range(0, len(qids), 500):
        rows += VerificationAnswer.objects.filter(
            question_id__in=qids[start : start + 500]
        ).values_list("id", "question_id", "player_id", "network", "same")
    rows.sort()
    weights = dict(weights or {})
    missing = {r[2] for r in rows} - set(weights)
    if missing:
        weights.update(answerer_weights(missing))
    by_question: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_question[row[1]].append(row)
    out = {}
    for qid in qids:
        answers = by_question.get(qid, [])
        yes, no, counted = counted_evidence(
            (network or ("player", pid), same, weights[pid]) for _, _, pid, network, same in answers
        )
        out[qid] = (yes, no, {a[0]: w for a, w in zip(answers, counted)})
    return out


def question_recount_locked(question: VerificationQuestion, evidence=None) -> bool:
    """Store ``question``'s counts and its answers' weights as they count now (the question row
    locked by the caller), then judge its pending answers; whether anything changed."""
    yes, no, counted = evidence or answers_evidence([question.pk])[question.pk]
    changed = (yes, no) != (question.yes, question.no)
    if changed:
        question.yes, question.no = yes, no
        question.save(update_fields=["yes", "no"])
    stale = [
        a
        for a in VerificationAnswer.objects.filter(question=question).only("id", "weight")
        if abs(a.weight - counted.get(a.pk, 0.0)) > 1e-9
    ]
    for a in stale:
        a.weight = counted.get(a.pk, 0.0)
    if stale:
        VerificationAnswer.objects.bulk_update(stale, ["weight"])
    answers_award(question)
    return changed or bool(stale)


def answers_award(question: VerificationQuestion) -> dict[int, VerificationAnswer]:
    """Once the question has a verdict that at least two counted answers agree with, award the
    pending counted answers (points to those agreeing); returns them by id.

    Output agreement, as in the ESP game: points need another player's matching answer, from
    another network (one answer per network counts). The sequential rule may decide a question
    from one answer that confirms what the grouping expected; paying that answer alone would
    teach players to answer what the grouping expects instead of what they see. Such answers
    wait (``awarded`` false) until a second player agrees, or stay unpaid. Answers that do not
    count (``weight`` 0: an untrusted player, one failing the gold questions, a second answer
    from a network) earn nothing and wait too (judged if they count when the question is next
    counted)."""
    majority = question_verdict(question).same
    if majority is None:
        return {}
    counted = VerificationAnswer.objects.filter(question=question, weight__gt=0)
    if counted.filter(same=majority).count() < 2:
        return {}
    points = verification_points()
    pending = list(counted.select_for_update().filter(awarded=False))
    for a in pending:
        a.awarded = True
        a.points = points if a.same == majority else 0
    VerificationAnswer.objects.bulk_update(pending, ["awarded", "points"])
    for a in pending:
        if a.points:
            Player.objects.filter(pk=a.player_id).update(points=F("points") + a.points)
    return {a.pk: a for a in pending}
