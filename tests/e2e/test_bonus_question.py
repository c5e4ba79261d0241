"""The bonus question after a round (issue 12), in Chromium: another player has described the
same cluster map, so after a guest finishes a round and sends a characteristic, the summary
offers "Bonus question" (is their label the same thing as yours?); "Same thing" is stored as a
``VerificationAnswer`` and the box thanks the player (no points yet: output agreement needs a
second player).

Label processing runs as in the product, through the ``process_round`` task, here in place
(``task_always_eager``) with the hashing stand-in embedder; the other player's round is
processed beforehand as the processing API tests do (``tests.processing.support.play``).
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.game_support import (
    DESKTOP,
    TOUR_DONE,
    answer_label_of,
    photo_campaign,
    round_of,
    shot,
    start_as_guest,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

THEIRS = "pointed ears"
YOURS = "ears"


def guess_right_and_describe(page, nickname: str) -> None:
    """A new guest guesses the right class at step 0 and types YOURS (not sent yet)."""
    start_as_guest(page, nickname)
    page.get_by_label(answer_label_of(nickname)).check()
    page.get_by_role("button", name=re.compile("^Guess")).click()
    page.locator("#label-phase").wait_for()
    page.get_by_label("Characteristic 1").fill(YOURS)


@pytest.fixture
def hashing_processing(settings, monkeypatch):
    """Rounds processed in place (the ``process_round`` task runs eagerly in the live server's
    request) with the hashing stand-in embedder, grouped on its distances alone as in
    tests/processing (no template, no WordNet)."""
    import workers.runtime
    from netviz_site.celery import app
    from processing.embeddings import embedding_memo_clear
    from processing.nlp.embed import HashingEmbedder
    from tests.processing.support import NO_WORDNET

    settings.NETVIZ_GROUPING = {**NO_WORDNET, "template": "{}"}
    hashing = HashingEmbedder()
    monkeypatch.setattr(workers.runtime, "embedder_get", lambda *a, **k: hashing)
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    embedding_memo_clear()
    yield hashing
    embedding_memo_clear()


def test_bonus_question_after_a_round_is_answered_and_stored(game_pages, hashing_processing):
    from explanations.models import ClusterMap
    from processing.models import LabelMention, VerificationAnswer, VerificationQuestion
    from tests.factories import PlayerFactory
    from tests.processing.support import play

    campaign = photo_campaign(name="Bonus", photos=("chelsea",))
    (item,) = ClusterMap.objects.filter(image__campaign=campaign)
    other = PlayerFactory()
    play(item, other, [THEIRS], hashing_processing)
    assert LabelMention.objects.filter(player=other, refused_reason="").count() == 1

    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    guess_right_and_describe(page, "Vera")
    page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()

    rnd = round_of("Vera", campaign=campaign)
    assert rnd.status == "done" and rnd.cluster_map_id == item.pk
    # processed by the task while the characteristics were sent
    assert LabelMention.objects.filter(round=rnd, refused_reason="").count() == 1

    # The box: after the points of the summary, with both labels in its prompt.
    box = page.locator("#verify-box")
    box.wait_for()  # offered on the first try (or a retry, 1.5, 3 and 6 s later)
    assert box.get_attribute("aria-live") == "polite"
    after_points = "() => document.getElementById('summary-points').nextElementSibling.id"
    assert page.evaluate(after_points) == "verify-box"
    assert page.get_by_role("heading", name="Bonus question").is_visible()
    prompt = box.locator("p").first.inner_text()
    assert prompt == (
        f"Another player described this region as “{THEIRS}”. Same thing as your “{YOURS}”?"
    )
    assert "+5 points if other players agree with you." in box.inner_text()
    question = VerificationQuestion.objects.get(campaign=campaign)
    assert {question.characteristic_a.text, question.characteristic_b.text} == {THEIRS, YOURS}
    assert not VerificationAnswer.objects.exists()
    shot(page, "bonus-question")

    box.get_by_role("button", name="Same thing").click()
    thanks = box.get_by_text("Thanks! You get points once another player agrees with you.")
    thanks.wait_for()
    assert box.get_by_role("button", name="Same thing").is_disabled()
    assert box.get_by_role("button", name="Different").is_disabled()
    # The answer given stays marked; the buttons do not touch.
    assert box.get_by_role("button", name="Same thing", pressed=True).count() == 1
    assert box.get_by_role("button", name="Different", pressed=False).count() == 1
    same = box.get_by_role("button", name="Same thing").bounding_box()
    different = box.get_by_role("button", name="Different").bounding_box()
    assert different["x"] >= same["x"] + same["width"] + 4

    (answer,) = VerificationAnswer.objects.all()
    assert answer.question_id == question.pk
    assert answer.player.nickname == "Vera" and answer.same is True
    assert answer.round_id == rnd.pk
    assert not answer.awarded and answer.points == 0  # one answer: not judged yet
    question.refresh_from_db()
    assert (question.yes, question.no) == (1, 0)
    shot(page, "bonus-question-answered")

    assert game_pages.problems == []
    assert game_pages.violations(page) == []


def test_a_question_that_appears_while_the_summary_is_shown_is_still_offered(
    game_pages, hashing_processing
):
    """In production a worker processes the labels a moment after the round: the page asks
    again (1.5, 3 and 6 s later) and shows the question once there is one."""
    from explanations.models import ClusterMap
    from tests.factories import PlayerFactory
    from tests.processing.support import play

    campaign = photo_campaign(name="Bonus later", photos=("chelsea",))
    (item,) = ClusterMap.objects.filter(image__campaign=campaign)
    statuses: list[int] = []
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    page.on(
        "response",
        lambda r: statuses.append(r.status) if r.url.endswith("/verification/") else None,
    )
    guess_right_and_describe(page, "Wren")
    with page.expect_response(lambda r: r.url.endswith("/verification/")) as first:
        page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()
    assert first.value.status == 204  # nobody else has described this region yet
    assert page.locator("#verify-box").count() == 0

    play(item, PlayerFactory(), [THEIRS], hashing_processing)  # another player, processed now

    page.locator("#verify-box").wait_for(timeout=15_000)
    assert f"“{THEIRS}”" in page.locator("#verify-box p").first.inner_text()
    assert statuses[-1] == 200 and len(statuses) >= 2
    assert game_pages.problems == []
    assert game_pages.violations(page) == []

    # An answer that does not reach the server is not taken for given: the player is told and
    # can answer again.
    from processing.models import VerificationAnswer

    box = page.locator("#verify-box")
    answer_url = "**/api/game/verification/*/"
    page.route(answer_url, lambda route: route.abort())
    box.get_by_role("button", name="Different").click()
    box.get_by_role("alert").wait_for()
    assert box.get_by_role("button", name="Different", pressed=False).is_enabled()
    assert not VerificationAnswer.objects.exists()
    page.unroute(answer_url)
    box.get_by_role("button", name="Same thing").click()
    box.get_by_text("Thanks! You get points once another player agrees with you.").wait_for()
    (answer,) = VerificationAnswer.objects.all()
    assert answer.same is True and answer.player.nickname == "Wren"
