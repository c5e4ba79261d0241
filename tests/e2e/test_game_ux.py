"""Deep Reveal as a player sees it (issue 14), in Chromium on a desktop (1280 × 800) and a phone
(390 × 844, touch): the picture stays while it is described, with the taboo words beside the
fields; stakes and steps 1-6 on screen; resign asks first; the summary teaches (frame, picture,
plain-words overlay, the crowd, what others saw, when the network was wrong); no dead end; the
phone layout; sign-up keeps the points; the guided first round; axe-core on every game page.

``NETVIZ_DOC_SHOTS=1`` also writes the screenshots of docs/game.md ("What a player sees") to
docs/img/game/.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.game_support import (
    CLASSES,
    DESKTOP,
    PHONE,
    TOUR_DONE,
    answer_label_of,
    axe_serious,
    crowd_on,
    in_viewport,
    photo_campaign,
    round_of,
    shot,
    start_as_guest,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def wait_player_loaded(page) -> None:
    """/api/game/me/ answered (display name, guided first round)."""
    wait_until(page, "() => document.getElementById('game').dataset.player === 'loaded'")


def displayed(page, selector: str) -> bool:
    return page.evaluate(
        "(sel) => getComputedStyle(document.querySelector(sel)).display !== 'none'", selector
    )


def frame_box(page) -> dict:
    wait_until(
        page, "() => { const i = document.getElementById('frame'); return i.naturalWidth > 0; }"
    )
    box = page.locator("#frame").bounding_box()
    return {"width": round(box["width"]), "height": round(box["height"])}


def test_desktop_round_keeps_the_picture_shows_stakes_and_a_summary_that_teaches(game_pages):
    from game.models import Player

    campaign = photo_campaign(name="Pets", photos=("chelsea",), wrong={"chelsea": "Egyptian cat"})
    crowd_on(campaign)
    page = game_pages.new(DESKTOP)
    start_as_guest(page, "Ada")
    wait_player_loaded(page)  # a new player: the tour starts

    # The guided first round: a new player gets a tip per phase, in a labelled region.
    coach = page.get_by_role("complementary", name=re.compile("Your first round"))
    assert coach.is_visible() and "Show more" in coach.inner_text()
    shot(page, "desktop-1-tour", doc=True)
    coach.get_by_role("button", name="Got it").click()
    assert coach.is_hidden()

    # Stakes and steps 1-6 on screen; keyboard hints where there is a keyboard.
    assert "Step 1 of 6" in page.locator("#step-caption").inner_text()
    assert page.locator("#points-now").inner_text() == "100"
    assert page.locator("#points-next").inner_text() == "83"
    assert displayed(page, "#more .kbd-hint") and displayed(page, ".shortcuts-hint")
    before = frame_box(page)

    # R asks first (no request): Escape keeps playing; the round is still active.
    page.keyboard.press("r")
    assert page.locator("#resign-confirm").is_visible()
    assert page.evaluate("document.activeElement.id") == "resign-no"
    page.keyboard.press("Escape")
    assert page.locator("#resign-confirm").is_hidden()
    assert round_of("Ada", campaign=campaign).status == "active"
    shot(page, "desktop-2-reveal", doc=True)

    answer = answer_label_of("Ada")
    page.get_by_label(answer).check()
    page.get_by_role("button", name=re.compile("^Guess")).click()

    # Describing: the last frame stays, at the same size, with the taboo words beside the fields.
    page.locator("#label-phase").wait_for()
    assert page.locator("#frame").is_visible()
    assert "/game/frame/" in page.locator("#frame").get_attribute("src")
    assert frame_box(page) == before
    assert "step 1 of 6" in page.locator("#step-caption").inner_text().lower()
    taboo = page.locator("#taboo-list")
    assert answer in taboo.inner_text()
    assert "characteristic" in coach.inner_text()  # the second tip
    field = page.get_by_label("Characteristic 2")
    field.press_sequentially(f"small {answer.lower()}s")
    hint = page.locator("#char-2-hint")
    assert answer.lower() in hint.inner_text().lower()  # warned while typing, nothing sent
    shot(page, "desktop-3-describe", doc=True, full_page=True)
    field.fill("striped fur")
    assert hint.inner_text() == ""
    page.get_by_label("Characteristic 1").fill("whiskers")
    page.get_by_role("button", name="Send and see the answer").click()

    # The summary: frame, full picture, overlay in plain words, crowd, others, level-up.
    title = page.locator("#summary-title")
    title.wait_for()
    assert title.inner_text().startswith("You won!")
    player = Player.objects.get(nickname="Ada")
    assert player.points == 115  # 100 at step 1, + 2 × 5 for characteristics, + 5 for agreeing
    assert page.locator("#player-points").inner_text() == str(player.points)
    assert "level 2 · Observer" in page.locator("#player-level").inner_text()
    level_up = page.locator("#level-up")
    assert level_up.get_attribute("aria-live") == "polite"
    assert "Level up" in level_up.inner_text() and "Observer" in level_up.inner_text()
    for img in ("#summary-frame", "#summary-image", "#summary-overlay"):
        assert page.locator(img).is_visible(), img
    assert "/game/rounds/" in page.locator("#summary-frame").get_attribute("src")
    caption = page.locator("#summary-overlay-caption").inner_text()
    assert "detectors responded to" in caption
    main_text = page.locator("#summary-phase").inner_text()
    details = page.locator("#summary-details").inner_text()
    visible_text = main_text.replace(details, "")
    assert "blocks." not in visible_text and "evidence" not in visible_text
    crowd = page.locator("#summary-crowd").inner_text()
    assert "2 of 3 other players got it" in crowd and "step 3.5" in crowd
    others = page.locator("#summary-others")
    assert "whiskers" in others.inner_text() and "pointed ears" in others.inner_text()
    assert page.locator("#summary-chars li.agree", has_text="whiskers").count() == 1
    assert re.search(r"\+\d+ points: you saw what other players saw", others.inner_text())
    # the network was wrong: said as something interesting
    assert "network thought it was Egyptian cat" in page.locator("#summary-network").inner_text()
    assert "whole picture" in coach.inner_text()  # the last tip
    shot(page, "desktop-4-summary", doc=True, full_page=True)
    page.locator("#summary-details summary").click()
    assert "blocks.4.0" in page.locator("#summary-details").inner_text()  # the small print
    coach.get_by_role("button", name="Done").click()
    assert page.evaluate("localStorage.getItem('netviz.deepReveal.tourDone')") == "1"

    # The permanent summary page says the same.
    page.goto(page.locator("#summary-link").get_attribute("href"))
    body = page.locator("main").inner_text()
    assert "detectors responded to" in body and "What other players saw here" in body
    assert "2 of 3 other players got it" in body

    assert game_pages.problems == []
    assert game_pages.violations(page) == []


def test_phone_fits_the_frame_choices_and_guess_and_hides_keyboard_hints(game_pages):
    photo_campaign(name="Pocket", photos=("chelsea", "coffee", "rocket"))
    page = game_pages.new(PHONE)
    start_as_guest(page, "Pocket")
    wait_player_loaded(page)

    # The tour on a phone: skipped, and remembered after a reload.
    coach = page.get_by_role("complementary", name=re.compile("Your first round"))
    assert coach.is_visible()
    coach.get_by_role("button", name="Skip the tour").tap()
    assert coach.is_hidden()
    page.reload()
    page.locator("#frame[src*='/game/frame/']").wait_for()
    wait_player_loaded(page)
    assert coach.is_hidden()

    for step, now, after in ((1, "100", "83"), (2, "83", "67"), (3, "67", "50")):
        page.locator("#step-caption", has_text=f"Step {step} of 6").wait_for()
        assert page.locator("#points-now").inner_text() == now
        assert page.locator("#points-next").inner_text() == after
        frame_box(page)
        assert page.evaluate("window.scrollY") == 0
        for selector in ("#frame", "#stakes", "#more", "#choices", "#guess"):
            assert in_viewport(page, selector), (step, selector)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        if step == 2:
            shot(page, "phone-1-reveal", doc=True)
        if step < 3:
            page.get_by_role("button", name=re.compile("Show more")).tap()
    assert not displayed(page, "#more .kbd-hint")
    assert not displayed(page, ".shortcuts-hint")
    assert not displayed(page, "label[for=choice-0] kbd")

    # Resign asks first on a phone too.
    page.get_by_role("button", name=re.compile("^Resign")).tap()
    assert page.locator("#resign-confirm").is_visible()
    page.get_by_role("button", name="Keep playing").tap()
    assert round_of("Pocket").status == "active"

    before = frame_box(page)
    answer = answer_label_of("Pocket")
    page.locator("#choices label", has_text=answer).tap()
    page.get_by_role("button", name=re.compile("^Guess")).tap()
    page.locator("#label-phase").wait_for()
    assert frame_box(page) == before
    assert page.locator("#taboo-list").is_visible()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "phone-2-describe", doc=True)
    page.get_by_label("Characteristic 1").fill("soft fur")
    page.get_by_role("button", name="Send and see the answer").tap()
    page.locator("#summary-title").wait_for()
    assert page.locator("#level-up").inner_text() == ""  # 72 points: still level 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.evaluate("window.scrollTo(0, 0)")
    # the viewport only: a full-page capture drops the touch emulation (keyboard hints appear)
    shot(page, "phone-3-summary", doc=True)

    page.get_by_role("button", name=re.compile("^Next round")).tap()
    page.locator("#step-caption", has_text="Step 1 of 6").wait_for()
    page.get_by_role("button", name=re.compile("^Resign")).tap()
    page.get_by_role("button", name="Yes, resign").tap()
    page.locator("#summary-title", has_text="You resigned").wait_for()
    assert game_pages.problems == []
    assert game_pages.violations(page) == []


def test_phone_fits_twelve_choices_as_the_demo_offers(game_pages):
    """The demo campaigns offer 12 choices: the frame, the stakes, every choice and Guess still
    fit a 390 × 844 phone without scrolling."""
    extra = tuple(
        c
        for c in ("tripod", "wall clock", "palace", "disk brake", "carton", "bow tie", "lakeside")
        if c not in CLASSES
    )[: 12 - len(CLASSES)]
    campaign = photo_campaign(name="Twelve", photos=("chelsea",), extra_classes=extra)
    assert len(campaign.classes) == 12
    page = game_pages.new(PHONE, init_script=TOUR_DONE)
    start_as_guest(page, "Twelve")
    wait_player_loaded(page)
    page.locator("#frame[src*='/game/frame/']").wait_for()
    frame_box(page)
    assert page.locator("#choices input").count() == 12
    assert page.evaluate("window.scrollY") == 0
    for selector in ("#frame", "#stakes", "#more", "#choices", "#guess"):
        assert in_viewport(page, selector), selector
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-12-choices")


def test_no_dead_end_offers_the_next_campaign_and_says_when_more_is_coming(game_pages):
    first = photo_campaign(name="Cats", photos=("chelsea",), target_rounds=5)
    photo_campaign(name="Drinks", photos=("coffee",), pending=1)
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Finisher", path=f"/game/play/{first.slug}/")

    def play_one(nickname: str) -> None:
        page.get_by_label(answer_label_of(nickname)).check()
        page.get_by_role("button", name=re.compile("^Guess")).click()
        page.get_by_label("Characteristic 1").fill("round shape")
        page.get_by_role("button", name="Send and see the answer").click()
        page.locator("#summary-title").wait_for()
        page.get_by_role("button", name=re.compile("^Next round")).click()
        page.locator("#empty-phase").wait_for()

    play_one("Finisher")
    empty = page.locator("#empty-phase")
    assert "every picture of this campaign" in page.locator("#empty-title").inner_text()
    assert "You described 1 picture in this campaign" in empty.inner_text()
    assert page.locator("#empty-progress").get_attribute("value") == "20"  # 1 of 1 × 5
    assert page.locator("#empty-later").is_hidden()  # nothing more is coming to "Cats"
    shot(page, "desktop-5-end", doc=True)
    page.get_by_role("link", name=re.compile("Play the next campaign: Drinks")).click()
    page.locator("#frame[src*='/game/frame/']").wait_for()
    assert page.url.rstrip("/").endswith("/game/play/drinks") or "/game/play/" in page.url

    play_one("Finisher")
    assert page.locator("#empty-next").is_hidden()  # no other campaign left
    assert "come back later" in page.locator("#empty-later").inner_text()  # one is computing
    assert game_pages.problems == []


def test_sign_up_shows_a_loading_state_keeps_the_points_and_one_display_name(game_pages):
    from game.models import Player

    photo_campaign(name="Keepers", photos=("chelsea", "coffee"))
    page = game_pages.new(DESKTOP, init_script=TOUR_DONE)
    start_as_guest(page, "Keeper")
    page.get_by_label(answer_label_of("Keeper")).check()
    page.get_by_role("button", name=re.compile("^Guess")).click()
    page.get_by_label("Characteristic 1").fill("striped fur")
    page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()
    points = Player.objects.get(nickname="Keeper").points
    assert points > 0

    page.goto("/accounts/signup/")
    page.get_by_label(re.compile("^Username")).fill("keeper-account")
    page.locator("#id_password1").fill("a-long-passphrase-9")
    page.locator("#id_password2").fill("a-long-passphrase-9")
    held = []
    page.route("**/api/game/rounds/", lambda route: held.append(route))  # hold the first round
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(re.compile(r"/game/play/"))
    loading = page.locator("#loading-phase")
    loading.wait_for()
    assert "Loading" in loading.inner_text()
    assert page.locator("#play-area").is_hidden()
    kept = f"Your {points} points were kept"
    assert kept in page.locator("main").inner_text()
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    page.unroute("**/api/game/rounds/")
    page.locator("#frame[src*='/game/frame/']").wait_for()
    assert loading.is_hidden()

    # One display name everywhere: header, play line, leaderboard, profile; never the username.
    assert page.locator("nav.account").inner_text().startswith("Keeper")
    assert page.locator("#player-name").inner_text() == "Keeper"
    page.goto("/game/leaderboard/")
    assert "Keeper" in page.locator("table.leaderboard").inner_text()
    page.goto("/game/profile/")
    assert page.locator("h1").inner_text().startswith("Keeper")
    assert "keeper-account" not in page.locator("body").inner_text()
    row = page.locator("table.data tbody tr").first
    assert row.locator("img.history-thumb").count() == 1
    assert "tabby" in row.inner_text() or "espresso" in row.inner_text()
    assert game_pages.problems == []


def test_every_game_page_has_no_serious_accessibility_violation(game_pages):
    """axe-core (vendored, pinned) on every game page and every phase of play, desktop and phone.

    The injection needs ``bypass_csp``; the other tests check that the pages themselves run
    under the policy without a violation."""
    campaign = photo_campaign(name="Accessible", photos=("chelsea",))
    crowd_on(campaign)
    found: list[str] = []
    anon = game_pages.new(DESKTOP, bypass_csp=True)
    for path, label in (
        ("/game/", "home"),
        ("/game/how-to-play/", "how to play"),
        ("/game/leaderboard/", "leaderboard"),
        ("/game/play/", "start"),
    ):
        anon.goto(path)
        found += axe_serious(anon, label=label)

    page = game_pages.new(DESKTOP, bypass_csp=True)
    start_as_guest(page, "Axe")
    wait_player_loaded(page)
    found += axe_serious(page, label="play: reveal, with the tour")
    page.keyboard.press("r")
    found += axe_serious(page, label="play: resign question")
    page.keyboard.press("Escape")
    page.get_by_label(answer_label_of("Axe")).check()
    page.get_by_role("button", name=re.compile("^Guess")).click()
    page.locator("#label-phase").wait_for()
    page.get_by_label("Characteristic 1").fill("tabby")
    found += axe_serious(page, label="play: describe, taboo warning")
    page.get_by_label("Characteristic 1").fill("whiskers")
    page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()
    found += axe_serious(page, label="play: summary")
    summary_url = page.locator("#summary-link").get_attribute("href")
    page.get_by_role("button", name=re.compile("^Next round")).click()
    page.locator("#empty-phase").wait_for()
    found += axe_serious(page, label="play: end of the campaign")
    for path, label in ((summary_url, "summary page"), ("/game/profile/", "profile")):
        page.goto(path)
        found += axe_serious(page, label=label)

    phone = game_pages.new(PHONE, bypass_csp=True, init_script=TOUR_DONE)
    photo_campaign(name="Accessible phone", photos=("coffee",))
    start_as_guest(phone, "Axe phone")
    found += axe_serious(phone, label="phone: reveal")
    phone.goto("/game/how-to-play/")
    found += axe_serious(phone, label="phone: how to play")
    assert found == []
    assert game_pages.problems == []
