"""PostgreSQL: the processing tasks lock a campaign's processing row, then players (the trust
step runs under the campaign lock); the moderation services take the same locks in the same
order, so an admin's action during a batch waits instead of deadlocking."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

import processing.services.trust as trust_module
from campaigns.services import player_set_blocked, player_set_trust_override
from game.models import Player
from processing.services.rounds import rounds_process
from tests.factories import make_finished_round, make_image_items

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "action",
    [
        lambda player: player_set_trust_override(player=player, value=0.9),
        lambda player: player_set_blocked(player=player, blocked=True),
    ],
    ids=["trust override", "block"],
)
def test_an_admin_action_during_a_batch_waits_for_it(
    springer_items, players, hashing, monkeypatch, action
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    item = springer_items[0]
    player = players[0]
    first = make_finished_round(cluster_map=item, player=player, texts=["ears"])
    rounds_process(campaign_id=first.campaign_id, embedder=hashing)  # the player has labels
    other = make_image_items(campaign=item.image.campaign, true_class="English springer")[0]
    make_finished_round(cluster_map=other, player=player, texts=["collar"])
    make_finished_round(cluster_map=item, player=players[1], texts=["ears"])

    in_lock, go = threading.Event(), threading.Event()
    real = trust_module.rounds_trust_update

    def paused(**kwargs):  # the batch holds the campaign lock here, before the player rows
        in_lock.set()
        go.wait(10)
        return real(**kwargs)

    monkeypatch.setattr(trust_module, "rounds_trust_update", paused)
    errors: dict[str, BaseException] = {}

    def run(name, fn):
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors[name] = exc
        finally:
            connections.close_all()

    batch = threading.Thread(
        target=run,
        args=("batch", lambda: rounds_process(campaign_id=first.campaign_id, embedder=hashing)),
    )
    batch.start()
    assert in_lock.wait(20)
    admin = threading.Thread(
        target=run, args=("admin", lambda: action(Player.objects.get(pk=player.pk)))
    )
    admin.start()
    time.sleep(0.5)  # the admin's request is waiting on a lock the batch holds
    go.set()
    batch.join(30)
    admin.join(30)
    assert errors == {}, {k: f"{type(v).__name__}: {v}" for k, v in errors.items()}
    assert not batch.is_alive() and not admin.is_alive()
