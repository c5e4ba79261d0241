"""Item tallies (game.models.ItemTally): kept exact by the round statements, recounted on
demand, filled by the data migration; a round start reads them instead of counting rounds."""

from __future__ import annotations

import datetime as dt
import importlib
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.utils import timezone

from core.errors import ApplicationError
from game import selectors, services
from game.models import ItemTally, Player, Round
from tests.factories import CampaignFactory, PlayerFactory, RoundFactory, make_image_items

pytestmark = pytest.mark.django_db


def tallies() -> dict[int, tuple[int, int]]:
    """{item: (live, finished)} of the tally rows that are not empty."""
    return {
        cm: (live, finished)
        for cm, live, finished in ItemTally.objects.values_list("pk", "live", "finished")
        if live or finished
    }


def recount() -> dict[int, tuple[int, int]]:
    return {cm: (live, fin) for cm, (_c, live, fin) in selectors.item_tallies_recount().items()}


def assert_exact() -> None:
    assert tallies() == recount()


def test_every_round_statement_keeps_the_tally_exact(items):
    a, b, c, d = (PlayerFactory() for _ in range(4))
    ra = services.round_start(player=a)
    assert tallies()[ra.cluster_map_id] == (1, 0)
    services.round_reveal(player=a, token=ra.token)  # a reveal changes no count
    assert tallies()[ra.cluster_map_id] == (1, 0)
    services.round_guess(player=a, token=ra.token, choice=ra.answer)  # live -> finished
    assert tallies()[ra.cluster_map_id] == (0, 1)
    services.round_characteristics_submit(player=a, token=ra.token, texts=["floppy ears"])
    assert tallies()[ra.cluster_map_id] == (0, 1)  # still finished
    assert_exact()
    rb = services.round_start(player=b)
    services.round_resign(player=b, token=rb.token)  # live -> finished
    assert_exact()
    rc = services.round_start(player=c)
    Round.objects.filter(pk=rc.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    assert services.rounds_expire() == {"expired": 1, "closed": 0}  # live -> gone
    assert tallies().get(rc.cluster_map_id, (0, 0))[0] == 0
    assert_exact()
    rd = services.round_start(player=d)
    services.round_guess(player=d, token=rd.token, choice=rd.answer)
    Round.objects.filter(pk=rd.pk).update(guessed_at=timezone.now() - dt.timedelta(hours=2))
    assert services.rounds_expire() == {"expired": 0, "closed": 1}  # labelling -> done: finished
    assert_exact()
    # the player's own expired round is closed by their next start
    rc2 = services.round_start(player=c)
    Round.objects.filter(pk=rc2.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    services.round_start(player=c)
    assert Round.objects.get(pk=rc2.pk).status == Round.Status.EXPIRED
    assert_exact()
    # a labelling round skipped for a new one is closed as done: it stays finished
    rb2 = services.round_start(player=b)
    services.round_guess(player=b, token=rb2.token, choice=rb2.answer)
    services.round_start(player=b, skip_labelling=True)
    assert_exact()


def test_a_refused_guess_and_refused_characteristics_leave_the_tally(items, player):
    r = services.round_start(player=player)
    with pytest.raises(ApplicationError):
        services.round_guess(player=player, token=r.token, choice="not a class")
    assert tallies()[r.cluster_map_id] == (1, 0)
    services.round_guess(player=player, token=r.token, choice=r.answer)
    with pytest.raises(ApplicationError):
        services.round_guess(player=player, token=r.token, choice=r.answer)  # a second guess
    assert tallies()[r.cluster_map_id] == (0, 1)
    assert_exact()


def test_a_guest_merged_into_an_account_keeps_the_tallies_exact(items):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("merger", password="pw-123456789")
    account = services.player_ensure_for_user(user=user)
    services.round_start(player=account)  # the account's open round
    guest = services.player_create_guest(nickname="Guesty")
    services.round_start(player=guest)  # the guest's, closed by the merge
    services.player_claim_guest(user=user, guest_id=guest.pk)
    assert_exact()


def test_deleting_a_player_recounts_the_items_of_their_rounds(items):
    p, q = PlayerFactory(), PlayerFactory()
    r = services.round_start(player=p)
    services.round_resign(player=p, token=r.token)
    services.round_start(player=q)
    Player.objects.filter(pk=p.pk).delete()
    assert_exact()


def test_the_recount_repairs_drift_and_the_command_reports_it(items):
    players = [PlayerFactory() for _ in range(3)]
    rounds = [services.round_start(player=p) for p in players]
    services.round_resign(player=players[0], token=rounds[0].token)
    right = tallies()
    # drift: rounds written around the services, a row lost, a row that should be empty
    Round.objects.filter(pk=rounds[1].pk).update(status=Round.Status.DONE)
    ItemTally.objects.filter(pk=rounds[2].cluster_map_id).delete()
    spare = next(i for i in items if not ItemTally.objects.filter(pk=i.pk).exists())
    ItemTally.objects.create(cluster_map=spare, campaign_id=spare.image.campaign_id, live=3)
    kept, want = tallies(), recount()
    wrong = {cm for cm in {*kept, *want} if kept.get(cm, (0, 0)) != want.get(cm, (0, 0))}
    assert spare.pk in wrong and rounds[2].cluster_map_id in wrong
    assert services.item_tallies_rebuild() == len(wrong)
    assert_exact()
    assert tallies() != right  # round 1 is finished now
    out = StringIO()
    call_command("game_item_tallies_rebuild", stdout=out)
    assert "0 row(s) written" in out.getvalue()


def test_the_data_migration_fills_the_tallies_from_the_rounds(items):
    for p in [PlayerFactory() for _ in range(3)]:
        r = services.round_start(player=p)
        services.round_guess(player=p, token=r.token, choice=r.answer)
    services.round_start(player=PlayerFactory())
    want = tallies()
    ItemTally.objects.all().delete()
    migration = importlib.import_module("game.migrations.0007_fill_item_tallies")
    migration.fill(django_apps, None)
    assert tallies() == want == recount()


def test_factory_rounds_are_counted_like_the_services_count_them(items):
    RoundFactory(cluster_map=items[0], status=Round.Status.DONE, outcome="win")
    RoundFactory(cluster_map=items[0], status=Round.Status.ACTIVE)
    assert tallies()[items[0].pk] == (1, 1)
    assert_exact()


# --- a start costs the same at any history ---------------------------------------------------------


def _history(*, items, rounds_per_item: int) -> None:
    """Finished rounds of past players on every item, written in bulk, then recounted."""
    past = Player.objects.bulk_create(
        [Player(nickname=f"past {i}", nickname_key=f"past{i}") for i in range(rounds_per_item)]
    )
    now = timezone.now()
    Round.objects.bulk_create(
        [
            Round(
                token=f"h{p.pk}-{item.pk}",
                player=p,
                campaign_id=item.image.campaign_id,
                image_id=item.image_id,
                cluster_map=item,
                layer_position=0,
                answer="goldfinch",
                status=Round.Status.DONE,
                outcome=Round.Outcome.WIN,
                started_at=now,
                expires_at=now,
                finished_at=now,
            )
            for p in past
            for item in items[:1]
        ]
    )
    services.item_tallies_rebuild()


@pytest.mark.parametrize("history", [2, 40])
def test_a_start_runs_the_same_statements_whatever_the_history(
    history, django_assert_num_queries, settings
):
    """A warm start (cached items and order) costs the same statements at 2 and at 40
    finished rounds on the item: no count of rounds, one tally upsert."""
    campaign = CampaignFactory(target_rounds=1000)
    items = make_image_items(campaign=campaign, layers=1, clusters=1, true_class="goldfinch")
    _history(items=items, rounds_per_item=history)
    settings.NETVIZ_GAME_TALLY_CACHE_SECONDS = 60
    services.round_start(player=PlayerFactory())  # warms the caches
    player = PlayerFactory()
    # savepoint, player lock with their rounds, savepoint, tally, round insert, 2 releases
    with django_assert_num_queries(7):
        r = services.round_start(player=player)
    assert r.cluster_map_id == items[0].pk
    assert tallies()[items[0].pk] == (2, history)


def test_a_round_edited_or_deleted_in_the_django_admin_recounts_its_item(items, client):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("root-admin", "r@example.org", "pw-12345678")
    client.force_login(staff)
    p = PlayerFactory()
    r = services.round_start(player=p)
    data = {
        field: value
        for field, value in Round.objects.filter(pk=r.pk).values()[0].items()
        if field not in ("id", "token")
    }
    data = {k.removesuffix("_id"): v for k, v in data.items()}
    data.update(
        status=Round.Status.DONE,
        outcome=Round.Outcome.LOSS,
        guess="",
        started_at_0=r.started_at.date(),
        started_at_1=r.started_at.time(),
        expires_at_0=r.expires_at.date(),
        expires_at_1=r.expires_at.time(),
        **{"characteristics-TOTAL_FORMS": 0, "characteristics-INITIAL_FORMS": 0},
    )
    data = {k: ("" if v is None else v) for k, v in data.items()}
    resp = client.post(f"/admin/game/round/{r.pk}/change/", data)
    assert resp.status_code == 302, resp.content[:2000]
    assert tallies()[r.cluster_map_id] == (0, 1)
    assert_exact()
    resp = client.post(f"/admin/game/round/{r.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    assert tallies().get(r.cluster_map_id, (0, 0)) == (0, 0)
    assert_exact()
