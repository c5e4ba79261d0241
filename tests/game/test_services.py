"""Round life cycle, scoring, assignment and guests (services, on the test database)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from explanations.models import Campaign, ExplanationJob
from game import selectors, services, sql
from game.models import Characteristic, Player, Round
from game.selectors import assignment
from game.signals import round_finished
from tests.factories import CampaignFactory, PlayerFactory, RoundFactory, make_image_items

pytestmark = pytest.mark.django_db


def start(player, **kw) -> Round:
    return services.round_start(player=player, **kw)


def finish_round(player, *, guess=None, texts=("floppy ears",)) -> Round:
    r = start(player)
    services.round_guess(player=player, token=r.token, choice=guess or r.answer)
    return services.round_characteristics_submit(player=player, token=r.token, texts=list(texts))


# --- a round ---------------------------------------------------------------------------------


def test_win_with_two_characteristics_scores_and_updates_the_player(items, player):
    r = start(player)
    assert r.status == Round.Status.ACTIVE and r.step == 0
    services.round_reveal(player=player, token=r.token)
    services.round_reveal(player=player, token=r.token)
    r = services.round_guess(player=player, token=r.token, choice=r.answer)
    assert (r.status, r.outcome, r.points_base) == (Round.Status.LABELLING, "win", 67)
    r = services.round_characteristics_submit(
        player=player, token=r.token, texts=["floppy ears", "white and brown fur"]
    )
    assert (r.status, r.points_bonus, r.points) == (Round.Status.DONE, 10, 77)
    assert list(r.characteristics.values_list("text", flat=True)) == [
        "floppy ears",
        "white and brown fur",
    ]
    player.refresh_from_db()
    assert (player.points, player.rounds_finished, player.wins, player.step_sum) == (77, 1, 1, 2)


def test_loss_scores_only_characteristics_capped_at_three(items, player):
    r = start(player)
    wrong = next(c for c in r.campaign.classes if c != r.answer)
    services.round_guess(player=player, token=r.token, choice=wrong)
    r = services.round_characteristics_submit(
        player=player, token=r.token, texts=["red", "round shape", "stripes", "grass"]
    )
    assert (r.outcome, r.points_base, r.points_bonus, r.points) == ("loss", 0, 15, 15)
    player.refresh_from_db()
    assert (player.losses, player.points) == (1, 15)


def test_resign_is_recorded_at_step_five_with_no_points(items, player):
    r = start(player)
    r = services.round_resign(player=player, token=r.token)
    assert (r.status, r.outcome, r.step, r.points) == (Round.Status.DONE, "resign", 5, 0)
    player.refresh_from_db()
    assert (player.resigns, player.step_sum, player.points) == (1, 5, 0)


def test_finish_time_is_stored_as_the_orm_stores_it(items, player):
    """The round-finish statement is SQL: its timestamps must compare equal to the ORM's (on
    SQLite an aware datetime passed raw was stored with "+00:00" and matched no ORM filter)."""
    r = services.round_resign(player=player, token=start(player).token)
    r.refresh_from_db()
    assert Round.objects.filter(pk=r.pk, finished_at=r.finished_at).exists()
    assert Round.objects.filter(finished_at__lte=r.finished_at).count() == 1
    player.refresh_from_db()
    assert type(player).objects.filter(pk=player.pk, last_played_at=r.finished_at).exists()


def test_server_holds_the_state(items, player):
    r = start(player)
    for _ in range(5):
        r = services.round_reveal(player=player, token=r.token)
    assert r.step == 5
    with pytest.raises(ApplicationError, match="as far as it goes"):
        services.round_reveal(player=player, token=r.token)
    with pytest.raises(ApplicationError, match="listed classes"):
        services.round_guess(player=player, token=r.token, choice="not a class")
    with pytest.raises(ApplicationError, match="Guess first"):
        services.round_characteristics_submit(player=player, token=r.token, texts=["ears"])
    services.round_guess(player=player, token=r.token, choice=r.answer)
    with pytest.raises(ApplicationError, match="already guessed"):
        services.round_guess(player=player, token=r.token, choice=r.answer)
    with pytest.raises(ApplicationError, match="already guessed"):
        services.round_resign(player=player, token=r.token)
    with pytest.raises(ApplicationError, match="already guessed"):
        services.round_reveal(player=player, token=r.token)
    services.round_characteristics_submit(player=player, token=r.token, texts=["ears"])
    for action in (services.round_reveal, services.round_resign):
        with pytest.raises(ApplicationError, match="over"):
            action(player=player, token=r.token)
    with pytest.raises(ApplicationError, match="over"):
        services.round_guess(player=player, token=r.token, choice=r.answer)
    with pytest.raises(ApplicationError, match="over"):
        services.round_characteristics_submit(player=player, token=r.token, texts=["more"])
    assert Characteristic.objects.filter(round=r).count() == 1


def test_no_guess_after_resign(items, player):
    r = start(player)
    services.round_resign(player=player, token=r.token)
    with pytest.raises(ApplicationError, match="over"):
        services.round_guess(player=player, token=r.token, choice=r.answer)


def test_another_players_round_is_not_found(items, player):
    r = start(player)
    other = PlayerFactory()
    with pytest.raises(ApplicationError) as exc:
        services.round_reveal(player=other, token=r.token)
    assert exc.value.status == 404


def test_start_resumes_open_rounds_and_can_skip_labelling(items, player):
    r1 = start(player)
    assert start(player).pk == r1.pk
    services.round_guess(player=player, token=r1.token, choice=r1.answer)
    assert start(player).pk == r1.pk  # waiting for characteristics: resumed
    r2 = start(player, skip_labelling=True)
    assert r2.pk != r1.pk
    r1.refresh_from_db()
    assert r1.status == Round.Status.DONE and r1.points == 100  # no characteristics, no bonus
    assert r2.image_id != r1.image_id


def test_expired_round_is_refused_and_replaced(items, player, settings):
    r = start(player)
    Round.objects.filter(pk=r.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(ApplicationError, match="expired"):
        services.round_reveal(player=player, token=r.token)
    with pytest.raises(ApplicationError, match="expired"):
        services.round_guess(player=player, token=r.token, choice=r.answer)
    r2 = start(player)
    r.refresh_from_db()
    assert r.status == Round.Status.EXPIRED and r2.pk != r.pk


def test_rounds_expire_command_closes_abandoned_rounds(items):
    a, b = PlayerFactory(), PlayerFactory()
    ra = start(a)
    rb = start(b)
    services.round_guess(player=b, token=rb.token, choice=rb.answer)
    Round.objects.filter(pk=ra.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    Round.objects.filter(pk=rb.pk).update(guessed_at=timezone.now() - dt.timedelta(hours=2))
    assert services.rounds_expire() == {"expired": 1, "closed": 1}
    ra.refresh_from_db()
    rb.refresh_from_db()
    assert ra.status == Round.Status.EXPIRED and rb.status == Round.Status.DONE
    b.refresh_from_db()
    assert b.points == 100


def test_round_finished_signal_is_sent_on_commit(items, player, django_capture_on_commit_callbacks):
    received = []

    def handler(sender, round_id, campaign_id, **kwargs):
        received.append((round_id, campaign_id))

    round_finished.connect(handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            r = finish_round(player)
    finally:
        round_finished.disconnect(handler)
    assert received == [(r.pk, r.campaign_id)]


def test_blocked_player_cannot_play(items, player):
    player.is_blocked = True
    player.save()
    with pytest.raises(ApplicationError) as exc:
        start(player)
    assert exc.value.status == 403


# --- characteristics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("English springer", "names the class"),
        ("two springers", "names the class"),
        ("the springer's ears", "names the class"),
        ("a spaniel", "names the class"),  # campaign alias
        ("ears\x00", "control characters"),
        ("<b>ears</b>", "plain words"),
        ("x" * 41, "at most 40"),
        ("y" * 300, "at most 40"),
        ("!!", "type a characteristic"),
        ("1234", "use words"),
    ],
)
def test_refused_characteristics_say_why_and_store_nothing(items, player, text, message):
    r = start(player)
    while r.answer != "English springer":  # get the springer image
        services.round_resign(player=player, token=r.token)
        r = start(player)
    services.round_guess(player=player, token=r.token, choice=r.answer)
    with pytest.raises(ApplicationError) as exc:
        services.round_characteristics_submit(player=player, token=r.token, texts=["ears", text])
    assert message in exc.value.message
    errors = exc.value.extra["errors"]
    assert errors[0] is None and message in errors[1]
    assert not Characteristic.objects.filter(round=r).exists()
    r.refresh_from_db()
    assert r.status == Round.Status.LABELLING


def test_the_guessed_class_is_refused_too(items, player):
    r = start(player)
    wrong = next(c for c in r.campaign.classes if c != r.answer and c != "tabby, tabby cat")
    services.round_guess(player=player, token=r.token, choice=wrong)
    with pytest.raises(ApplicationError, match="names the class"):
        services.round_characteristics_submit(player=player, token=r.token, texts=[wrong])


def test_characteristic_count_and_duplicates(items, player):
    r = start(player)
    services.round_guess(player=player, token=r.token, choice=r.answer)
    with pytest.raises(ApplicationError, match="at least one"):
        services.round_characteristics_submit(player=player, token=r.token, texts=["", " "])
    with pytest.raises(ApplicationError, match="at most 5"):
        services.round_characteristics_submit(
            player=player, token=r.token, texts=[f"thing {i}" for i in range(6)]
        )
    with pytest.raises(ApplicationError, match="already wrote"):
        services.round_characteristics_submit(player=player, token=r.token, texts=["Ears", "ears."])
    r = services.round_characteristics_submit(player=player, token=r.token, texts=["ears", "", ""])
    assert r.characteristics.count() == 1


# --- assignment ------------------------------------------------------------------------------


def test_a_player_never_gets_two_items_of_one_image(items, player):
    images = []
    for _ in range(3):
        r = start(player)
        images.append(r.image_id)
        services.round_resign(player=player, token=r.token)
    assert len(set(images)) == 3
    with pytest.raises(ApplicationError) as exc:
        start(player)
    assert exc.value.status == 409


def test_items_with_fewest_finished_rounds_come_first(campaign):
    first = make_image_items(campaign=campaign, layers=1, clusters=1)[0]
    second = make_image_items(campaign=campaign, layers=1, clusters=1)[0]
    for _ in range(3):
        RoundFactory(cluster_map=first, status=Round.Status.DONE, outcome="win")
    for _ in range(3):  # second has 0, 1, 2 finished rounds: fewer than first's 3
        r = start(PlayerFactory())
        assert r.cluster_map_id == second.pk
        services.round_resign(player=r.player, token=r.token)
    RoundFactory(cluster_map=second, status=Round.Status.DONE, outcome="loss")
    # now second has 4 finished, first 3: first comes next
    assert start(PlayerFactory()).cluster_map_id == first.pk


def test_item_retires_at_its_target_counting_live_rounds(campaign):
    campaign.target_rounds = 2
    campaign.save()
    item = make_image_items(campaign=campaign, layers=1, clusters=1)[0]
    a, b, c = PlayerFactory(), PlayerFactory(), PlayerFactory()
    ra = start(a)
    start(b)  # still active: counts against the target
    with pytest.raises(ApplicationError):
        start(c)
    # an abandoned round frees its slot once expired (plus the grace period)
    Round.objects.filter(pk=ra.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=5))
    assert start(c).cluster_map_id == item.pk


def test_layers_are_balanced_among_equals(campaign):
    for _ in range(4):
        make_image_items(campaign=campaign, layers=2, clusters=1)
    positions = []
    for _ in range(4):
        r = start(PlayerFactory())
        positions.append(r.layer_position)
    assert sorted(positions) == [0, 0, 1, 1]


def test_only_published_done_matching_items_whose_answer_is_a_choice(db):
    draft = CampaignFactory(status=Campaign.Status.DRAFT)
    make_image_items(campaign=draft)
    live = CampaignFactory()
    stale = make_image_items(campaign=live)[0]
    ExplanationJob.objects.filter(pk=stale.layer_result.job_id).update(params_hash="old")
    failed = make_image_items(campaign=live)[0]
    ExplanationJob.objects.filter(pk=failed.layer_result.job_id).update(status="failed")
    make_image_items(campaign=live, true_class="teapot")  # not among the campaign's classes
    make_image_items(campaign=live, true_class="", target_class="")
    with pytest.raises(ApplicationError):
        start(PlayerFactory())
    good = make_image_items(campaign=live, layers=1, clusters=1)[0]
    assert start(PlayerFactory()).cluster_map_id == good.pk


def test_answer_falls_back_to_the_target_class(campaign):
    items = make_image_items(campaign=campaign, layers=1, clusters=1, true_class="")
    items[0].image.target_class = "goldfinch"
    items[0].image.save()
    r = start(PlayerFactory())
    assert r.answer == "goldfinch"


def test_campaign_filter_and_closed_campaign(items, campaign, player):
    other = CampaignFactory()
    make_image_items(campaign=other)
    r = start(player, campaign=other)
    assert r.campaign_id == other.pk
    other.status = Campaign.Status.CLOSED
    other.save()
    with pytest.raises(ApplicationError) as exc:
        start(PlayerFactory(), campaign=other)
    assert exc.value.status == 404


# --- players ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "a", "x" * 31, "<script>", "   ", "--"])
def test_nickname_rules(db, bad):
    with pytest.raises(ApplicationError):
        services.player_create_guest(nickname=bad)


def test_guest_is_kept_on_sign_up(items):
    guest = services.player_create_guest(nickname="Lucky Guest")
    finish_round(guest)
    user = get_user_model().objects.create_user("newbie", password="x" * 12)
    player = services.player_claim_guest(user=user, guest_id=guest.pk)
    assert player.pk == guest.pk and player.user == user and player.nickname == "Lucky Guest"
    assert player.points > 0


def test_guest_rounds_merge_into_an_existing_account(items):
    user = get_user_model().objects.create_user("veteran", password="x" * 12)
    account = services.player_ensure_for_user(user=user)
    r_account = finish_round(account)
    guest = services.player_create_guest(nickname="Guest")
    # the guest plays two images: one the account already had, one new
    taken = RoundFactory(
        player=guest,
        cluster_map=next(
            i
            for i in items
            if i.image_id == r_account.image_id and i.pk != r_account.cluster_map_id
        ),
        status=Round.Status.DONE,
        outcome="win",
        points=50,
        points_base=50,
    )
    fresh = RoundFactory(
        player=guest,
        cluster_map=next(i for i in items if i.image_id != r_account.image_id),
        status=Round.Status.DONE,
        outcome="win",
        points=33,
        points_base=33,
        step=4,
    )
    merged = services.player_claim_guest(user=user, guest_id=guest.pk)
    assert merged.pk == account.pk
    assert set(Round.objects.filter(player=account).values_list("pk", flat=True)) == {
        r_account.pk,
        fresh.pk,
    }
    assert Round.objects.get(pk=taken.pk).player_id == guest.pk
    assert merged.points == r_account.points + 33 and merged.rounds_finished == 2
    assert Player.objects.get(pk=guest.pk).points == 50


def test_stats_and_history(items, player):
    finish_round(player)
    r = start(player)
    services.round_resign(player=player, token=r.token)
    stats = selectors.player_stats(player=Player.objects.get(pk=player.pk))
    assert (stats.rounds, stats.wins, stats.resigns) == (2, 1, 1)
    assert stats.win_rate == 0.5 and stats.mean_step == 2.5
    assert stats.rank == 1
    assert [h.outcome for h in selectors.player_history(player=player)] == ["resign", "win"]


def test_game_expire_rounds_command(items, player):
    from io import StringIO

    from django.core.management import call_command

    r = start(player)
    Round.objects.filter(pk=r.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    out = StringIO()
    call_command("game_expire_rounds", stdout=out)
    assert "expired 1 round(s), closed 0" in out.getvalue()


# --- caches and single-statement actions -----------------------------------------------------


def test_a_stale_item_list_never_hands_out_an_unplayable_item(items, campaign):
    selectors.playable_items()  # cached
    # Closed behind the cache's back (a queryset update sends no signal): the cached list still
    # names its items, but the lock-time check refuses each of them.
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CLOSED)
    assert len(selectors.playable_items().items) == len(items)
    with pytest.raises(ApplicationError) as exc:
        start(PlayerFactory())
    assert exc.value.status == 409 and not Round.objects.exists()


def test_saving_a_campaign_refreshes_its_card_and_items(items, campaign):
    card = selectors.campaign_card(campaign_id=campaign.pk)
    assert card.campaign.name == campaign.name
    campaign.name = "Renamed"
    campaign.classes = [c for c in campaign.classes if c != "goldfinch"]
    campaign.save()
    card = selectors.campaign_card(campaign_id=campaign.pk)
    assert card.campaign.name == "Renamed"
    assert "goldfinch" not in {c.value for c in card.choices}
    assert all(i.answer != "goldfinch" for i in selectors.playable_items().items)


@pytest.mark.parametrize("action", ["reveal", "guess"])
def test_single_statement_actions_check_the_player(items, player, action):
    r = start(player)
    ref = selectors.PlayerRef.of(player)

    def act(who):
        if action == "reveal":
            return services.round_reveal(player=who, token=r.token)
        return services.round_guess(player=who, token=r.token, choice=r.answer)

    # another player: not found
    with pytest.raises(ApplicationError) as exc:
        act(selectors.PlayerRef.of(PlayerFactory()))
    assert exc.value.status == 404
    # blocked behind any cache's back: refused in the statement itself
    Player.objects.filter(pk=player.pk).update(is_blocked=True)
    with pytest.raises(ApplicationError) as exc:
        act(ref)
    assert exc.value.status == 403
    Player.objects.filter(pk=player.pk).update(is_blocked=False)
    # a guest id whose player now belongs to an account no longer plays as that guest
    user = get_user_model().objects.create_user("owner", password="pw-long-enough-1")
    Player.objects.filter(pk=player.pk).update(user=user)
    with pytest.raises(ApplicationError) as exc:
        act(ref)
    assert exc.value.status == 403
    # ... but the account does
    moved = act(selectors.PlayerRef(user_id=user.pk))
    assert moved.step == 1 if action == "reveal" else moved.status == Round.Status.LABELLING
    assert Round.objects.get(pk=r.pk).step == (1 if action == "reveal" else 0)


def test_a_guess_outside_the_choices_changes_nothing(items, player):
    r = start(player)
    with pytest.raises(ApplicationError):
        services.round_guess(player=player, token=r.token, choice="teapot")
    fresh = Round.objects.get(pk=r.pk)
    assert fresh.status == Round.Status.ACTIVE and fresh.guess == "" and fresh.points == 0
    # the guess is scored from the row's own step: 67 points at step 2
    services.round_reveal(player=player, token=r.token)
    services.round_reveal(player=player, token=r.token)
    won = services.round_guess(player=player, token=r.token, choice=r.answer)
    assert (won.outcome, won.points_base, won.points, won.step) == ("win", 67, 67, 2)
    stored = Round.objects.get(pk=r.pk)
    assert (stored.outcome, stored.points_base, stored.guess) == ("win", 67, r.answer)


def test_the_tally_statement_agrees_with_items_queryset(campaign, items):
    """The SQL that counts a new round on an item (re-checking it is playable) and the ORM
    definition of a playable item match: items of a draft campaign, of an unfinished job or of
    another parameter set are not playable."""
    draft = CampaignFactory(status=Campaign.Status.DRAFT)
    not_playable = make_image_items(campaign=draft)
    failed = make_image_items(campaign=campaign, true_class="goldfinch")
    ExplanationJob.objects.filter(pk=failed[0].layer_result.job_id).update(
        status=ExplanationJob.Status.FAILED
    )
    stale = make_image_items(campaign=campaign, true_class="goldfinch")
    ExplanationJob.objects.filter(pk=stale[0].layer_result.job_id).update(params_hash="other")
    every = items + not_playable + failed + stale
    playable = set(selectors.items_queryset().values_list("pk", flat=True))
    assert playable == {i.pk for i in items}
    for item in every:
        with transaction.atomic():
            counted = sql.item_tally_start(cluster_map_id=item.pk)
            transaction.set_rollback(True)
        assert (counted is not None) == (item.pk in playable), item.pk
        if counted is not None:
            assert counted == (1, 0)


def test_expire_rounds_task_is_scheduled_and_closes_abandoned_rounds(items, settings):
    """celery beat runs the task (CELERY_BEAT_SCHEDULE); its body closes what the command does."""
    from game.tasks import expire_rounds

    entry = settings.CELERY_BEAT_SCHEDULE["game-expire-rounds"]
    assert entry["task"] == expire_rounds.name and entry["schedule"] > 0
    player = PlayerFactory()
    stale = services.round_start(player=player)
    Round.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    assert expire_rounds.run() == {"expired": 1, "closed": 0}
    assert Round.objects.get(pk=stale.pk).status == Round.Status.EXPIRED
    assert expire_rounds.run() == {"expired": 0, "closed": 0}  # idempotent


def test_cached_tallies_order_candidates_but_never_push_an_item_past_its_target(
    campaign, items, settings, monkeypatch
):
    """With the tally cache on (production), tallies are read once for many starts; the
    stale counts only order candidates: the row-locked check keeps every item at its target."""
    settings.NETVIZ_GAME_TALLY_CACHE_SECONDS = 60
    Campaign.objects.filter(pk=campaign.pk).update(target_rounds=1)
    calls = []
    real = assignment._tally_rows
    monkeypatch.setattr(assignment, "_tally_rows", lambda **kw: calls.append(1) or real(**kw))
    players = [PlayerFactory() for _ in range(len(items) + 1)]
    got = [services.round_start(player=p) for p in players[:-1]]
    assert len(calls) == 1  # one count for all the starts
    assert sorted(r.cluster_map_id for r in got) == sorted(i.pk for i in items)
    with pytest.raises(ApplicationError):
        services.round_start(player=players[-1])  # every item is at its target
    assert len(calls) == 2  # the failed start counted afresh once, then found nothing left
    for item in items:
        assert Round.objects.filter(cluster_map_id=item.pk).count() == 1
