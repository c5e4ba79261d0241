"""Player trust in the game: priors, refusal counts, step-0 evidence, and rounds of untrusted or
blocked players that do not count toward an item's target."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.errors import ApplicationError
from explanations.models import Campaign
from game import selectors, services, trust_services
from game.models import Player, Round
from processing.trust import crowd_unlabelled_rate, item_step0_probability, item_win_probability
from tests.factories import CharacteristicFactory, PlayerFactory, RoundFactory, make_image_items

pytestmark = pytest.mark.django_db


def described(**fields) -> Round:
    """A finished round with one characteristic (a round that gave a label)."""
    rnd = RoundFactory(**fields)
    CharacteristicFactory(round=rnd, player=rnd.player, text="floppy ears")
    return rnd


def play_to_the_end(player, *, texts=("floppy ears",)) -> Round:
    r = services.round_start(player=player)
    services.round_guess(player=player, token=r.token, choice=r.answer)
    return services.round_characteristics_submit(player=player, token=r.token, texts=list(texts))


# --- priors and evidence ----------------------------------------------------------------------


def test_new_guests_and_accounts_start_from_their_priors(db):
    guest = services.player_create_guest(nickname="New guest")
    assert guest.trust == pytest.approx(0.5) and guest.effective_trust == pytest.approx(0.5)
    # an account that only exists starts from the guest prior (accounts are as cheap as guests);
    # one with a verified e-mail address from the account prior
    user = get_user_model().objects.create_user("acct", password="pw-12345678")
    assert services.player_ensure_for_user(user=user).trust == pytest.approx(0.5)
    verified = get_user_model().objects.create_user("verified", password="pw-12345678")
    EmailAddress.objects.create(user=verified, email="v@example.org", verified=True, primary=True)
    assert services.player_ensure_for_user(user=verified).trust == pytest.approx(0.7)


def test_a_guest_who_signs_up_keeps_the_guest_prior_until_the_address_is_verified(db):
    guest = services.player_create_guest(nickname="Soon account")
    user = get_user_model().objects.create_user("soon", password="pw-12345678")
    player = services.player_claim_guest(user=user, guest_id=guest.pk)
    assert player.pk == guest.pk and player.trust == pytest.approx(0.5)
    EmailAddress.objects.create(user=user, email="soon@example.org", verified=True, primary=True)
    trust_services.players_trust_update(player_ids=[player.pk])
    player.refresh_from_db()
    assert player.trust == pytest.approx(0.7)


def test_effective_trust_is_the_override_if_set_and_zero_when_blocked(db):
    p = PlayerFactory(trust=0.6)
    assert p.effective_trust == 0.6
    p.trust_override = 0.1
    assert p.effective_trust == 0.1
    p.is_blocked = True
    assert p.effective_trust == 0.0


def test_refused_characteristics_are_counted_though_nothing_is_stored(items, player):
    r = services.round_start(player=player)
    services.round_guess(player=player, token=r.token, choice=r.answer)
    with pytest.raises(ApplicationError):
        services.round_characteristics_submit(
            player=player, token=r.token, texts=["ears", "<b>x</b>", "1234"]
        )
    player.refresh_from_db()
    assert player.trust_refusals == 2
    assert not r.characteristics.exists()
    # a duplicate within the round is no refusal of the checks
    with pytest.raises(ApplicationError, match="already wrote"):
        services.round_characteristics_submit(player=player, token=r.token, texts=["ears", "Ears"])
    player.refresh_from_db()
    assert player.trust_refusals == 2
    services.round_characteristics_submit(player=player, token=r.token, texts=["ears"])
    player.refresh_from_db()
    assert player.trust_refusals == 2


def test_step0_wins_where_the_crowd_never_wins_at_step0_lower_trust(campaign):
    cheater = PlayerFactory(trust=0.5)
    crowd = [PlayerFactory(trust=0.5) for _ in range(4)]
    items = [make_image_items(campaign=campaign, layers=1, clusters=1)[0] for _ in range(8)]
    for item in items:
        described(player=cheater, cluster_map=item, status=Round.Status.DONE, outcome="win", step=0)
        for p in crowd:
            described(player=p, cluster_map=item, status=Round.Status.DONE, outcome="win", step=3)
    trust_services.players_trust_update(player_ids=[cheater.pk, crowd[0].pk])
    cheater.refresh_from_db()
    q = item_step0_probability(wins=0, rounds=4)
    assert (cheater.trust_step0_rounds, cheater.trust_step0_wins) == (8, 8)
    assert cheater.trust_step0_expected == pytest.approx(8 * q)
    assert cheater.trust == pytest.approx(0.5 * (10 / 18) ** 2)
    assert cheater.trust < selectors.trust_min_counted()
    # the crowd's own rounds: each item's crowd holds the (trusted, at that time) cheater's win
    honest = Player.objects.get(pk=crowd[0].pk)
    assert honest.trust_step0_wins == 0
    assert honest.trust == pytest.approx(0.5)


def test_wins_at_step_1_where_the_crowd_wins_late_lower_trust(campaign):
    """A player who learned the items' classes elsewhere (another identity that resigned, say)
    and wins at step 1, never at step 0: the early-win factor catches what step 0 does not."""
    harvester = PlayerFactory(trust=0.5)
    crowd = [PlayerFactory(trust=0.5) for _ in range(4)]
    items = [make_image_items(campaign=campaign, layers=1, clusters=1)[0] for _ in range(12)]
    for item in items:
        described(
            player=harvester, cluster_map=item, status=Round.Status.DONE, outcome="win", step=1
        )
        for p in crowd:
            described(player=p, cluster_map=item, status=Round.Status.DONE, outcome="win", step=3)
    trust_services.players_trust_update(player_ids=[harvester.pk])
    harvester.refresh_from_db()
    q1 = item_win_probability(wins=0, rounds=4, prior_rate=0.3)  # 0.9 / 7
    assert (harvester.trust_step0_wins, harvester.trust_early_wins) == (0, 12)
    assert harvester.trust_early_expected == pytest.approx(12 * q1)
    rate = (12 + 10 * q1) / 22
    assert harvester.trust == pytest.approx(0.5 * (1 - (rate - q1) / (1 - q1)))
    assert harvester.trust < selectors.trust_min_counted()
    # the crowd, winning at step 3, is untouched
    trust_services.players_trust_update(player_ids=[crowd[0].pk])
    honest = Player.objects.get(pk=crowd[0].pk)
    assert (honest.trust_early_wins, honest.trust) == (0, pytest.approx(0.5))


def test_a_player_who_only_resigns_becomes_untrusted(campaign):
    """Resigns yield no label but count toward an item's target: a player who resigns round
    after round (to retire a campaign's items) falls below the threshold, and then their
    rounds stop counting. A resign now and then costs little."""
    quitter = PlayerFactory(trust=0.5)
    items = [make_image_items(campaign=campaign, layers=1, clusters=1)[0] for _ in range(10)]
    for item in items:
        RoundFactory(
            player=quitter, cluster_map=item, status=Round.Status.DONE, outcome="resign", step=5
        )
    trust_services.players_trust_update(player_ids=[quitter.pk])
    quitter.refresh_from_db()
    c = crowd_unlabelled_rate(unlabelled=0, rounds=0)  # no finished rounds counted yet: the prior
    rate = (10 + 10 * c) / 20
    assert quitter.trust == pytest.approx(0.5 * (1 - (rate - c) / (1 - c)))  # 0.25
    assert quitter.trust < selectors.trust_min_counted()
    once = PlayerFactory(trust=0.5)
    RoundFactory(player=once, cluster_map=items[0], status=Round.Status.DONE, outcome="resign")
    trust_services.players_trust_update(player_ids=[once.pk])
    once.refresh_from_db()
    assert once.trust >= 0.45


def test_guessing_anything_and_never_describing_is_no_way_around_it(campaign):
    """A wrong guess at step 0 also shows the answer and counts toward the target: rounds
    closed without a characteristic weigh like resigns, whatever their outcome."""
    skipper = PlayerFactory(trust=0.5)
    crowd = PlayerFactory(trust=0.5)
    for item in [make_image_items(campaign=campaign, layers=1, clusters=1)[0] for _ in range(10)]:
        RoundFactory(
            player=skipper, cluster_map=item, status=Round.Status.DONE, outcome="loss", step=0
        )
        described(player=crowd, cluster_map=item, status=Round.Status.DONE, outcome="win", step=3)
    trust_services.players_trust_update(player_ids=[skipper.pk, crowd.pk])
    skipper.refresh_from_db()
    # the crowd (the other player: 10 rounds, all described) gives c = (0 + 2) / (10 + 10)
    c = crowd_unlabelled_rate(unlabelled=0, rounds=10)
    rate = (10 + 10 * c) / 20
    assert skipper.trust == pytest.approx(0.5 * (1 - (rate - c) / (1 - c)))
    assert skipper.trust < selectors.trust_min_counted()
    assert (skipper.trust_step0_rounds, skipper.trust_unlabelled) == (10, 10)  # for moderation
    assert Player.objects.get(pk=crowd.pk).trust == pytest.approx(0.5)


def test_one_lucky_step0_win_keeps_a_player_counted(campaign):
    lucky = PlayerFactory(trust=0.5)
    item = make_image_items(campaign=campaign, layers=1, clusters=1)[0]
    described(player=lucky, cluster_map=item, status=Round.Status.DONE, outcome="win", step=0)
    trust_services.players_trust_update(player_ids=[lucky.pk])
    lucky.refresh_from_db()
    assert lucky.trust == pytest.approx(0.5 * (10 / 11) ** 2)
    assert lucky.trust >= selectors.trust_min_counted()


def test_the_admins_override_is_kept_by_the_update(campaign):
    p = PlayerFactory(trust=0.5, trust_override=0.05)
    trust_services.players_trust_update(player_ids=[p.pk])
    p.refresh_from_db()
    assert p.trust_override == 0.05 and p.effective_trust == 0.05


# --- counted rounds ---------------------------------------------------------------------------


def _target(campaign, n: int) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(target_rounds=n)
    selectors.campaign_card_evict()


def test_rounds_of_untrusted_players_leave_the_item_playable(campaign):
    _target(campaign, 2)
    item = make_image_items(campaign=campaign, layers=1, clusters=1)[0]
    untrusted = [PlayerFactory(trust=0.1) for _ in range(3)]
    overridden = PlayerFactory(trust=0.9, trust_override=0.2)
    blocked = PlayerFactory(trust=1.0, is_blocked=True)
    for p in untrusted:
        play_to_the_end(p)
    RoundFactory(player=overridden, cluster_map=item, status=Round.Status.DONE, outcome="win")
    RoundFactory(player=blocked, cluster_map=item, status=Round.Status.DONE, outcome="win")
    now = timezone.now()
    assert Round.objects.filter(cluster_map=item, status=Round.Status.DONE).count() == 5
    assert selectors.item_counted_rounds(cluster_map_id=item.pk, now=now) == 0
    tallies = selectors.campaign_tallies(playable=selectors.playable_items(), now=now)
    assert tallies.tallies.get(item.pk, (0, 0)) == (0, 0)
    # still playable: a trusted player gets it
    trusted = PlayerFactory(trust=0.5)
    assert services.round_start(player=trusted).cluster_map_id == item.pk


def test_a_trusted_players_rounds_retire_the_item_at_the_target(campaign):
    _target(campaign, 2)
    item = make_image_items(campaign=campaign, layers=1, clusters=1)[0]
    a, b = PlayerFactory(trust=0.5), PlayerFactory(trust=0.3)  # 0.3: at the threshold
    play_to_the_end(a)
    play_to_the_end(b)
    now = timezone.now()
    assert selectors.item_counted_rounds(cluster_map_id=item.pk, now=now) == 2
    with pytest.raises(ApplicationError, match="No new picture"):
        services.round_start(player=PlayerFactory(trust=0.9))


def test_a_player_who_becomes_untrusted_frees_the_items_slot(campaign):
    _target(campaign, 1)
    item = make_image_items(campaign=campaign, layers=1, clusters=1)[0]
    cheat = PlayerFactory(trust=0.5)
    play_to_the_end(cheat)
    with pytest.raises(ApplicationError):
        services.round_start(player=PlayerFactory())
    Player.objects.filter(pk=cheat.pk).update(trust=0.05)
    assert services.round_start(player=PlayerFactory()).cluster_map_id == item.pk


def test_the_threshold_is_a_setting(campaign, settings):
    settings.NETVIZ_TRUST_MIN_COUNTED = 0.0
    item = make_image_items(campaign=campaign, layers=1, clusters=1)[0]
    RoundFactory(player=PlayerFactory(trust=0.0), cluster_map=item, status=Round.Status.DONE)
    RoundFactory(player=PlayerFactory(trust=1.0, is_blocked=True), cluster_map=item, status="done")
    now = timezone.now()
    assert selectors.item_counted_rounds(cluster_map_id=item.pk, now=now) == 1  # blocked: never


# --- red-team findings (A) colluders of one network, (B) answer-key wins at step 2 ------------


def test_a_new_guest_records_a_keyed_hash_of_its_network():
    """The network (IPv4 /24, IPv6 /48) a guest was started from, as a keyed hash (no part of
    the address is kept): players of one network are one source of agreement
    (docs/METHOD_NOTES.md, "Player trust")."""
    from django.test import Client

    def start(nickname: str, addr: str) -> str:
        r = Client().post("/api/game/guest/", {"nickname": nickname}, REMOTE_ADDR=addr)
        assert r.status_code == 201, r.content
        return Player.objects.get(nickname=nickname).network

    a, b = start("Netguest", "198.51.100.23"), start("Neighbour", "198.51.100.99")
    other, v6a, v6b = (
        start("Elsewhere", "198.51.101.1"),
        start("Vsix", "2001:db8:1:2::5"),
        start("Vsix two", "2001:db8:1:ff00::9"),
    )
    assert a == b and v6a == v6b and len({a, other, v6a}) == 3
    assert len(a) == 32 and "198" not in a
    assert services.player_create_guest(nickname="Plain").network == ""


def test_an_account_records_the_network_of_its_first_game_request():
    """Accounts of one network are one source of agreement too: an account's player keeps the
    network key of its first game request (created then, or filled in once when empty)."""
    from django.test import Client

    from tests.campaigns.support import make_user

    def play_page(user, addr: str) -> str:
        client = Client()
        client.force_login(user)
        assert client.get("/game/play/", REMOTE_ADDR=addr).status_code == 200
        return Player.objects.get(user=user).network

    first = play_page(make_user("acc1"), "198.51.100.23")
    assert first and first == play_page(make_user("acc2"), "198.51.100.77")
    other = make_user("acc3")
    services.player_ensure_for_user(user=other)  # made without a request: no network yet
    assert Player.objects.get(user=other).network == ""
    assert play_page(other, "192.0.2.1") not in ("", first)
    assert play_page(other, "198.51.100.5") != first  # kept: the first one stays


def test_colluders_of_one_network_do_not_agree_with_each_other(campaign, settings):
    """Finding (A) at small scale: two honest guests of two networks label four cluster maps
    (one shared label and one of their own each); three colluders of one /24 then give the
    same two junk labels on every map. Before: the colluders agreed with each other (8 of 8,
    trust 0.5 · 1.2+) and the honest players' own labels disagreed with them. Now only
    witnesses of another network count, and only trusted ones."""
    from processing.nlp.embed import HashingEmbedder
    from processing.services.rounds import round_process
    from processing.services.trust import players_trust_refresh
    from tests.factories import make_finished_round
    from tests.processing.support import NO_WORDNET

    settings.NETVIZ_GROUPING = {**NO_WORDNET, "template": "{}"}
    hashing = HashingEmbedder()
    maps = [make_image_items(campaign=campaign, layers=1, clusters=1)[0] for _ in range(4)]
    honest = [
        PlayerFactory(trust=0.5, network="10.1.0.0/24"),
        PlayerFactory(trust=0.5, network="10.2.0.0/24"),
    ]
    colluders = [PlayerFactory(trust=0.5, network="198.51.100.0/24") for _ in range(3)]
    own = ("long tail", "green eyes")
    for item in maps:
        for p, text in zip(honest, own, strict=True):
            rnd = make_finished_round(
                cluster_map=item, player=p, step=3, texts=["floppy ears", text]
            )
            round_process(round_id=rnd.pk, embedder=hashing)
    for p in colluders:
        for item in maps:
            rnd = make_finished_round(
                cluster_map=item,
                player=p,
                outcome=Round.Outcome.LOSS,
                step=3,
                texts=["purple banana", "paper hat"],
            )
            round_process(round_id=rnd.pk, embedder=hashing)
    players_trust_refresh(rescore=False)
    for p in colluders:
        p.refresh_from_db()
        # 2 junk labels on 4 maps, no witness of another network gave them
        assert (p.trust_agreements, p.trust_disagreements) == (0, 8)
        assert p.trust < selectors.trust_min_counted()
    for p in honest:
        p.refresh_from_db()
        # the colluders (untrusted) are no witnesses: "floppy ears" agrees, the own label not
        assert (p.trust_agreements, p.trust_disagreements) == (4, 4)
        # the crowd (the two honest players): ā = (8 + 5) / (16 + 10) = 0.5; â = 9 / 18
        assert p.trust == pytest.approx(0.5)


def test_wins_at_step_2_where_the_crowd_wins_at_step_4_lower_trust(campaign):
    """Finding (B): an identity that recognises the pictures (another identity read the answers
    in the summaries) and wins every round at step 2, never at step 0 or 1. Each item's crowd
    (four trusted players winning at step 4) gives q₂ = (0 + 3 · 0.5) / (4 + 3); twelve wins of
    twelve: θ̂ = (12 + 10 q₂) / 22, excess 12/22, factor 5/11: 0.227, untrusted."""
    cheat = PlayerFactory(trust=0.5)
    crowd = [PlayerFactory(trust=0.5) for _ in range(4)]
    items = [make_image_items(campaign=campaign, layers=1, clusters=1)[0] for _ in range(12)]
    for item in items:
        described(player=cheat, cluster_map=item, status=Round.Status.DONE, outcome="win", step=2)
        for p in crowd:
            described(player=p, cluster_map=item, status=Round.Status.DONE, outcome="win", step=4)
    trust_services.players_trust_update(player_ids=[cheat.pk, crowd[0].pk])
    cheat.refresh_from_db()
    assert (cheat.trust_step0_wins, cheat.trust_early_wins) == (0, 0)
    q2 = item_win_probability(wins=0, rounds=4, prior_rate=0.5)
    rate = (12 + 10 * q2) / 22
    assert cheat.trust == pytest.approx(0.5 * (1 - (rate - q2) / (1 - q2)))
    assert cheat.trust == pytest.approx(0.5 * 5 / 11)
    assert cheat.trust < selectors.trust_min_counted()
    # the crowd wins later than the (then trusted) cheater: nothing to explain
    assert Player.objects.get(pk=crowd[0].pk).trust == pytest.approx(0.5)
