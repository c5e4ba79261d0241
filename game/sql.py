"""The game's SQL, behind one door: the statements the ORM cannot write, or writes at a cost the
load figures do not allow. Everything else in ``game/`` goes through the ORM.

Each statement has named parameters and says why it is SQL. They run unchanged on PostgreSQL
(production, CI) and SQLite (``make demo``, the tests' default); datetimes are adapted as the ORM
adapts them (``adapt_datetimefield_value``), JSON columns decoded as the ORM decodes them.

The player behind a request is matched inside the statements (:func:`_player_match`) from a
``PlayerRef`` (``selectors.players``): a user's player, or a guest player that is still a guest,
never a blocked one. The hot actions so check the player without loading it first.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING

from django.apps import apps
from django.db import connection

from explanations.models import Campaign, CampaignImage, ClusterMap, ExplanationJob, LayerResult

from . import rules
from .models import Characteristic, ItemTally, Player, Round

if TYPE_CHECKING:
    from .selectors.players import PlayerRef

_ROUNDS = Round._meta.db_table
_PLAYERS = Player._meta.db_table
_TALLIES = ItemTally._meta.db_table
_FRAMES = ClusterMap._meta.get_field("frames")


def _when(value: dt.datetime):
    """A datetime parameter as the ORM would store it."""
    return connection.ops.adapt_datetimefield_value(value)


def _player_who(ref: PlayerRef) -> tuple[str, dict]:
    """The condition on ``p`` (a player row) matching the player behind ``ref``, blocked or
    not, and its parameters: a user's player, or a guest player that is still a guest."""
    if ref.user_id is not None:
        return "p.user_id = %(user_id)s", {"user_id": ref.user_id}
    return "p.id = %(guest_id)s AND p.user_id IS NULL", {"guest_id": ref.guest_id}


def _player_match(ref: PlayerRef) -> tuple[str, dict]:
    """``player_id IN (...)``: the unblocked player behind ``ref``, and its parameters. A guest
    id only matches a player that is still a guest (one that signed up is reached through its
    user), as ``services.player_resolve`` does."""
    who, params = _player_who(ref)
    return f"player_id IN (SELECT p.id FROM {_PLAYERS} p WHERE {who} AND NOT p.is_blocked)", params


_ROUND_FIELDS = Round._meta.concrete_fields
_ROUND_ATTNAMES = [f.attname for f in _ROUND_FIELDS]
_RETURNING_ROUND = "RETURNING " + ", ".join(f.column for f in _ROUND_FIELDS)
_round_converters: dict[str, list] = {}


def _returning_round(statement: str, params: dict) -> Round | None:
    """Run a statement that ends ``RETURNING`` the round's columns (or selects them, in
    order); the round it gave back (or None), built as the ORM builds a fetched row: each
    field's database converters applied (SQLite returns datetimes as text), then
    ``Model.from_db``. Cheaper than ``Model.objects.raw``,
    which works the columns and converters out again for every statement."""
    converters = _round_converters.get(connection.vendor)
    if converters is None:
        table = Round._meta.db_table
        converters = _round_converters[connection.vendor] = [
            (i, found)
            for i, field in enumerate(_ROUND_FIELDS)
            if (
                found := connection.ops.get_db_converters(field.get_col(table))
                + field.get_db_converters(connection)
            )
        ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for i, found in converters:
        for convert in found:
            values[i] = convert(values[i], None, connection)
    return Round.from_db(connection.alias, _ROUND_ATTNAMES, values)


# --- a player's round --------------------------------------------------------------------------

_ROUND_OF_PLAYER = (
    "SELECT "
    + ", ".join(f.column for f in _ROUND_FIELDS)
    + f" FROM {_ROUNDS} WHERE token = %(token)s AND {{player}}"
)


def round_of_player(*, ref: PlayerRef, token: str) -> Round | None:
    """The round ``token`` if it belongs to the (unblocked) player behind ``ref``, else None.

    SQL because every characteristics submission starts here: the ORM spends about 0.5 ms of
    CPU building this two-table filter, more than the database takes to answer it."""
    player, params = _player_match(ref)
    return _returning_round(_ROUND_OF_PLAYER.format(player=player), {"token": token, **params})


# --- a start's player lock ----------------------------------------------------------------------

_PLAYER_LOCK = (
    f"SELECT p.id, p.is_blocked, r.image_id, r.id, r.status FROM {_PLAYERS} p "
    f"LEFT OUTER JOIN {_ROUNDS} r ON r.player_id = p.id WHERE {{who}} {{lock}}"
)


def player_lock_rows(*, ref: PlayerRef) -> list[tuple]:
    """Lock the player behind ``ref`` (blocked or not) until the transaction ends, and read
    their rounds in the same statement: rows of (player id, blocked, image id, round id,
    status), one per round (one row of None round fields for a player without rounds); no row
    when there is no such player.

    The lock clause is the one the ORM writes (``connection.ops.for_update_sql``, on the
    player's row only); SQLite has no row locks (it serialises writers), so there is none.
    SQL because every round start begins here: the ORM spends about 0.6 ms of CPU building
    this locking join, more than the database takes to run it."""
    who, params = _player_who(ref)
    lock = ""
    if connection.features.has_select_for_update:
        of = ("p",) if connection.features.has_select_for_update_of else ()
        lock = connection.ops.for_update_sql(of=of)
    with connection.cursor() as cursor:
        cursor.execute(_PLAYER_LOCK.format(who=who, lock=lock), params)
        return cursor.fetchall()


# --- round actions -----------------------------------------------------------------------------

_REVEAL = (
    f"UPDATE {_ROUNDS} SET step = step + 1 "
    "WHERE token = %(token)s AND status = %(active)s AND step < %(max_step)s "
    "AND expires_at > %(now)s AND {player} " + _RETURNING_ROUND
)


def round_reveal(*, ref: PlayerRef, token: str, now: dt.datetime) -> Round | None:
    """SHOW MORE: step + 1 while the round is the player's, active, unexpired and below the last
    step; the round as it is now, or None when nothing moved.

    SQL because the ORM has no ``UPDATE … RETURNING``: a third of the game's requests are
    reveals, and one conditional statement both checks and moves the round (the database
    applies concurrent reveals one after the other and re-checks the condition each time), where
    the ORM needs a locking read and a save."""
    player, params = _player_match(ref)
    return _returning_round(
        _REVEAL.format(player=player),
        {
            **params,
            "token": token,
            "active": Round.Status.ACTIVE,
            "max_step": rules.MAX_STEP,
            "now": _when(now),
        },
    )


# rules.win_points(step) as SQL; SET reads the old row, so each column repeats it. The choice is
# cast to text once: PostgreSQL (server-side binding) gives a reused parameter one type.
_WIN_POINTS = (
    "CASE step "
    + " ".join(f"WHEN {step} THEN {rules.win_points(step)}" for step in range(rules.MAX_STEP + 1))
    + " END"
)
_GUESS = (
    f"UPDATE {_ROUNDS} SET guess = CAST(%(choice)s AS TEXT), status = %(labelling)s, guessed_at = %(now)s, "
    "outcome = CASE WHEN answer = %(choice)s THEN %(win)s ELSE %(loss)s END, "
    f"points_base = CASE WHEN answer = %(choice)s THEN {_WIN_POINTS} ELSE 0 END, "
    f"points = CASE WHEN answer = %(choice)s THEN {_WIN_POINTS} ELSE 0 END "
    "WHERE token = %(token)s AND status = %(active)s AND expires_at > %(now)s AND {player} "
    + _RETURNING_ROUND
)


def round_guess(*, ref: PlayerRef, token: str, choice: str, now: dt.datetime) -> Round | None:
    """GUESS: record the guess and score it from the row's own step and answer while the round
    is the player's, active and unexpired; the round as it is now, or None when nothing moved
    (so a second guess finds the round no longer active).

    SQL for the reason of :func:`round_reveal` (no ``UPDATE … RETURNING`` in the ORM, and a
    tenth of the requests are guesses); the score is ``rules.win_points`` as a ``CASE``."""
    player, params = _player_match(ref)
    return _returning_round(
        _GUESS.format(player=player),
        {
            **params,
            "token": token,
            "choice": choice,
            "now": _when(now),
            "active": Round.Status.ACTIVE,
            "labelling": Round.Status.LABELLING,
            "win": Round.Outcome.WIN,
            "loss": Round.Outcome.LOSS,
        },
    )


_RESIGN = (
    f"UPDATE {_ROUNDS} SET outcome = %(resign)s, step = %(max_step)s, points_base = 0, "
    "points_bonus = 0, points = 0, status = %(done)s, finished_at = %(now)s "
    "WHERE token = %(token)s AND status = %(active)s AND expires_at > %(now)s AND {player} "
    + _RETURNING_ROUND
)


def round_resign(*, ref: PlayerRef, token: str, now: dt.datetime) -> Round | None:
    """RESIGN: finish the round with 0 points at the last step while it is the player's, active
    and unexpired; the round as it is now, or None when nothing moved.

    SQL for the reason of :func:`round_reveal`: one conditional statement checks and finishes
    the round, where the ORM needs a locking read and a save."""
    player, params = _player_match(ref)
    return _returning_round(
        _RESIGN.format(player=player),
        {
            **params,
            "token": token,
            "now": _when(now),
            "resign": Round.Outcome.RESIGN,
            "max_step": rules.MAX_STEP,
            "done": Round.Status.DONE,
            "active": Round.Status.ACTIVE,
        },
    )


_FINISH = (
    f"UPDATE {_ROUNDS} SET points_bonus = %(bonus)s, points = points_base + %(bonus)s, "
    "status = %(done)s, finished_at = %(now)s "
    "WHERE id = %(round_id)s AND status = %(labelling)s " + _RETURNING_ROUND
)


def round_finish(*, round_id: int, bonus: int, now: dt.datetime) -> Round | None:
    """Finish a round waiting for characteristics with its bonus; the round as it is now, or
    None when it was not waiting any more (another request finished it first: the database
    applies the two one after the other, and the second finds the round done).

    SQL because the ORM has no ``UPDATE … RETURNING``: every round that gets characteristics
    (a tenth of the game's requests) is checked and finished by this one statement, where the
    ORM needs a locking read and a save."""
    return _returning_round(
        _FINISH,
        {
            "round_id": round_id,
            "bonus": bonus,
            "now": _when(now),
            "done": Round.Status.DONE,
            "labelling": Round.Status.LABELLING,
        },
    )


_FRAME = (
    f"SELECT cm.frames FROM {_ROUNDS} r "
    f"JOIN {ClusterMap._meta.db_table} cm ON cm.id = r.cluster_map_id "
    "WHERE r.token = %(token)s AND r.step = %(step)s "
    "AND ((r.status = %(active)s AND r.expires_at > %(now)s) OR r.status = %(labelling)s) "
    "AND r.{player}"
)


def round_frames(*, ref: PlayerRef, token: str, step: int, now: dt.datetime) -> list | None:
    """The frame names of the item of the player's round ``token`` if ``step`` is its current
    step and the round is active (unexpired) or waiting for characteristics; else None.

    SQL because every reveal frame passes here (a third of the game's requests): one plain
    statement, the player matched inside it, where building the ORM's query with its player
    subquery costs more than running it."""
    player, params = _player_match(ref)
    with connection.cursor() as cursor:
        cursor.execute(
            _FRAME.format(player=player),
            {
                **params,
                "token": token,
                "step": step,
                "now": _when(now),
                "active": Round.Status.ACTIVE,
                "labelling": Round.Status.LABELLING,
            },
        )
        row = cursor.fetchone()
    return None if row is None else _FRAMES.from_db_value(row[0], None, connection)


# --- player totals -----------------------------------------------------------------------------

_TOTALS = (
    f"UPDATE {_PLAYERS} SET points = points + %(points)s, "
    "rounds_finished = rounds_finished + 1, step_sum = step_sum + %(step)s, "
    "last_played_at = %(now)s, wins = wins + %(win)s, losses = losses + %(loss)s, "
    "resigns = resigns + %(resign)s WHERE id = %(player_id)s"
)


def player_totals_add(*, player_id: int, points: int, step: int, outcome: str, now) -> None:
    """Add one finished round to its player's totals: points, rounds, summed steps, the
    outcome's counter (win, loss or resign; none for other outcomes) and the time played.

    SQL because every finished round passes here (guesses, resigns, characteristics: a fifth
    of the game's requests): the ORM spends about 0.4 ms of CPU compiling these seven
    ``F()`` expressions, many times what the database takes to apply them."""
    with connection.cursor() as cursor:
        cursor.execute(
            _TOTALS,
            {
                "player_id": player_id,
                "points": points,
                "step": step,
                "now": _when(now),
                "win": int(outcome == Round.Outcome.WIN),
                "loss": int(outcome == Round.Outcome.LOSS),
                "resign": int(outcome == Round.Outcome.RESIGN),
            },
        )


# --- round summary -----------------------------------------------------------------------------

_SUMMARY = (
    "SELECT img.file, img.view_file, img.game_file, img.predicted_class, cm.overlay, cm.weight, "
    "lr.layer, lr.position, p.points, "
    "(NOT p.is_blocked AND COALESCE(p.trust_override, p.trust) >= %(min_trust)s), "
    f"(SELECT COUNT(*) FROM {_PLAYERS} q WHERE NOT q.is_blocked "
    "AND COALESCE(q.trust_override, q.trust) >= %(min_trust)s AND q.points > p.points), "
    f"(SELECT COALESCE(SUM(d.points), 0) FROM {_ROUNDS} d WHERE d.player_id = p.id "
    "AND d.status = %(done)s AND d.id <= %(round_id)s), "
    "crowd.n, crowd.wins, crowd.win_steps "
    f"FROM {ClusterMap._meta.db_table} cm "
    f"JOIN {LayerResult._meta.db_table} lr ON lr.id = cm.layer_result_id "
    f"JOIN {CampaignImage._meta.db_table} img ON img.id = cm.image_id "
    f"JOIN {_PLAYERS} p ON p.id = %(player_id)s "
    "CROSS JOIN (SELECT COUNT(*) AS n, "
    "COALESCE(SUM(CASE WHEN o.outcome = %(win)s THEN 1 ELSE 0 END), 0) AS wins, "
    "COALESCE(SUM(CASE WHEN o.outcome = %(win)s THEN o.step ELSE 0 END), 0) AS win_steps "
    f"FROM {_ROUNDS} o JOIN {_PLAYERS} op ON op.id = o.player_id "
    "WHERE o.cluster_map_id = %(cluster_map_id)s AND o.id <> %(round_id)s "
    "AND o.status IN (%(labelling)s, %(done)s) "
    "AND NOT op.is_blocked AND COALESCE(op.trust_override, op.trust) >= %(min_trust)s) crowd "
    "WHERE cm.id = %(cluster_map_id)s"
)


def round_summary_row(*, round: Round, min_trust: float) -> tuple | None:
    """What a finished round's summary needs beyond the round, in one statement: (image file,
    view file, game file, predicted class, overlay, weight, layer, layer position, the player's
    points, whether the player is trusted (ranked: on the leaderboards), trusted players above
    them, the player's points when the round finished, and the crowd: the other trusted players'
    finished rounds on the cluster map, their wins, their summed win steps). None when the
    cluster map is gone.

    "Points when the round finished" sums the player's done rounds up to this one: a player has
    one open round at a time, so their rounds finish in the order they start. The crowd is the
    players whose rounds count (unblocked, effective trust at least ``min_trust``), as for
    others_saw, agreement and the item target.

    SQL because every finished round returns its summary (about a tenth of the game's
    requests): the ORM needs three queries with related models, which cost several times more."""
    with connection.cursor() as cursor:
        cursor.execute(
            _SUMMARY,
            {
                "round_id": round.pk,
                "player_id": round.player_id,
                "cluster_map_id": round.cluster_map_id,
                "labelling": Round.Status.LABELLING,
                "done": Round.Status.DONE,
                "win": Round.Outcome.WIN,
                "min_trust": min_trust,
            },
        )
        return cursor.fetchone()


# --- what other players wrote on a cluster map ------------------------------------------------

_OTHERS = (
    "SELECT c.player_id, c.text, m.id, m.refused_reason, m.text, g.name, g.canonical, g.blocked "
    "FROM {characteristics} c "
    f"JOIN {_ROUNDS} r ON r.id = c.round_id "
    f"JOIN {_PLAYERS} p ON p.id = c.player_id "
    "LEFT JOIN {mentions} m ON m.characteristic_id = c.id "
    "LEFT JOIN {groups} g ON g.id = m.group_id "
    "WHERE r.cluster_map_id = %(cluster_map_id)s AND r.status = %(done)s AND NOT c.hidden "
    "AND c.player_id <> %(exclude_player_id)s "
    "AND NOT p.is_blocked AND COALESCE(p.trust_override, p.trust) >= %(min_trust)s "
    "ORDER BY c.round_id, c.position"
)


@functools.cache
def _others_sql() -> str:
    """:data:`_OTHERS` with the processing tables named through the app registry (the game
    imports no processing code), built once."""
    return _OTHERS.format(
        characteristics=Characteristic._meta.db_table,
        mentions=apps.get_model("processing", "LabelMention")._meta.db_table,
        groups=apps.get_model("processing", "LabelGroup")._meta.db_table,
    )


def cluster_map_others_rows(
    *, cluster_map_id: int, exclude_player_id: int, min_trust: float
) -> list[tuple]:
    """The characteristics other trusted players gave on a cluster map in finished rounds, with
    what processing made of each (its mention, refusal and group, when processed): rows of
    (player id, raw text, mention id, refused reason, cleaned text, group name, group canonical,
    group blocked), in round order. "Trusted" is ``selectors.trusted_players_q``: unblocked,
    effective trust (the override, else the computed trust) at least ``min_trust``.

    SQL because every characteristics submission and every summary reads it: the ORM builds
    this five-table query with its trust filter in about 1 ms of CPU, several times what the
    database takes to run it."""
    with connection.cursor() as cursor:
        cursor.execute(
            _others_sql(),
            {
                "cluster_map_id": cluster_map_id,
                "exclude_player_id": exclude_player_id,
                "done": Round.Status.DONE,
                "min_trust": min_trust,
            },
        )
        return cursor.fetchall()


# --- item tallies ------------------------------------------------------------------------------

_TALLY_ADD = (
    f"INSERT INTO {_TALLIES} (cluster_map_id, campaign_id, live, finished) "
    "SELECT cm.id, img.campaign_id, 1, 0 "
    f"FROM {ClusterMap._meta.db_table} cm "
    f"JOIN {CampaignImage._meta.db_table} img ON img.id = cm.image_id "
    f"JOIN {Campaign._meta.db_table} c ON c.id = img.campaign_id "
    f"JOIN {LayerResult._meta.db_table} lr ON lr.id = cm.layer_result_id "
    f"JOIN {ExplanationJob._meta.db_table} j ON j.id = lr.job_id "
    "WHERE cm.id = %(cluster_map_id)s AND c.status = %(published)s AND j.status = %(done)s "
    "AND j.params_hash = c.params_hash "
    f"ON CONFLICT (cluster_map_id) DO UPDATE SET live = {_TALLIES}.live + 1 "
    "RETURNING live, finished"
)


def item_tally_start(*, cluster_map_id: int) -> tuple[int, int] | None:
    """Count one more live round on an item if it is still playable (the conditions of
    ``ClusterMap.objects.playable()``: a test holds the two together), creating its tally row on
    its first round; (live, finished) afterwards, or None when the item is no longer playable.

    Atomic, and the item's row stays locked until the transaction ends (PostgreSQL; SQLite
    writes one transaction at a time): concurrent starts on the item count one after the other,
    each seeing the others' rounds.

    SQL because the ORM has no upsert that increments (``bulk_create(update_conflicts=True)``
    only writes the new row's values), and a read then a write would need a lock on a row that
    may not exist yet. Every round start runs it, with the check that the cached candidate is
    still playable riding along: the ORM's locking query over the same five tables cost four
    times what this statement costs (1.3 ms against 0.37 ms of CPU here)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _TALLY_ADD,
            {
                "cluster_map_id": cluster_map_id,
                "published": Campaign.Status.PUBLISHED,
                "done": ExplanationJob.Status.DONE,
            },
        )
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


_TALLY_MOVE = (
    f"UPDATE {_TALLIES} SET live = CASE WHEN live > %(live)s THEN live - %(live)s ELSE 0 END, "
    "finished = finished + %(finished)s WHERE cluster_map_id = %(cluster_map_id)s"
)


def item_tally_move(*, cluster_map_id: int, live: int, finished: int) -> None:
    """Take ``live`` live rounds off an item's tally (never below 0), and count ``finished``
    more finished ones: a guess or a resign moves one round from live to finished, an expiry
    takes live ones away. Atomic, as :func:`item_tally_start`.

    SQL because every guess and resign runs it (a tenth of the game's requests): the ORM's
    update with its expressions cost 0.7-0.8 ms of CPU here against 0.15 ms for this statement,
    about a fifth of a guess's CPU."""
    with connection.cursor() as cursor:
        cursor.execute(
            _TALLY_MOVE,
            {"cluster_map_id": cluster_map_id, "live": live, "finished": finished},
        )
