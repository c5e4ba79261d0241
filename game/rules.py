"""The rules of Deep Reveal as plain functions and tables (METHOD §5; no Django).

Scoring (NetViz, METHOD §5): a win at reveal step p scores round(100 · (6 − p) / 6); a loss or a
resign scores 0; every accepted characteristic adds 5 points, for at most 3 per round.

Levels: a player's level follows from their total points (table below, documented in
docs/game.md). Each threshold roughly doubles the previous one, so a level takes about as many
rounds as all the levels before it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

MAX_STEP = 5
STEP_COUNT = MAX_STEP + 1  # the UI counts steps 1..6
# Percent of the pixels revealed at step p = 0..5.
REVEAL_PERCENT: tuple[float, ...] = (2.0, 4.5, 8.0, 13.0, 20.0, 30.0)
MIN_CHARACTERISTICS = 1
MAX_CHARACTERISTICS = 5
# A characteristic's length in characters, counted on its normalised text (NFKC, spaces
# collapsed, edge punctuation dropped: processing.nlp.clean.normalise). The server refuses a
# longer text with a message for its field (never cuts it); the page counts the same way and
# says so while the player types. The default of processing.nlp.clean is the same.
CHARACTERISTIC_MIN_LENGTH = 2
CHARACTERISTIC_MAX_LENGTH = 40
# A nickname (a player's public display name) in characters, counted after its spaces are
# collapsed (game.services.players.nickname_clean). The server refuses a longer name with a
# message (never cuts it); the start and profile pages count the same way while the player
# types (static/game/nickname.js) and have no maxlength, which cut a pasted name silently.
NICKNAME_MIN_LENGTH = 2
NICKNAME_MAX_LENGTH = 30
POINTS_PER_CHARACTERISTIC = 5
MAX_SCORED_CHARACTERISTICS = 3
# A characteristic another player also gave on the same cluster map (same words up to
# inflection and spacing) earns this much more, for at most MAX_SCORED_AGREEMENTS per round.
POINTS_PER_AGREEMENT = 5
MAX_SCORED_AGREEMENTS = 3


def win_points(step: int) -> int:
    """round(100 · (6 − p) / 6), rounding halves up: 100, 83, 67, 50, 33, 17."""
    if not 0 <= step <= MAX_STEP:
        raise ValueError(f"step must be in 0..{MAX_STEP}, got {step}")
    return math.floor(100 * (6 - step) / 6 + 0.5)


def points_after_next_step(step: int) -> int | None:
    """What a right guess earns after one more SHOW MORE; None at the last step."""
    return None if step >= MAX_STEP else win_points(step + 1)


def characteristic_bonus(n_accepted: int) -> int:
    return POINTS_PER_CHARACTERISTIC * min(max(n_accepted, 0), MAX_SCORED_CHARACTERISTICS)


def agreement_bonus(n_agreeing: int) -> int:
    """Points for characteristics that other players also gave on the same cluster map."""
    return POINTS_PER_AGREEMENT * min(max(n_agreeing, 0), MAX_SCORED_AGREEMENTS)


DEPTHS = ("early", "middle", "late")


def layer_depth(position: int, count: int) -> str:
    """Where an explained layer sits among the campaign's explained layers, in plain words:
    the first, middle and last third are "early", "middle" and "late"."""
    if count <= 1:
        return "late"
    third = min(max(position, 0), count - 1) * 3 // count
    return DEPTHS[third]


def overlay_caption(depth: str) -> str:
    """The summary's plain-words caption of a cluster-map overlay."""
    article = "an" if depth == "early" else "a"
    return (
        "The part of the picture this group of the network's detectors responded to, "
        f"in {article} {depth} layer."
    )


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    min_points: int


LEVELS: tuple[Level, ...] = (
    Level(1, "Novice", 0),
    Level(2, "Observer", 100),
    Level(3, "Spotter", 300),
    Level(4, "Tracker", 700),
    Level(5, "Analyst", 1500),
    Level(6, "Interpreter", 3000),
    Level(7, "Expert", 6000),
    Level(8, "Master", 12000),
    Level(9, "Oracle", 25000),
)


@dataclass(frozen=True)
class LevelProgress:
    level: Level
    next_level: Level | None
    points: int

    @property
    def points_to_next(self) -> int | None:
        return None if self.next_level is None else self.next_level.min_points - self.points

    @property
    def fraction(self) -> float:
        """Progress from this level's threshold to the next one, in [0, 1]."""
        if self.next_level is None:
            return 1.0
        span = self.next_level.min_points - self.level.min_points
        return (self.points - self.level.min_points) / span


def level_for_points(points: int) -> LevelProgress:
    points = max(int(points), 0)
    current = LEVELS[0]
    for level in LEVELS:
        if points >= level.min_points:
            current = level
    nxt = LEVELS[current.number] if current.number < len(LEVELS) else None
    return LevelProgress(level=current, next_level=nxt, points=points)


def class_label(name: str) -> str:
    """Human-readable name of a class: ImageNet names hold synonyms after commas; show the first."""
    first = name.split(",")[0].strip()
    return first or name.strip()


# --- ranks ------------------------------------------------------------------------------------

# Shown under "Not ranked" when a player is on no leaderboard (docs/game.md, "Player trust"):
# neutral, never an accusation; the profile, the summary pages and the API say the same.
RANK_NOTE_NO_POINTS = "Score points to join the leaderboards."
RANK_NOTE_UNCONFIRMED = (
    "The leaderboards count a player while their play agrees with other players' on the same "
    "pictures: guesses made on what the picture shows, and descriptions that others give too. "
    "Keep playing and describing what you see."
)


def rank_note(*, rank: int | None, ranked: bool) -> str:
    """Why a player has no rank number ('' when they have one): not counted on the leaderboards
    yet (``ranked`` False: blocked, or trust under the cut-off), or no points yet."""
    if rank is not None:
        return ""
    return RANK_NOTE_NO_POINTS if ranked else RANK_NOTE_UNCONFIRMED


# --- guess choices ------------------------------------------------------------------------------

# Up to this many choices are radio buttons (shown in a per-round shuffled order); more are a
# drop-down (in alphabetical order). static/game/game.js draws the same line.
MAX_RADIO_CHOICES = 12


def choice_order(*, seed: str, n: int) -> tuple[int, ...]:
    """A permutation of ``range(n)`` that depends only on ``seed`` (a round's token): the round's
    order of its guess choices, the same on every response and reload of the round, independent
    of which choice is the answer. Fisher-Yates driven by SHAKE-256 of the seed (32 bits per
    swap; the modulo bias is below n / 2**32)."""
    if n <= 1:
        return tuple(range(n))
    stream = hashlib.shake_256(f"choices:{seed}".encode()).digest(4 * n)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int.from_bytes(stream[4 * i : 4 * i + 4], "big") % (i + 1)
        order[i], order[j] = order[j], order[i]
    return tuple(order)
