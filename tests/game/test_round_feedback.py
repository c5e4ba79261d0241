"""Issue 14's game API: stakes on screen, the frame while describing it, taboo words, a summary
that teaches (the guessed-from frame, the full picture, plain words, the crowd, what others saw,
agreement), no dead end, one display name, history rows, points kept after sign-up."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from explanations.models import ExplanationJob
from game import rules, selectors, services
from game.models import Characteristic, Player, Round
from tests.factories import (
    CampaignFactory,
    CampaignImageFactory,
    ExplanationJobFactory,
    PlayerFactory,
    make_image_items,
)
from tests.game.helpers import API, csrf_client, guest_client, post, same_image

pytestmark = pytest.mark.django_db


def start(client) -> dict:
    resp = post(client, API + "rounds/")
    assert resp.status_code == 201, resp.content
    return resp.json()


def finish(client, data: dict, *, choice: str | None = None, texts=("floppy ears",)) -> dict:
    token = data["token"]
    answer = Round.objects.get(token=token).answer
    post(client, f"{API}rounds/{token}/guess/", {"choice": choice or answer})
    resp = post(client, f"{API}rounds/{token}/characteristics/", {"texts": list(texts)})
    assert resp.status_code == 200, resp.content
    return resp.json()


def play(player: Player, *, texts=("floppy ears",), reveals: int = 0, right: bool = True):
    """A finished round of ``player`` through the services; returns the round."""
    r = services.round_start(player=player)
    for _ in range(reveals):
        services.round_reveal(player=player, token=r.token)
    choice = r.answer
    if not right:
        choice = next(c for c in r.campaign.classes if c != r.answer)
    services.round_guess(player=player, token=r.token, choice=choice)
    return services.round_characteristics_submit(player=player, token=r.token, texts=list(texts))


# --- stakes on screen ------------------------------------------------------------------------


def test_points_for_guessing_now_and_after_one_more_step(items):
    client = guest_client()
    data = start(client)
    assert (data["points_now"], data["points_next"]) == (100, 83)
    assert (data["step_number"], data["step_count"]) == (1, 6)
    assert data["taboo"] == []
    for step in range(1, 6):
        data = post(client, f"{API}rounds/{data['token']}/reveal/").json()
        assert data["step_number"] == step + 1
        assert data["points_now"] == rules.win_points(step)
    assert data["points_next"] is None  # the last step


# --- describe what you saw, while you see it ---------------------------------------------------


def test_the_last_frame_stays_for_its_player_while_labelling_and_only_then(items):
    client = guest_client("Seer")
    data = start(client)
    token = data["token"]
    post(client, f"{API}rounds/{token}/reveal/")
    round = Round.objects.get(token=token)
    wrong = next(c for c in round.campaign.classes if c != round.answer)
    data = post(client, f"{API}rounds/{token}/guess/", {"choice": wrong}).json()
    assert data["status"] == "labelling"
    assert data["frame_url"] == f"/game/frame/{token}/1.jpg"
    frame = client.get(data["frame_url"])
    assert frame.status_code == 200
    assert same_image(frame.content, round.cluster_map.frames[1])
    # other steps, other players, anonymous visitors: 404
    assert client.get(f"/game/frame/{token}/0.jpg").status_code == 404
    assert guest_client("Other").get(data["frame_url"]).status_code == 404
    assert csrf_client().get(data["frame_url"]).status_code == 404
    # taboo words: the guess's names; after a wrong guess the answer is not given away
    names = [part.strip() for part in wrong.split(",")]
    assert data["taboo"] == names + round.campaign.aliases.get(wrong, [])
    assert not {t.casefold() for t in data["taboo"]} & {
        p.strip().casefold() for p in round.answer.split(",")
    }
    done = post(client, f"{API}rounds/{token}/characteristics/", {"texts": ["grass"]}).json()
    assert done["status"] == "done"
    assert client.get(data["frame_url"]).status_code == 404  # the reveal URL is over


def test_taboo_words_include_aliases_and_forbidden_terms(items, campaign):
    campaign.aliases = {"English springer": ["spaniel"]}
    if hasattr(campaign, "forbidden_terms"):
        campaign.forbidden_terms = {"English springer": {"en": ["springer dog"]}}
    campaign.save()
    player = PlayerFactory()
    r = services.round_start(player=player)
    Round.objects.filter(pk=r.pk).update(answer="English springer")
    services.round_guess(player=player, token=r.token, choice="English springer")
    taboo = selectors.round_taboo(round=Round.objects.select_related("campaign").get(pk=r.pk))
    assert {"English springer", "spaniel"} <= set(taboo)
    if hasattr(campaign, "forbidden_terms"):
        assert "springer dog" in taboo


# --- a summary that teaches --------------------------------------------------------------------


def test_summary_shows_the_guessed_from_frame_the_full_picture_and_plain_words(items):
    client = guest_client("Learner")
    data = start(client)
    token = data["token"]
    post(client, f"{API}rounds/{token}/reveal/")
    post(client, f"{API}rounds/{token}/reveal/")
    s = finish(client, data)["summary"]
    round = Round.objects.select_related("image", "cluster_map__layer_result").get(token=token)
    assert (s["step_number"], s["step_count"]) == (3, 6)
    assert s["frame_url"] == f"/game/rounds/{token}/frame/"
    frame = client.get(s["frame_url"])
    assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"
    assert same_image(frame.content, round.cluster_map.frames[2])
    assert frame["X-Content-Type-Options"] == "nosniff"
    assert frame["Content-Security-Policy"] == "sandbox"
    assert "Content-Disposition" not in frame
    # the full picture is the game image (the field of view from the original)
    picture = client.get(s["image_url"])
    assert same_image(picture.content, round.image.game_file.name)
    position = round.cluster_map.layer_result.position
    assert s["depth"] == rules.layer_depth(position, 3) == ("early", "middle")[position]
    assert s["caption"] == (
        "The part of the picture this group of the network's detectors responded to, "
        f"in {'an' if s['depth'] == 'early' else 'a'} {s['depth']} layer."
    )
    # nobody else's: 404
    other = guest_client("Nosy")
    for url in (s["frame_url"], s["image_url"], s["overlay_url"]):
        assert other.get(url).status_code == 404
        assert csrf_client().get(url).status_code == 404


def test_a_resigned_round_has_no_guessed_from_frame(items):
    client = guest_client()
    token = start(client)["token"]
    s = post(client, f"{API}rounds/{token}/resign/").json()["summary"]
    assert s["frame_url"] == "" and s["step_number"] == 6
    assert client.get(f"/game/rounds/{token}/frame/").status_code == 404


def test_a_resigned_summary_does_not_speak_of_the_players_words(items):
    """A resigned round has no words: the summary (page and in-page) does not call them the
    first; a round with words does."""
    client = guest_client()
    token = start(client)["token"]
    s = post(client, f"{API}rounds/{token}/resign/").json()["summary"]
    assert s["characteristics"] == [] and s["others_saw"] == []
    page = client.get(reverse("game:round-summary", args=[token])).content.decode()
    assert "No other player has described this part yet." in page
    assert "your words" not in page
    described = finish(client, start(client))
    assert described["summary"]["others_saw"] == []
    page = client.get(reverse("game:round-summary", args=[described["token"]])).content.decode()
    assert "your words are the first" in page


def test_refused_round_actions_say_where_the_round_is(items, settings):
    """A 409 of an action on a round that moved on carries a stable ``code`` (the page then
    turns the controls off and offers the way on): expired, already guessed, over, not guessed
    yet."""
    import datetime as dt

    from django.utils import timezone

    client = guest_client()

    def refused(url: str, body: dict | None = None) -> str:
        resp = post(client, url, body)
        assert resp.status_code == 409, resp.content
        return resp.json()["code"]

    token = start(client)["token"]
    base = f"{API}rounds/{token}/"
    answer = Round.objects.get(token=token).answer
    assert refused(base + "characteristics/", {"texts": ["ears"]}) == "round_active"
    post(client, base + "guess/", {"choice": answer})
    for action, body in (("reveal/", None), ("guess/", {"choice": answer}), ("resign/", None)):
        assert refused(base + action, body) == "round_guessed"
    post(client, base + "characteristics/", {"texts": ["ears"]})
    for action, body in (("reveal/", None), ("characteristics/", {"texts": ["tail"]})):
        assert refused(base + action, body) == "round_over"
    token = start(client)["token"]
    Round.objects.filter(token=token).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    for action, body in (("reveal/", None), ("guess/", {"choice": answer}), ("resign/", None)):
        assert refused(f"{API}rounds/{token}/{action}", body) == "round_expired"


def test_summary_says_when_the_network_got_it_wrong(campaign):
    make_image_items(
        campaign=campaign, true_class="goldfinch", target_class="goldfinch",
        predicted_class="English springer",
    )  # fmt: skip
    r = play(PlayerFactory())
    s = selectors.round_summary(round=r)
    assert (s.network_guess_label, s.network_right) == ("English springer", False)
    assert s.answer == "goldfinch"


def test_summary_network_right_when_it_predicted_the_answer(campaign):
    make_image_items(
        campaign=campaign, true_class="goldfinch", target_class="goldfinch",
        predicted_class="goldfinch",
    )  # fmt: skip
    s = selectors.round_summary(round=play(PlayerFactory()))
    assert s.network_right is True and s.network_guess_label == "goldfinch"


def test_crowd_others_saw_and_the_agreement_bonus(campaign):
    make_image_items(campaign=campaign, layers=1, clusters=1, true_class="goldfinch")
    first = play(PlayerFactory(), texts=["Floppy ears", "green grass"], reveals=2)
    loser = play(PlayerFactory(), texts=["pointed ear", "sky"], right=False)
    hidden = play(PlayerFactory(), texts=["rude word"])
    Characteristic.objects.filter(round=hidden, text="rude word").update(hidden=True)
    blocked = PlayerFactory()
    play(blocked, texts=["floppy ear"])
    Player.objects.filter(pk=blocked.pk).update(is_blocked=True)
    me = PlayerFactory()
    r = play(me, texts=["floppy ear", "pointy ears", "a collar"])
    s = selectors.round_summary(round=r)
    # how the others did (blocked players left out; resigns and losses are rounds, not wins)
    assert (s.crowd.rounds, s.crowd.wins) == (3, 2)
    assert s.crowd.mean_win_step_number == pytest.approx((3 + 1) / 2)
    # what they saw: one entry per label, players counted; hidden and blocked left out
    seen = {o.text: o.count for o in s.others_saw}
    assert seen["floppy ears"] == 1 and "rude word" not in seen and "floppy ear" not in seen
    assert set(seen) == {"floppy ears", "green grass", "pointed ear", "sky"}
    # "floppy ear" = "Floppy ears", "pointy ears" = "pointed ear": 2 agreements, 10 points
    assert s.agreement_bonus == rules.agreement_bonus(2) == 10
    assert s.points_bonus == rules.characteristic_bonus(3) == 15
    assert s.points == s.points_base + s.points_bonus + s.agreement_bonus == 100 + 25
    assert Player.objects.get(pk=me.pk).points == 125
    # the first player agreed with nobody: no bonus
    assert selectors.round_summary(round=first).agreement_bonus == 0
    assert selectors.round_summary(round=loser).points == 10


def test_the_crowd_counts_only_players_whose_rounds_count(campaign):
    """An untrusted player's round does not count toward the target, is not in others_saw,
    and is not in the crowd figures either (one notion of "other players")."""
    make_image_items(campaign=campaign, layers=1, clusters=1, true_class="goldfinch")
    play(PlayerFactory(), texts=["red beak"])
    doubtful = PlayerFactory()
    play(doubtful, texts=["blue sky"])
    Player.objects.filter(pk=doubtful.pk).update(trust_override=0.0)
    s = selectors.round_summary(round=play(PlayerFactory(), texts=["beak"]))
    assert (s.crowd.rounds, s.crowd.wins) == (1, 1)
    assert {o.text for o in s.others_saw} == {"red beak"}


def test_others_saw_keeps_the_most_seen_eight(campaign):
    campaign.target_rounds = 20
    campaign.save()
    make_image_items(campaign=campaign, layers=1, clusters=1, true_class="goldfinch")
    words = ["red beak", "long tail", "blue sky", "tree bark", "leaves", "feathers", "branch",
             "yellow chest", "black cap", "small eye"]  # fmt: skip
    for word in words:
        play(PlayerFactory(), texts=[word, "wings"])
    s = selectors.round_summary(round=play(PlayerFactory(), texts=["beak"]))
    assert len(s.others_saw) == 8
    assert (s.others_saw[0].text, s.others_saw[0].count) == ("wings", 10)


def test_level_up_is_marked_once(items):
    player = PlayerFactory()
    first_round = play(player)
    first = selectors.round_summary(round=first_round)  # 100 + 5: level 2
    assert first.level.level.number == 2 and first.level_up is True
    second = selectors.round_summary(round=play(player))
    assert second.level.level.number == 2 and second.level_up is False
    # read again later, the first round still marks the level it reached
    again = Round.objects.select_related("campaign").get(pk=first_round.pk)
    assert selectors.round_summary(round=again).level_up is True


# --- no dead end -----------------------------------------------------------------------------


def test_a_player_who_has_played_everything_is_offered_the_next_campaign(items, campaign):
    other = CampaignFactory(name="Birds", slug="birds")
    make_image_items(campaign=other, true_class="goldfinch")
    client = guest_client("Finisher")
    for _ in range(3):
        resp = post(client, API + "rounds/", {"campaign": campaign.slug})
        finish(client, resp.json())
    resp = post(client, API + "rounds/", {"campaign": campaign.slug})
    assert resp.status_code == 409
    body = resp.json()
    assert body["code"] == "campaign_exhausted" and body["described"] == 3
    assert body["next_campaign"] == {"slug": "birds", "name": "Birds"}
    assert body["more_coming"] is False
    assert body["campaign_progress"] == pytest.approx(3 / (12 * 5))
    assert body["detail"].startswith("No new picture") and "Birds" in body["detail"]
    # the next campaign plays
    nxt = post(client, API + "rounds/", {"campaign": "birds"})
    assert nxt.status_code == 201
    finish(client, nxt.json())
    # every campaign played: no next one, nothing more coming
    body = post(client, API + "rounds/").json()
    assert body["code"] == "campaign_exhausted" and body["next_campaign"] is None
    assert body["described"] == 4 and "come back later" not in body["detail"]


def test_come_back_later_only_when_pictures_are_being_computed(items, campaign):
    player = PlayerFactory()
    for _ in range(3):
        play(player)
    info = selectors.round_start_exhaustion(player=player, campaign=campaign, now=_now())
    assert info.more_coming is False and "come back later" not in info.message
    image = CampaignImageFactory(campaign=campaign, true_class="goldfinch")
    ExplanationJobFactory(image=image, status=ExplanationJob.Status.QUEUED)
    info = selectors.round_start_exhaustion(player=player, campaign=campaign, now=_now())
    assert info.more_coming is True and "come back later" in info.message


def test_items_at_their_target_are_nothing_available(campaign):
    campaign.target_rounds = 1
    campaign.save()
    make_image_items(campaign=campaign, layers=1, clusters=1, true_class="goldfinch")
    play(PlayerFactory())
    client = guest_client("Late")
    body = post(client, API + "rounds/").json()
    assert body["code"] == "nothing_available" and body["described"] == 0
    assert body["campaign_progress"] == 1.0


def _now():
    from django.utils import timezone

    return timezone.now()


# --- accounts and history ----------------------------------------------------------------------


def test_me_has_one_display_name_level_progress_and_is_new(items):
    client = guest_client("Newcomer")
    me = client.get(API + "me/").json()["player"]
    assert me["display_name"] == "Newcomer" and me["is_new"] is True
    assert me["level"]["points_to_next"] == 100
    finish(client, start(client))
    me = client.get(API + "me/").json()["player"]
    assert me["is_new"] is False and me["level"]["points_to_next"] == 300 - 105


def test_history_rows_have_thumbnail_answer_and_points_once_done(items):
    client = guest_client("Historian")
    won = finish(client, start(client))
    resigned_token = start(client)["token"]
    post(client, f"{API}rounds/{resigned_token}/resign/")
    open_round = start(client)  # not finished: not in the history
    rows = client.get(API + "me/history/").json()
    assert [r["outcome"] for r in rows] == ["resign", "win"]
    resign, win = rows
    assert win["answer_label"] == rules.class_label(won["summary"]["answer"])
    assert win["points"] == won["summary"]["points"] and win["step_number"] == 1
    assert win["thumbnail_url"] == f"/game/rounds/{win['token']}/frame/"
    assert resign["thumbnail_url"] == f"/game/rounds/{resigned_token}/picture/"
    stranger = guest_client("Stranger")
    for row in rows:
        assert client.get(row["thumbnail_url"]).status_code == 200
        assert stranger.get(row["thumbnail_url"]).status_code == 404
    assert open_round["token"] not in {r["token"] for r in rows}
    page = client.get(reverse("game:profile")).content.decode()
    assert win["thumbnail_url"] in page and win["answer_label"] in page
    assert client.get(API + "me/history/?limit=1").json() == rows[:1]
    # the mean step counts 1-6 as the rows do (a win at step 1 and a resign at 6: 3.5)
    assert resign["step_number"] == 6
    me = client.get(API + "me/").json()["player"]
    assert me["mean_step_number"] == 3.5 and me["mean_step"] == 2.5
    mean = page.split('data-stat="mean-step">', 1)[1].split("</dd>", 1)[0]
    assert mean.startswith("3.5 ") and "of 6" in mean
    # the history table scrolls inside its own region on a narrow screen (a phone)
    assert '<div class="table-scroll" role="region" aria-labelledby="history-caption"' in page


def test_sign_up_says_the_guests_points_were_kept(items):
    client = guest_client("Keeper")
    summary = finish(client, start(client))["summary"]
    resp = client.post(
        reverse("account_signup"),
        {"username": "keeper", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
        follow=True,
    )  # fmt: skip
    assert resp.status_code == 200
    page = resp.content.decode()
    assert f"Your {summary['points']} points were kept." in page
    user = get_user_model().objects.get(username="keeper")
    assert Player.objects.get(user=user).points == summary["points"]
    # the header shows the display name, never the username
    assert ">Keeper<" in page and ">keeper<" not in page
