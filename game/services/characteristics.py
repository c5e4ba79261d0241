"""Writes of a round's characteristics: checked, all stored or none, and the round finished."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from processing.nlp.leaks import find_split_leak, forbidden_terms_for
from processing.nlp.refusals import (
    DuplicateForm,
    check_characteristic,
    duplicate_form,
    duplicate_message,
    duplicate_of,
    leak_message,
)

from .. import rules, selectors
from ..models import Characteristic, Round
from .players import player_refusals_record
from .rounds import (
    ROUND_ACTIVE,
    ROUND_OVER,
    PlayerLike,
    round_finish,
    round_moved_error,
    round_of_player,
)

_RAW_CHARACTERISTIC_LIMIT = 200


@dataclass(frozen=True)
class _Checked:
    """The checks of a submission: one message and reason code (or None) per text, and how
    many texts the checks refused (class names, junk: evidence for trust)."""

    errors: list[str | None]
    reasons: list[str | None]
    checked_out: int


def _check_texts(*, round: Round, texts: list[str]) -> _Checked:
    campaign = round.campaign
    aliases = campaign.aliases or {}
    names = [round.answer] + ([round.guess] if round.guess else [])
    alias_list = [a for name in names for a in aliases.get(name, [])]
    forbidden = forbidden_terms_for(campaign.forbidden_terms, names)
    languages = campaign.languages or ["en"]
    reasons: list[str | None] = []
    errors: list[str | None] = []
    # the accepted texts so far (their places in ``texts``, and their forms): a text that
    # repeats one of them (case, plural) is refused, naming it
    accepted: list[int] = []
    forms: list[DuplicateForm] = []
    checked_out = 0
    for position, raw in enumerate(texts):
        if not raw.strip():
            errors.append(None)
            reasons.append(None)
            continue
        reason: str | None = None
        message: str | None = None
        if len(raw) > _RAW_CHARACTERISTIC_LIMIT:
            longest = rules.CHARACTERISTIC_MAX_LENGTH
            reason, message = "too_long", f"Too long: please use at most {longest} characters."
        else:
            refused = check_characteristic(
                raw,
                class_names=names,
                aliases=alias_list,
                forbidden=forbidden,
                languages=languages,
                min_length=rules.CHARACTERISTIC_MIN_LENGTH,
                max_length=rules.CHARACTERISTIC_MAX_LENGTH,
            )
            if refused is not None:
                reason, message = refused.reason, refused.message
        checked_out += message is not None
        if message is None:
            form = duplicate_form(raw)
            repeated = duplicate_of(form, forms)
            if repeated is None:
                accepted.append(position)
                forms.append(form)
            else:
                earlier = accepted[repeated]
                reason = "duplicate"
                message = duplicate_message(earlier=texts[earlier], position=earlier + 1)
        errors.append(message)
        reasons.append(reason)
    if not any(errors):  # each text passed alone: a name cut across two of them ("gold" "finch")
        split = find_split_leak(texts, class_names=names, aliases=alias_list, forbidden=forbidden)
        if split is not None:
            i, j, leak = split
            errors[j] = (
                f"Together with \u201c{texts[i].strip()}\u201d, {leak_message(leak.matched)}"
            )
            reasons[j] = "class_name"
            checked_out += 1
    return _Checked(errors=errors, reasons=reasons, checked_out=checked_out)


def _filled(texts) -> list[int]:
    """The positions of the texts that are not blank (blank fields of a form are skipped, not
    refused); refuses a submission that is not 1-5 texts."""
    if not isinstance(texts, list):
        raise ApplicationError("Send a list of characteristics.")
    if len(texts) > rules.MAX_CHARACTERISTICS:
        raise ApplicationError(f"Please write at most {rules.MAX_CHARACTERISTICS} characteristics.")
    filled = [i for i, t in enumerate(texts) if t.strip()]
    if len(filled) < rules.MIN_CHARACTERISTICS:
        raise ApplicationError(
            "Please write at least one characteristic of what you saw.",
            extra={
                "errors": ["Please type a characteristic of what you saw."]
                + [None] * (len(texts) - 1)
            }
            if texts
            else {},
        )
    return filled


def round_characteristics_submit(*, player: PlayerLike, token: str, texts: list[str]) -> Round:
    """After a guess: 1-5 characteristics, all accepted or none stored.

    Each text is checked with :func:`processing.nlp.refusals.check_characteristic` against the
    round's answer and the player's guess (their names, campaign aliases and forbidden terms)
    and the campaign's accepted languages. Refusals raise an ApplicationError whose
    ``extra["errors"]`` lists one message (or None) per text and ``extra["reasons"]`` the
    stable reason code of each (``class_name``, ``placeholder``, ``language``…, ``duplicate``;
    None for an accepted or blank text).
    """
    now = timezone.now()
    if isinstance(texts, list):
        texts = [t if isinstance(t, str) else "" for t in texts]
    filled = _filled(texts)
    round = round_of_player(player=player, token=token)
    if round.status != Round.Status.LABELLING:
        raise round_moved_error(ROUND_ACTIVE if round.status == Round.Status.ACTIVE else ROUND_OVER)
    checked = _check_texts(round=round, texts=texts)
    if any(checked.errors):
        # Nothing of the round is stored; only the count of refused texts (player trust).
        if checked.checked_out:
            player_refusals_record(player_id=round.player_id, count=checked.checked_out)
        first = next(e for e in checked.errors if e)
        raise ApplicationError(first, extra={"errors": checked.errors, "reasons": checked.reasons})
    kept = [texts[i] for i in filled]
    # Agreement is judged before this round's texts are stored: only others' count.
    others = selectors.cluster_map_others(
        cluster_map_id=round.cluster_map_id, exclude_player_id=round.player_id
    )
    agreements = selectors.round_agreements(texts=kept, others=others)
    with transaction.atomic():
        # The round is finished first, in the statement that checks it is still waiting: of
        # two submissions at once, the second finds it done and stores nothing.
        finished = round_finish(round=round, now=now, n_accepted=len(kept), n_agreeing=agreements)
        if finished is None:
            raise round_moved_error(ROUND_OVER)
        Characteristic.objects.bulk_create(
            [
                Characteristic(round=finished, player_id=round.player_id, position=i, text=raw)
                for i, raw in enumerate(kept)
            ]
        )
    # What the round's summary would read again (selectors.round_summary).
    finished.submitted = selectors.Submitted(texts=tuple(kept), others=others)
    return finished
