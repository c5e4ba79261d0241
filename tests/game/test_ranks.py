"""A rank is a place on the leaderboards. A player they leave out (blocked, or effective trust
under ``NETVIZ_TRUST_MIN_COUNTED``) has no rank number on the profile, in the round summary
(page and API) or in ``/api/game/me/``, but a neutral note instead (docs/game.md, "Player
trust"); every rank shown is the player's place on the all-time leaderboard."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from game import rules, selectors
from game.models import Player, Round
from tests.factories import PlayerFactory, make_finished_round
from tests.game.helpers import API, guest_client, post

pytestmark = pytest.mark.django_db


def _scored(player: Player, item, points: int) -> Round:
    """A done round of ``points`` points, and the player's totals with it."""
    r = make_finished_round(cluster_map=item, player=player)
    Round.objects.filter(pk=r.pk).update(points=points, points_base=points)
    Player.objects.filter(pk=player.pk).update(points=points, rounds_finished=1, wins=1)
    return Round.objects.select_related("campaign").get(pk=r.pk)


def _fresh(player: Player) -> Player:
    return Player.objects.get(pk=player.pk)


def _board() -> dict[int, int]:
    return {row.player_id: row.rank for row in selectors.leaderboard_list(limit=100)}


def test_every_rank_shown_is_the_players_place_on_the_leaderboard(items, settings):
    settings.NETVIZ_TRUST_MIN_COUNTED = 0.3
    farmer = PlayerFactory(nickname="farmer", trust=0.1)  # most points, untrusted
    ann = PlayerFactory(nickname="ann")
    ben = PlayerFactory(nickname="ben")
    rounds = {
        farmer.pk: _scored(farmer, items[0], 900),
        ann.pk: _scored(ann, items[4], 80),
        ben.pk: _scored(ben, items[8], 50),
    }

    def shown() -> dict[int, tuple[int | None, int | None, bool]]:
        """Per player: (profile rank, summary rank, ranked)."""
        out = {}
        for pid, r in rounds.items():
            stats = selectors.player_stats(player=_fresh(r.player))
            summary = selectors.round_summary(round=r)
            assert stats.ranked == summary.ranked
            out[pid] = (stats.rank, summary.rank, stats.ranked)
        return out

    board = _board()
    assert farmer.pk not in board and board == {ann.pk: 1, ben.pk: 2}
    ranks = shown()
    assert ranks[farmer.pk] == (None, None, False)  # ranked nowhere, not first on a profile
    for pid in (ann.pk, ben.pk):
        assert ranks[pid] == (board[pid], board[pid], True)

    # an admin's override that trusts the farmer puts them on the board, and everywhere else
    Player.objects.filter(pk=farmer.pk).update(trust_override=0.9)
    board, ranks = _board(), shown()
    assert board == {farmer.pk: 1, ann.pk: 2, ben.pk: 3}
    assert {pid: r[0] for pid, r in ranks.items()} == board
    assert {pid: r[1] for pid, r in ranks.items()} == board

    # blocked: off the board, no rank anywhere, whatever the trust
    Player.objects.filter(pk=farmer.pk).update(is_blocked=True)
    board, ranks = _board(), shown()
    assert farmer.pk not in board and ranks[farmer.pk] == (None, None, False)


def test_the_note_says_why_there_is_no_number_without_blame(items, settings):
    settings.NETVIZ_TRUST_MIN_COUNTED = 0.3
    low = _fresh(PlayerFactory(trust=0.1))
    stats = selectors.player_stats(player=low)
    assert stats.rank is None and stats.rank_note == rules.RANK_NOTE_UNCONFIRMED
    new = _fresh(PlayerFactory())  # trusted, no points yet
    stats = selectors.player_stats(player=new)
    assert stats.rank is None and stats.ranked and stats.rank_note == rules.RANK_NOTE_NO_POINTS
    for note in (rules.RANK_NOTE_UNCONFIRMED, rules.RANK_NOTE_NO_POINTS):
        lowered = note.lower()
        assert not any(word in lowered for word in ("cheat", "trust", "suspic", "block", "ban"))
    ranked = _fresh(_scored(PlayerFactory(), items[0], 10).player)
    assert selectors.player_stats(player=ranked).rank_note == ""


def test_ranks_cost_no_more_statements(items, settings, django_assert_num_queries):
    """The summary's rank comes with its one statement (the player's trust is read there too):
    a summary costs the same 3 statements (the row, the characteristics, the others' labels)
    for a trusted and an untrusted player. The profile's rank is one count, and none at all for
    a player the leaderboards leave out."""
    settings.NETVIZ_TRUST_MIN_COUNTED = 0.3
    trusted = _scored(PlayerFactory(), items[0], 40)
    untrusted = _scored(PlayerFactory(trust=0.1), items[4], 60)
    counts = []
    for r in (trusted, untrusted):
        with CaptureQueriesContext(connection) as queries:
            selectors.round_summary(round=r)
        counts.append(len(queries))
    assert counts == [3, 3]
    a, b = Player.objects.get(pk=trusted.player_id), Player.objects.get(pk=untrusted.player_id)
    with django_assert_num_queries(1):
        assert selectors.player_stats(player=a).rank == 1
    with django_assert_num_queries(0):
        assert selectors.player_stats(player=b).rank is None


def test_pages_and_api_show_no_rank_number_to_an_unranked_player(items, settings):
    settings.NETVIZ_TRUST_MIN_COUNTED = 0.3
    client = guest_client("Unranked")
    token = post(client, API + "rounds/").json()["token"]
    answer = Round.objects.get(token=token).answer
    post(client, f"{API}rounds/{token}/guess/", {"choice": answer})
    done = post(client, f"{API}rounds/{token}/characteristics/", {"texts": ["floppy ears"]})
    assert done.json()["summary"]["rank"] == 1 and done.json()["summary"]["ranked"] is True
    for url in (reverse("game:profile"), reverse("game:round-summary", args=[token])):
        assert 'data-stat="rank">#1</dd>' in client.get(url).content.decode()
    Player.objects.filter(nickname="Unranked").update(trust=0.1)

    summary = client.get(f"{API}rounds/{token}/").json()["summary"]
    me = client.get(API + "me/").json()["player"]
    for data in (summary, me):
        assert data["rank"] is None and data["ranked"] is False
        assert data["rank_note"] == rules.RANK_NOTE_UNCONFIRMED
    for url in (reverse("game:profile"), reverse("game:round-summary", args=[token])):
        html = client.get(url).content.decode()
        cell = html.split('data-stat="rank">', 1)[1].split("</dd>", 1)[0]
        assert cell.startswith("Not ranked") and not re.search(r"#\d", cell)
        assert rules.RANK_NOTE_UNCONFIRMED.split("'")[0] in cell  # the note (HTML-escaped ')
