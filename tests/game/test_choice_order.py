"""The guess choices are in an order of the round's own (issue: the demo lists its answers
first, so the answer was always among the first six of twelve): radio buttons are shuffled
per round from its token, the same on every response and reload; a drop-down is alphabetical."""

from __future__ import annotations

from collections import Counter

import pytest

from game import rules, selectors, services
from game.apis.outputs import round_data
from game.models import Round
from tests.factories import CampaignFactory, ModelSpecFactory, PlayerFactory, make_image_items
from tests.game.helpers import API, guest_client, post

pytestmark = pytest.mark.django_db

# A campaign as the demo's: its answers first, then the confusers (12 radio buttons).
ANSWERS = ["tabby, tabby cat", "espresso", "tripod", "wall clock", "palace", "military uniform"]
CONFUSERS = ["lynx", "coffee mug", "crane", "analog clock", "castle", "bow tie"]
TWELVE = ANSWERS + CONFUSERS
ROUNDS = 600  # fixed tokens below: the assertions are deterministic


@pytest.fixture
def twelve(db):
    model = ModelSpecFactory(name="twelve", class_names=[*TWELVE, "teapot"])
    return CampaignFactory(name="Twelve", model=model, classes=TWELVE)


def test_the_answer_is_spread_over_every_slot(twelve):
    """Over 600 rounds of an answers-first campaign, the answer's slot among the 12 is spread
    over all of them, about evenly (expected 50 per slot); in the campaign's order it would be
    in the first six every time."""
    slots = Counter()
    for i in range(ROUNDS):
        answer = ANSWERS[i % len(ANSWERS)]
        rnd = Round(token=f"round-{i:04d}", campaign_id=twelve.pk, answer=answer)
        values = [c.value for c in selectors.round_choices(round=rnd)]
        assert sorted(values) == sorted(TWELVE)  # every choice, once
        slots[values.index(answer)] += 1
    assert set(slots) == set(range(12))
    assert sum(n for slot, n in slots.items() if slot >= 6) >= ROUNDS * 0.4
    expected = ROUNDS / 12
    chi2 = sum((slots[s] - expected) ** 2 / expected for s in range(12))
    assert chi2 < 31.3  # 11 degrees of freedom: p = 0.001
    assert max(slots.values()) < 2 * expected


def test_choice_order_is_a_permutation_drawn_from_the_seed_alone():
    for n in (0, 1, 2, 6, 12):
        assert sorted(rules.choice_order(seed="x", n=n)) == list(range(n))
    assert rules.choice_order(seed="a round", n=12) == rules.choice_order(seed="a round", n=12)
    orders = {rules.choice_order(seed=f"t{i}", n=12) for i in range(50)}
    assert len(orders) == 50  # 12! orders: fifty tokens, fifty orders
    # every element reaches every place (a cyclic shift or a fixed first place would not)
    firsts = Counter(rules.choice_order(seed=f"t{i}", n=12)[0] for i in range(600))
    assert set(firsts) == set(range(12))


def test_one_round_shows_one_order_on_every_response(twelve):
    make_image_items(campaign=twelve, true_class="tabby, tabby cat")
    make_image_items(campaign=twelve, true_class="espresso")
    client = guest_client("Orderly")
    start = post(client, API + "rounds/").json()
    token = start["token"]
    order = [c["value"] for c in start["choices"]]
    assert sorted(order) == sorted(TWELVE)
    again = client.get(f"{API}rounds/{token}/").json()  # a reload
    revealed = post(client, f"{API}rounds/{token}/reveal/").json()
    resumed = post(client, API + "rounds/").json()  # the open round again
    assert resumed["token"] == token
    for body in (again, revealed, resumed):
        assert [c["value"] for c in body["choices"]] == order
    # labels stay with their values; a guess by value still counts
    assert {c["value"]: c["label"] for c in start["choices"]}["tabby, tabby cat"] == "tabby"
    answer = Round.objects.get(token=token).answer
    assert post(client, f"{API}rounds/{token}/guess/", {"choice": answer}).status_code == 200


def test_another_round_of_the_same_campaign_gets_another_order(twelve):
    item = make_image_items(campaign=twelve, true_class="tabby, tabby cat")[0]
    orders = set()
    for i in range(6):
        rnd = Round(token=f"other-{i}", campaign_id=twelve.pk, cluster_map=item)
        orders.add(tuple(c.value for c in selectors.round_choices(round=rnd)))
    assert len(orders) == 6


def test_a_drop_down_is_alphabetical_and_the_same_for_every_round(db):
    """More than 12 choices are a drop-down: in alphabetical order of their labels (a person
    looks a class up by name), which says nothing about the answer either."""
    names = [f"class {c}" for c in "pqrstuvwxyzabcdefg"]
    model = ModelSpecFactory(name="many", class_names=names)
    campaign = CampaignFactory(name="Many", model=model, classes=[])  # every model class
    make_image_items(campaign=campaign, true_class="class p")
    first = selectors.round_choices(round=Round(token="one", campaign_id=campaign.pk))
    second = selectors.round_choices(round=Round(token="two", campaign_id=campaign.pk))
    labels = [c.label for c in first]
    assert len(labels) == len(names) > rules.MAX_RADIO_CHOICES
    assert labels == sorted(labels, key=str.casefold)
    assert first is second  # the card's one tuple: nothing built per response
    r = services.round_start(player=PlayerFactory())
    assert [c["label"] for c in round_data(r)["choices"]] == labels
