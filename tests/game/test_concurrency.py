"""Concurrency on PostgreSQL: one score per round, no item past its target, no image twice.

Threads, each with its own database connection, hit the services at the same moment (a
barrier releases them together). Needs DATABASE_URL=postgres://... (scripts/test.sh sets it
when PostgreSQL runs); skipped otherwise, with that reason.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.db.models import Count, Q
from django.utils import timezone

from core.errors import ApplicationError
from game import selectors, services
from game.models import ItemTally, Player, Round
from tests.conftest import is_postgres, services_required
from tests.factories import CampaignFactory, PlayerFactory, make_image_items

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if not is_postgres():
        reason = "concurrency tests need PostgreSQL (DATABASE_URL=postgres://...)"
        if services_required():
            pytest.fail(reason)
        pytest.skip(reason)


def assert_tallies_exact() -> None:
    """Every item tally equals the recount of its rounds (live: active; finished: labelling
    or done)."""
    kept = {
        cm: (live, finished)
        for cm, live, finished in ItemTally.objects.values_list("pk", "live", "finished")
        if live or finished
    }
    recount = {cm: (live, fin) for cm, (_c, live, fin) in selectors.item_tallies_recount().items()}
    assert kept == recount


def run_together(n: int, work: Callable[[int], object]) -> list[object]:
    """Run work(i) for i in range(n) in n threads released at once; return results/exceptions."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - collected and checked by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_twenty_concurrent_guesses_score_once():
    campaign = CampaignFactory()
    make_image_items(campaign=campaign, layers=1, clusters=1)
    player = PlayerFactory()
    r = services.round_start(player=player)
    services.round_reveal(player=player, token=r.token)

    results = run_together(
        20, lambda i: services.round_guess(player=player, token=r.token, choice=r.answer)
    )
    ok = [x for x in results if isinstance(x, Round)]
    refused = [x for x in results if isinstance(x, ApplicationError)]
    assert len(ok) == 1 and len(refused) == 19, [type(x) for x in results]
    assert all(e.status == 409 for e in refused)

    results = run_together(
        20,
        lambda i: services.round_characteristics_submit(
            player=player, token=r.token, texts=[f"thing number {i}"]
        ),
    )
    assert sum(isinstance(x, Round) for x in results) == 1
    assert all(isinstance(x, Round | ApplicationError) for x in results)
    r.refresh_from_db()
    player.refresh_from_db()
    assert (r.status, r.points) == (Round.Status.DONE, 83 + 5)
    assert (player.points, player.rounds_finished, player.wins) == (88, 1, 1)
    assert r.characteristics.count() == 1
    assert ItemTally.objects.get(pk=r.cluster_map_id).finished == 1
    assert_tallies_exact()


def test_fifty_concurrent_players_never_exceed_targets_or_repeat_images():
    campaign = CampaignFactory(target_rounds=2)
    for _ in range(6):  # 6 images x 2 layers x 2 clusters = 24 items, 48 slots
        make_image_items(campaign=campaign, layers=2, clusters=2)
    players = [PlayerFactory() for _ in range(50)]
    connection.close()

    def one_wave() -> list[object]:
        def work(i: int):
            p = players[i]
            open_round = Round.objects.filter(player=p, status=Round.Status.ACTIVE).first()
            if open_round is not None:
                services.round_resign(player=p, token=open_round.token)
            return services.round_start(player=p)

        return run_together(50, work)

    assigned = 0
    for _wave in range(3):
        results = one_wave()
        unexpected = [x for x in results if not isinstance(x, Round | ApplicationError)]
        assert not unexpected, unexpected  # no IntegrityError, no deadlock, no 500
        assigned += sum(isinstance(x, Round) for x in results)
        counted = (
            Round.objects.filter(
                Q(status__in=["labelling", "done"])
                | Q(status="active", expires_at__gt=timezone.now())
            )
            .values("cluster_map_id")
            .annotate(n=Count("id"))
        )
        assert max(c["n"] for c in counted) <= campaign.target_rounds
        per_player_image = Counter(Round.objects.values_list("player_id", "image_id"))
        assert max(per_player_image.values()) == 1
        assert_tallies_exact()
    # every slot was handed out once all waves are done (48 = 24 items x target 2)
    assert assigned == 48
    assert Round.objects.count() == 48
    assert Player.objects.count() == 50


def test_twenty_concurrent_reveals_stop_at_step_five():
    campaign = CampaignFactory()
    make_image_items(campaign=campaign, layers=1, clusters=1)
    player = PlayerFactory()
    r = services.round_start(player=player)
    results = run_together(20, lambda i: services.round_reveal(player=player, token=r.token))
    assert sum(isinstance(x, Round) for x in results) == 5
    assert all(isinstance(x, Round | ApplicationError) for x in results)
    r.refresh_from_db()
    assert r.step == 5


def test_tallies_stay_exact_when_starts_guesses_resigns_and_expiry_race():
    """Forty players on four items: each starts, then guesses or resigns, while the expiry
    sweep runs; every tally equals the recount of its rounds afterwards."""
    campaign = CampaignFactory(target_rounds=100)
    for _ in range(2):
        make_image_items(campaign=campaign, layers=1, clusters=2)
    players = [PlayerFactory() for _ in range(40)]
    connection.close()
    started = run_together(40, lambda i: services.round_start(player=players[i]))
    assert all(isinstance(x, Round) for x in started), started
    assert_tallies_exact()
    # a few rounds are abandoned long ago: the sweep expires them while the others finish
    stale = [r.pk for r in started[30:]]
    Round.objects.filter(pk__in=stale).update(
        expires_at=timezone.now() - timezone.timedelta(hours=1)
    )
    connection.close()

    def finish(i: int):
        if i == 40:
            return services.rounds_expire()
        r = started[i]
        if i >= 30:
            return services.round_start(player=players[i])  # closes the abandoned round
        if i % 2:
            return services.round_resign(player=players[i], token=r.token)
        return services.round_guess(player=players[i], token=r.token, choice=r.answer)

    results = run_together(41, finish)
    unexpected = [x for x in results if not isinstance(x, Round | ApplicationError | dict)]
    assert not unexpected, unexpected
    assert_tallies_exact()
