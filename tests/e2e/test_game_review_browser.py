"""Deep Reveal in Chromium after a new player's review: a too-long characteristic is counted
and said, never cut; an expired or already-guessed round turns its controls off and shows the
way on; a resigned summary does not speak of the player's words; an unranked player sees no
rank number but a neutral note; the end of every campaign says so; the profile fits a phone;
the 404 page and the icon are the site's."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.e2e.game_support import (
    DESKTOP,
    PHONE,
    TOUR_DONE,
    answer_label_of,
    axe_serious,
    photo_campaign,
    round_of,
    shot,
    start_as_guest,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def guess_right(page, nickname: str) -> None:
    page.get_by_label(answer_label_of(nickname)).check()
    page.get_by_role("button", name=re.compile("^Guess")).click()
    page.locator("#label-phase").wait_for()


def test_a_long_characteristic_is_counted_said_and_refused_never_cut(game_pages):
    from game.models import Characteristic
    from processing.nlp.clean import normalise

    photo_campaign(name="Lengths", photos=("chelsea",))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Typist")
    guess_right(page, "Typist")

    # the page counts as the server does (spaces, edge punctuation, an emoji is one character)
    samples = ["  floppy   ears!!  ", "café au lait", "ﬁne stripes", "😀 big eyes 😀", "(x)"]
    counted = page.evaluate("(xs) => xs.map((s) => window.DeepReveal.charLength(s))", samples)
    assert counted == [len(normalise(s)) for s in samples]

    field = page.get_by_label("Characteristic 1")
    counter = page.locator("#char-1-count")
    field.fill("short fur")
    assert counter.is_hidden()  # far from the limit: no counter
    near = "long thin white whiskers by a"  # 29: the counter shows from 30
    field.fill(near + " n")
    assert counter.is_visible() and counter.inner_text() == "31/40 characters"
    pasted = "long thin white whiskers by a small pink nose and a wet black snout"
    field.fill(pasted)  # as a paste: the whole text stays in the field
    assert field.input_value() == pasted
    assert counter.inner_text() == f"{len(pasted)}/40 characters"
    assert "over" in counter.get_attribute("class")
    error = page.locator("#char-1-error")
    assert (
        error.inner_text() == f"Too long: {len(pasted)} characters, at most 40. Please shorten it."
    )
    assert field.get_attribute("aria-invalid") == "true"
    shot(page, "review-too-long")

    page.get_by_role("button", name="Send and see the answer").click()
    assert page.evaluate("document.activeElement.id") == "char-1"  # nothing sent: the field
    assert round_of("Typist").status == "labelling" and not Characteristic.objects.exists()

    exact = "long thin white whiskers by a small nose"  # 40
    field.fill(exact + " !")  # the edge punctuation is not counted, as on the server
    assert counter.inner_text() == "40/40 characters" and error.inner_text() == ""
    assert field.get_attribute("aria-invalid") is None
    page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()
    assert list(Characteristic.objects.values_list("text", flat=True)) == [exact + " !"]
    assert game_pages.problems == []


def test_an_expired_round_turns_its_controls_off_and_offers_the_next(game_pages):
    from django.utils import timezone

    from game.models import Round

    photo_campaign(name="Late", photos=("chelsea", "coffee"))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Late")
    old = round_of("Late", status="active")
    Round.objects.filter(pk=old.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=5))
    page.get_by_label(answer_label_of("Late")).check()
    page.get_by_role("button", name=re.compile("Show more")).click()
    page.locator("#round-gone").wait_for()
    assert "expired" in page.locator("#error").inner_text()
    for selector in ("#more", "#guess", "#resign"):
        assert page.locator(selector).is_disabled(), selector
    radios = page.locator("#choices input")
    assert radios.count() > 0 and all(radios.nth(i).is_disabled() for i in range(radios.count()))
    assert page.locator("#stakes").is_hidden()
    restart = page.get_by_role("button", name=re.compile("^Next picture"))
    assert restart.is_visible()
    assert page.evaluate("document.activeElement.id") == "restart"
    page.keyboard.press("m")  # the keys of the old round do nothing now
    page.wait_for_timeout(200)
    assert page.locator("#round-gone").is_visible()
    shot(page, "review-expired")

    restart.click()
    wait_until(page, "(t) => document.getElementById('frame').src.indexOf(t) < 0", old.token)
    page.locator("#step-caption", has_text="Step 1 of 6").wait_for()
    assert page.locator("#round-gone").is_hidden() and page.locator("#error").inner_text() == ""
    for selector in ("#more", "#guess", "#resign"):
        assert page.locator(selector).is_enabled(), selector
    assert page.locator("#choices input").first.is_enabled()
    assert round_of("Late", status="active").pk != old.pk
    assert game_pages.problems == []


def test_a_round_guessed_in_another_tab_goes_on_to_its_description(game_pages):
    from game import services
    from game.models import Player

    photo_campaign(name="Tabs", photos=("chelsea",))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Two tabs")
    r = round_of("Two tabs", status="active")
    player = Player.objects.get(nickname="Two tabs")
    services.round_guess(player=player, token=r.token, choice=r.answer)  # the other tab
    page.get_by_label(answer_label_of_round(r)).check()
    page.get_by_role("button", name=re.compile("^Guess")).click()
    page.locator("#label-phase").wait_for()  # the round as it is now: waiting for words
    assert "already guessed" in page.locator("#error").inner_text()
    page.get_by_label("Characteristic 1").fill("striped fur")
    page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()
    assert page.locator("#error").inner_text() == ""
    assert game_pages.problems == []


def answer_label_of_round(r) -> str:
    from game.rules import class_label

    return class_label(r.answer)


def test_a_resigned_unranked_summary_says_no_rank_and_speaks_of_no_words(game_pages, settings):
    from game.models import Player
    from game.rules import RANK_NOTE_UNCONFIRMED

    settings.NETVIZ_TRUST_MIN_COUNTED = 0.3
    photo_campaign(name="Quiet", photos=("chelsea",))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Quiet")
    Player.objects.filter(nickname="Quiet").update(trust=0.1, points=50)
    page.get_by_role("button", name=re.compile("^Resign")).click()
    page.get_by_role("button", name="Yes, resign").click()
    page.locator("#summary-title", has_text="You resigned").wait_for()
    others = page.locator("#summary-others").inner_text()
    assert "No other player has described this part yet." in others
    assert "your words" not in page.locator("#summary-phase").inner_text()
    rank = page.locator("#summary-points div", has_text="Rank")
    text = rank.locator("dd").inner_text()
    assert text.startswith("Not ranked") and not re.search(r"#\d", text)
    assert RANK_NOTE_UNCONFIRMED in text
    shot(page, "review-resigned-unranked")
    page.goto("/game/profile/")
    assert page.locator("[data-stat=rank]").inner_text().startswith("Not ranked")
    assert game_pages.problems == []


def test_playing_every_campaign_to_the_end_says_every_open_campaign(game_pages):
    photo_campaign(name="Cats", photos=("chelsea",))
    photo_campaign(name="Drinks", photos=("coffee",))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Everything")  # /game/play/: every open campaign
    for _ in range(2):
        guess_right(page, "Everything")
        page.get_by_label("Characteristic 1").fill("round shape")
        page.get_by_role("button", name="Send and see the answer").click()
        page.locator("#summary-title").wait_for()
        page.get_by_role("button", name=re.compile("^Next round")).click()
        page.locator("#empty-phase, #reveal-phase >> visible=true").first.wait_for()
    page.locator("#empty-phase").wait_for()
    empty = page.locator("#empty-phase").inner_text()
    assert page.locator("#empty-title").inner_text() == (
        "You have played every picture of every open campaign"
    )
    assert "You described 2 pictures in all." in empty
    assert "The open campaigns are" in page.locator("#empty-progress-label").inner_text()
    assert "this campaign" not in empty and "The campaign is" not in empty
    shot(page, "review-all-done")
    assert game_pages.problems == []


def test_the_profile_fits_a_phone_and_the_404_page_is_the_sites(game_pages):
    photo_campaign(name="Pocket", photos=("chelsea",))
    page = game_pages.new(PHONE, init_script=TOUR_DONE, bypass_csp=True)
    start_as_guest(page, "A rather long display name")
    page.locator("#choices label", has_text=answer_label_of("A rather long display name")).tap()
    page.get_by_role("button", name=re.compile("^Guess")).tap()
    page.get_by_label("Characteristic 1").fill("a very long characteristic text")
    page.get_by_role("button", name="Send and see the answer").tap()
    page.locator("#summary-title").wait_for()
    page.goto("/game/profile/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    region = page.get_by_role("region", name="Your finished rounds, newest first")
    assert region.get_attribute("tabindex") == "0"
    box = region.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    # the table is wider than a phone: it scrolls inside its region, not the page
    assert region.evaluate("(el) => el.scrollWidth > el.clientWidth")
    mean = page.locator("[data-stat=mean-step]").inner_text()
    assert mean == "1.0 of 6"  # a win at the first step: step 1, as the history says
    assert page.locator("table.data tbody td").nth(3).inner_text() == "1"
    shot(page, "review-phone-profile", full_page=True)
    assert axe_serious(page, label="phone: profile") == []

    resp = page.goto("/no-such-page/")
    assert resp.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(icon).headers["content-type"].startswith("image/svg+xml")
    assert game_pages.problems == []
