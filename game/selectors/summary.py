"""What a player sees once a round is over: the round summary, the crowd, what others saw."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from explanations.models import ClusterMap

from .. import rules, sql
from ..models import Characteristic, Round
from .players import RankNoted, trust_min_counted
from .rounds import guessed, round_picture_url

OTHERS_SAW_LIMIT = 8


@dataclass(frozen=True)
class Crowd:
    """How the other players did on a cluster map (finished rounds)."""

    rounds: int
    wins: int
    mean_win_step_number: float | None  # the UI's steps 1..6


@dataclass(frozen=True)
class OthersSaw:
    text: str
    count: int  # distinct players


@dataclass(frozen=True)
class RoundSummary(RankNoted):
    """What a player sees once a round is over (never before)."""

    outcome: str
    answer: str
    answer_label: str
    guess: str
    guess_label: str
    step: int
    points_base: int
    points_bonus: int
    points: int
    characteristics: list[str]
    image_url: str
    overlay_url: str
    layer: str
    layer_number: int
    layer_count: int
    weight: float
    player_points: int
    level: rules.LevelProgress
    rank: int | None
    ranked: bool  # counted on the leaderboards (trusted, unblocked): see rank_note
    finished_at: dt.datetime | None
    campaign_slug: str
    campaign_name: str
    frame_url: str = ""
    depth: str = ""
    caption: str = ""
    network_guess_label: str = ""
    network_right: bool = True
    crowd: Crowd | None = None
    others_saw: tuple[OthersSaw, ...] = ()
    agreement_bonus: int = 0
    level_up: bool = False

    @property
    def step_number(self) -> int:
        return self.step + 1


@dataclass(frozen=True)
class OtherCharacteristic:
    """A characteristic another (trusted, unblocked) player gave on a cluster map, in a finished
    round, not hidden by a moderator: its player, the text as typed, and the label it shows as
    (the synonym group's curated or canonical name, else the cleaned text, or the typed text
    normalised while it is not processed yet; None when refused or in a blocked group)."""

    player_id: int
    text: str
    label: str | None


@dataclass(frozen=True)
class Submitted:
    """What a round's characteristics submission read and wrote: its texts, and the other
    players' characteristics they were judged against (set on the round as ``submitted``)."""

    texts: tuple[str, ...]
    others: tuple[OtherCharacteristic, ...]


def cluster_map_others(
    *, cluster_map_id: int, exclude_player_id: int
) -> tuple[OtherCharacteristic, ...]:
    """The characteristics the other trusted players gave on a cluster map (one statement,
    ``sql.cluster_map_others_rows``), each with the label players are shown: its group's name
    (or canonical label, or cleaned text) once processed, none when processing refused it or
    its group is blocked, the normalised raw text before that."""
    from processing.nlp.clean import normalise

    rows = sql.cluster_map_others_rows(
        cluster_map_id=cluster_map_id,
        exclude_player_id=exclude_player_id,
        min_trust=trust_min_counted(),
    )
    out = []
    for pid, raw, mention, refused, cleaned, name, canonical, blocked in rows:
        if mention is None:
            label = normalise(raw)
        else:
            label = None if refused or blocked else (name or canonical or cleaned)
        out.append(OtherCharacteristic(player_id=pid, text=raw, label=label or None))
    return tuple(out)


def others_saw(
    others: tuple[OtherCharacteristic, ...], *, limit: int = OTHERS_SAW_LIMIT
) -> tuple[OthersSaw, ...]:
    """What other players saw: their labels, most players first, at most ``limit``."""
    players: dict[str, set[int]] = {}
    shown: dict[str, str] = {}
    for other in others:
        if not other.label:
            continue
        key = other.label.casefold()
        shown.setdefault(key, other.label)
        players.setdefault(key, set()).add(other.player_id)
    ranked = sorted(players, key=lambda k: (-len(players[k]), shown[k]))
    return tuple(OthersSaw(text=shown[k], count=len(players[k])) for k in ranked[:limit])


def agreement_key(text: str) -> str:
    """The form under which two characteristics agree: normalised, each word lemmatised, then
    derivation, spacing and hyphens folded ("Pointy ears" = "pointed ear")."""
    from processing.nlp.clean import normalise
    from processing.nlp.lemma import concept_key, lemmatise_word

    words = normalise(text).split()
    return concept_key(" ".join(lemmatise_word(w) for w in words))


def round_agreements(*, texts: list[str], others: tuple[OtherCharacteristic, ...]) -> int:
    """How many distinct ``texts`` (of one round's player) another player also gave
    (``others``: :func:`cluster_map_others` of the round's cluster map)."""
    mine = {agreement_key(t) for t in texts if t.strip()} - {""}
    if not mine:
        return 0
    return len(mine & {agreement_key(other.text) for other in others})


def _crowd(*, rounds: int, wins: int, win_steps: int) -> Crowd:
    return Crowd(
        rounds=int(rounds),
        wins=int(wins),
        mean_win_step_number=(int(win_steps) / int(wins) + 1) if wins else None,
    )


def round_summary(*, round: Round) -> RoundSummary | None:
    """The summary of a finished round; None while the round is not finished.

    A round just finished by ``services.round_characteristics_submit`` carries what the summary
    would read again (``round.submitted``, :class:`Submitted`)."""
    if round.status != Round.Status.DONE:
        return None
    row = sql.round_summary_row(round=round, min_trust=trust_min_counted())
    if row is None:
        raise ClusterMap.DoesNotExist(f"cluster map {round.cluster_map_id} of round {round.pk}")
    (file, view_file, game_file, predicted, overlay, weight, layer, position) = row[:8]
    points, ranked, above, points_then, crowd_rounds, crowd_wins, crowd_win_steps = row[8:]
    ranked = bool(ranked)  # a player the leaderboards leave out has no rank (as on the profile)
    submitted = getattr(round, "submitted", None)
    if submitted is None:
        texts = list(
            Characteristic.objects.filter(round_id=round.pk)
            .order_by("position")
            .values_list("text", flat=True)
        )
        others = cluster_map_others(
            cluster_map_id=round.cluster_map_id, exclude_player_id=round.player_id
        )
    else:
        texts, others = list(submitted.texts), submitted.others
    layer_count = len(round.campaign.explained_layers) or (position + 1)
    depth = rules.layer_depth(position, layer_count)
    agreement = 0
    if round.outcome != Round.Outcome.RESIGN:
        agreement = max(0, round.points_bonus - rules.characteristic_bonus(len(texts)))
    before = max(0, int(points_then) - round.points)
    return RoundSummary(
        outcome=round.outcome,
        answer=round.answer,
        answer_label=rules.class_label(round.answer),
        guess=round.guess,
        guess_label=rules.class_label(round.guess) if round.guess else "",
        step=round.step,
        points_base=round.points_base,
        points_bonus=round.points_bonus - agreement,
        points=round.points,
        characteristics=texts,
        image_url=round_picture_url(token=round.token, kind="picture")
        if game_file or view_file or file
        else "",
        overlay_url=round_picture_url(token=round.token, kind="overlay") if overlay else "",
        layer=layer,
        layer_number=position + 1,
        layer_count=layer_count,
        weight=weight,
        player_points=points,
        level=rules.level_for_points(points),
        rank=above + 1 if points > 0 and ranked else None,
        ranked=ranked,
        finished_at=round.finished_at,
        campaign_slug=round.campaign.slug,
        campaign_name=round.campaign.name,
        frame_url=round_picture_url(token=round.token, kind="frame") if guessed(round) else "",
        depth=depth,
        caption=rules.overlay_caption(depth),
        network_guess_label=rules.class_label(predicted) if predicted else "",
        network_right=not predicted or predicted == round.answer,
        crowd=_crowd(rounds=crowd_rounds, wins=crowd_wins, win_steps=crowd_win_steps),
        others_saw=others_saw(others),
        agreement_bonus=agreement,
        level_up=rules.level_for_points(int(points_then)).level.number
        > rules.level_for_points(before).level.number,
    )
