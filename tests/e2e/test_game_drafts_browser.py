"""Deep Reveal in Chromium: a nickname is counted and a too-long one said and refused, never cut
(start page and profile); the characteristics being typed survive a reload of their round (a
draft in the tab's sessionStorage, the typed texts only) until they are accepted; a plural
repeat of an earlier characteristic is refused naming it."""

from __future__ import annotations

import json
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

DRAFT_PREFIX = "netviz.deepReveal.draft."
DRAFTS = (
    "() => Object.keys(sessionStorage).filter((k) => k.indexOf('netviz.deepReveal.draft.') === 0)"
    ".map((k) => [k, sessionStorage.getItem(k)])"
)


def _name(length: int) -> str:
    name = ("Captain Whiskers of the Long Grass Meadow " * 8)[:length]
    return name[:-1] + "x" if name.endswith(" ") else name


def _too_long(n: int, limit: int) -> str:
    return f"Too long: {n} characters, at most {limit}. Please shorten your nickname."


def test_a_long_nickname_is_counted_said_and_refused_never_cut(game_pages):
    from game.models import Player
    from game.rules import NICKNAME_MAX_LENGTH as LIMIT

    photo_campaign(name="Names", photos=("chelsea",))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    page.goto("/game/play/")
    field = page.get_by_label("Your nickname")
    counter = page.locator("#nickname-count")
    error = page.locator("#nickname-error")

    # the page counts as the server does (spaces collapsed, an emoji one character)
    samples = ["  Kim   Lee  ", "Zoë", "😀 smile", "a\tb"]
    counted = page.evaluate("(xs) => xs.map((s) => window.DeepReveal.nicknameLength(s))", samples)
    assert counted == [len(" ".join(s.split())) for s in samples]

    field.fill("Kim")
    assert counter.is_hidden() and error.inner_text() == ""
    field.fill(_name(LIMIT - 5))
    assert counter.is_visible() and counter.inner_text() == f"{LIMIT - 5}/{LIMIT} characters"
    pasted = _name(LIMIT + 12)
    field.fill(pasted)  # as a paste: the whole name stays in the field
    assert field.input_value() == pasted
    assert counter.inner_text() == f"{LIMIT + 12}/{LIMIT} characters"
    assert "over" in counter.get_attribute("class")
    assert error.inner_text() == _too_long(LIMIT + 12, LIMIT)
    assert field.get_attribute("aria-invalid") == "true"
    shot(page, "nickname-too-long")

    page.get_by_role("button", name="Play as a guest").click()
    page.wait_for_timeout(300)
    assert page.evaluate("document.activeElement.id") == "nickname"  # nothing sent
    assert not Player.objects.exists()

    # without the script's check (the form sent as is) the server refuses it whole, the same way
    with page.expect_navigation():
        page.evaluate("document.querySelector('form.stack').submit()")
    assert page.get_by_label("Your nickname").input_value() == pasted
    assert page.locator("#nickname-error").inner_text() == _too_long(LIMIT + 12, LIMIT)
    assert not Player.objects.exists()

    exact = _name(LIMIT)
    page.get_by_label("Your nickname").fill(exact)
    assert page.locator("#nickname-error").inner_text() == ""
    assert page.get_by_label("Your nickname").get_attribute("aria-invalid") is None
    page.get_by_role("button", name="Play as a guest").click()
    page.locator("#frame[src*='/game/frame/']").wait_for()
    assert Player.objects.get().nickname == exact  # kept whole

    page.goto("/game/profile/")
    field = page.get_by_label("Display name")
    field.fill(_name(LIMIT + 1))
    assert page.locator("#nickname-error").inner_text() == _too_long(LIMIT + 1, LIMIT)
    shot(page, "nickname-profile-too-long")
    page.get_by_role("button", name="Save").click()
    page.wait_for_timeout(300)
    assert page.evaluate("document.activeElement.id") == "nickname"
    assert Player.objects.get().nickname == exact
    assert game_pages.problems == []


def _guess_right(page, nickname: str) -> None:
    page.get_by_label(answer_label_of(nickname)).check()
    page.get_by_role("button", name=re.compile("^Guess")).click()
    page.locator("#label-phase").wait_for()


def _drafts(page) -> list[list[str]]:
    return page.evaluate(DRAFTS)


def _values(page) -> list[str]:
    return [page.locator(f"#char-{i}").input_value() for i in range(1, 6)]


def test_typed_characteristics_survive_a_reload_until_they_are_accepted(game_pages):
    from game.models import Characteristic

    photo_campaign(name="Drafts", photos=("chelsea", "coffee"))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Drafter")
    _guess_right(page, "Drafter")
    token = round_of("Drafter", status="labelling").token
    long_text = "long thin white whiskers by a small pink nose"  # 45: over the limit
    page.get_by_label("Characteristic 1").fill("Striped fur")
    page.get_by_label("Characteristic 2").fill(long_text)
    page.get_by_label("Characteristic 3").fill("pink nose")

    # the draft: this round's typed texts, nothing else
    ((key, value),) = _drafts(page)
    assert key == DRAFT_PREFIX + token
    assert json.loads(value) == {"texts": ["Striped fur", long_text, "pink nose", "", ""]}

    page.reload()
    page.locator("#label-phase").wait_for()
    assert _values(page) == ["Striped fur", long_text, "pink nose", "", ""]
    # a restored text is checked as a typed one: its length is said again
    assert page.locator("#char-2-count").inner_text() == f"{len(long_text)}/40 characters"
    assert page.locator("#char-2").get_attribute("aria-invalid") == "true"
    shot(page, "draft-restored")

    # a refused submission keeps the draft: a plural repeat of characteristic 3
    page.get_by_label("Characteristic 2").fill("")
    page.get_by_label("Characteristic 4").fill("Pink noses")
    page.get_by_role("button", name="Send and see the answer").click()
    error = page.locator("#char-4-error")
    error.wait_for()
    assert "characteristic 3 (\u201cpink nose\u201d)" in error.inner_text()
    assert not Characteristic.objects.exists()
    page.reload()
    page.locator("#label-phase").wait_for()
    assert _values(page) == ["Striped fur", "", "pink nose", "Pink noses", ""]

    page.get_by_label("Characteristic 4").fill("")
    page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()
    assert sorted(Characteristic.objects.values_list("text", flat=True)) == [
        "Striped fur",
        "pink nose",
    ]
    assert _drafts(page) == []  # accepted: forgotten

    # the next round (after a reload, too) starts with empty fields
    page.reload()
    page.locator("#reveal-phase").wait_for()
    _guess_right(page, "Drafter")
    assert round_of("Drafter", status="labelling").token != token
    assert _values(page) == ["", "", "", "", ""]
    assert _drafts(page) == []
    assert game_pages.problems == []


def test_a_draft_of_an_expired_round_is_not_shown_again(game_pages):
    """The time to describe ran out (the round finished without words): its draft goes."""
    from django.utils import timezone

    from game import services

    photo_campaign(name="Late words", photos=("chelsea", "coffee"))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Slow")
    _guess_right(page, "Slow")
    old = round_of("Slow", status="labelling")
    page.get_by_label("Characteristic 1").fill("round cup")
    assert len(_drafts(page)) == 1
    services.round_close(round=old, now=timezone.now())  # finished meanwhile, without words
    page.reload()
    page.locator("#reveal-phase").wait_for()
    assert _drafts(page) == []
    _guess_right(page, "Slow")
    assert _values(page) == ["", "", "", "", ""]
    assert game_pages.problems == []
