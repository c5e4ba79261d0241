"""Deep Reveal in Chromium after a second new player's review: the leaderboard fits a phone; the
describing help names no direction; how-to-play says how R resigns; an all-blank send is refused
without a request; the summary's way on is seen without scrolling; an idle round shows itself
expired when its time is up; a round action in flight marks its button busy, once."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.e2e.game_support import (
    DESKTOP,
    PHONE,
    TOUR_DONE,
    answer_label_of,
    in_viewport,
    photo_campaign,
    round_of,
    start_as_guest,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def finish_a_round(page, nickname: str, *, tap: bool = False) -> None:
    label = page.locator("#choices label", has_text=answer_label_of(nickname))
    guess = page.get_by_role("button", name=re.compile("^Guess"))
    if tap:
        label.tap()
        guess.tap()
    else:
        label.click()
        guess.click()
    page.get_by_label("Characteristic 1").fill("striped fur")
    page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()


def test_the_leaderboard_scrolls_in_its_region_on_a_phone(game_pages):
    photo_campaign(name="Board", photos=("chelsea",))
    page = game_pages.new(PHONE, init_script=TOUR_DONE)
    start_as_guest(page, "A quite long nickname here")
    finish_a_round(page, "A quite long nickname here", tap=True)
    for path, caption in (
        ("/game/leaderboard/", "Leaderboard"),
        ("/game/", "Top players of all time"),
    ):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        region = page.get_by_role("region", name=caption, exact=True)
        assert region.get_attribute("tabindex") == "0"
        assert region.locator("table.leaderboard td", has_text="1").count() >= 1
        box = region.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, path
        # wider than a phone: the table scrolls inside its region, not the page
        assert region.evaluate("(el) => el.scrollWidth > el.clientWidth"), path
    assert game_pages.problems == []


def test_the_describing_help_names_no_side_and_a_blank_send_stays_here(game_pages):
    from game.models import Characteristic

    photo_campaign(name="Blank", photos=("chelsea",))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Blank")
    page.get_by_label(answer_label_of("Blank")).check()
    page.get_by_role("button", name=re.compile("^Guess")).click()
    page.locator("#label-phase").wait_for()
    help_text = page.locator(".label-help").inner_text()
    assert "Describe the revealed part" in help_text
    assert not re.search(r"\b(left|right|above|below)\b", help_text)

    sent: list[str] = []
    page.on("request", lambda req: sent.append(req.url) if "/characteristics/" in req.url else None)
    page.get_by_label("Characteristic 2").fill("   ")
    page.get_by_role("button", name="Send and see the answer").click()
    assert page.locator("#error").inner_text() == (
        "Please write at least one characteristic of what you saw."
    )
    assert page.locator("#char-1-error").inner_text() == (
        "Please type a characteristic of what you saw."
    )
    assert page.evaluate("document.activeElement.id") == "char-1"
    assert page.get_by_label("Characteristic 1").get_attribute("aria-invalid") == "true"
    page.wait_for_timeout(200)
    assert sent == [] and round_of("Blank").status == "labelling"

    page.get_by_label("Characteristic 1").fill("striped fur")
    page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()
    assert len(sent) == 1 and list(Characteristic.objects.values_list("text", flat=True)) == [
        "striped fur"
    ]
    assert page.locator("#error").inner_text() == ""
    assert game_pages.problems == []


def test_r_then_shift_tab_and_enter_resigns_as_how_to_play_says(game_pages):
    photo_campaign(name="Keys", photos=("chelsea",))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    page.goto("/game/how-to-play/")
    said = page.locator("dl.shortcuts dd").nth(3).inner_text()
    assert "Shift+Tab" in said.replace(" ", "") and '"Yes, resign"' in said and "Enter" in said
    start_as_guest(page, "Keys")
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "resign-no"
    page.keyboard.press("Enter")  # "Keep playing" is the default: the round goes on
    assert page.locator("#resign-confirm").is_hidden()
    page.keyboard.press("r")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "resign-yes"
    page.keyboard.press("Enter")
    page.locator("#summary-title", has_text="You resigned").wait_for()
    assert round_of("Keys").status == "done"
    assert game_pages.problems == []


def test_the_next_picture_is_seen_without_scrolling_and_n_still_works(game_pages):
    photo_campaign(name="Onward", photos=("chelsea", "coffee", "astronaut"))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Onward")
    finish_a_round(page, "Onward")
    assert page.evaluate("window.scrollY") == 0
    top = page.get_by_role("button", name=re.compile("^Next picture"))
    assert top.is_visible() and in_viewport(page, "#next-top")
    assert page.locator("#summary-answer").is_visible()  # the summary is all still there
    assert page.locator("#summary-points").is_visible()
    first = round_of("Onward").pk
    top.click()
    page.locator("#reveal-phase").wait_for()
    second = round_of("Onward", status="active")
    assert second.pk != first
    finish_a_round(page, "Onward")
    page.keyboard.press("n")
    wait_until(page, "() => document.getElementById('game').dataset.phase === 'reveal'")
    assert round_of("Onward", status="active").pk not in (first, second.pk)
    assert game_pages.problems == []


def test_an_idle_round_shows_itself_expired_when_its_time_is_up(game_pages):
    from django.utils import timezone

    from game.models import Round

    photo_campaign(name="Idle", photos=("chelsea", "coffee"))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Idle")
    r = round_of("Idle", status="active")
    Round.objects.filter(pk=r.pk).update(expires_at=timezone.now() + dt.timedelta(seconds=2))
    page.get_by_role("button", name=re.compile("Show more")).click()  # its answer: the new time
    page.locator("#step-caption", has_text="Step 2 of 6").wait_for()
    assert page.locator("#stakes").is_visible() and page.locator("#round-gone").is_hidden()
    page.locator("#round-gone").wait_for(timeout=8_000)  # no action: the page says it by itself
    assert "expired" in page.locator("#error").inner_text()
    assert page.locator("#stakes").is_hidden()
    for selector in ("#more", "#guess", "#resign"):
        assert page.locator(selector).is_disabled(), selector
    assert page.evaluate("document.activeElement.id") == "restart"
    page.get_by_role("button", name=re.compile("^Next picture")).click()
    page.locator("#step-caption", has_text="Step 1 of 6").wait_for()
    assert round_of("Idle", status="active").pk != r.pk
    assert page.locator("#round-gone").is_hidden()
    assert game_pages.problems == []


def test_show_more_in_flight_is_busy_and_sent_once(game_pages):
    photo_campaign(name="Slow", photos=("chelsea",))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Slow")
    held: list = []
    page.route("**/reveal/", lambda route: held.append(route))
    more = page.get_by_role("button", name=re.compile("Show more"))
    more.click()
    wait_until(page, "() => document.getElementById('more').getAttribute('aria-busy') === 'true'")
    after = page.evaluate("getComputedStyle(document.getElementById('more'), '::after').content")
    assert after not in ("none", "normal")  # the spinner is there to see
    assert page.locator("#guess").get_attribute("aria-busy") != "true"
    more.click(force=True)  # aria-disabled: a second press does nothing
    page.keyboard.press("m")
    page.wait_for_timeout(200)
    assert len(held) == 1
    held[0].continue_()
    page.locator("#step-caption", has_text="Step 2 of 6").wait_for()
    wait_until(page, "() => document.getElementById('more').getAttribute('aria-busy') === 'false'")
    assert round_of("Slow").step == 1
    assert game_pages.problems == []
