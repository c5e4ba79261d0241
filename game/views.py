"""Thin HTML views of Deep Reveal, and the frame view (the only way a reveal frame leaves disk)."""

from __future__ import annotations

import math
from pathlib import PurePosixPath

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.validators import validate_slug
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError
from explanations.models import Campaign

from . import rules, selectors, services, throttles
from .frame_bytes import jpeg_salted


def _player(request: HttpRequest):
    network = throttles.network_key(request) if request.user.is_authenticated else ""
    return services.player_resolve(user=request.user, session=request.session, network=network)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    player = _player(request)
    return render(
        request,
        "game/home.html",
        {
            "player": player,
            "stats": selectors.player_stats(player=player) if player else None,
            "top": selectors.leaderboard_list(limit=10),
            "campaigns": selectors.campaign_playable_list(),
        },
    )


@require_GET
def how_to_play(request: HttpRequest) -> HttpResponse:
    steps = [(i, pct, rules.win_points(i)) for i, pct in enumerate(rules.REVEAL_PERCENT)]
    return render(
        request,
        "game/how_to_play.html",
        {
            "steps": steps,
            "levels": rules.LEVELS,
            "bonus": rules.POINTS_PER_CHARACTERISTIC,
            "max_scored": rules.MAX_SCORED_CHARACTERISTICS,
            "characteristic_min_length": rules.CHARACTERISTIC_MIN_LENGTH,
            "characteristic_max_length": rules.CHARACTERISTIC_MAX_LENGTH,
        },
    )


@never_cache
@require_GET
def play(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    campaign = None
    if slug:
        campaign = get_object_or_404(Campaign, slug=slug, status=Campaign.Status.PUBLISHED)
    player = _player(request)
    if player is None:
        return render(request, "game/start.html", {"campaign": campaign})
    return render(
        request,
        "game/play.html",
        {
            "campaign": campaign,
            "player": player,
            "stats": selectors.player_stats(player=player),
            "characteristic_min_length": rules.CHARACTERISTIC_MIN_LENGTH,
            "characteristic_max_length": rules.CHARACTERISTIC_MAX_LENGTH,
        },
    )


CAMPAIGN_NOT_OPEN = (
    "That campaign is not open for play (it may have closed). "
    "Choose your nickname to play every open campaign."
)


@require_POST
def guest_start(request: HttpRequest) -> HttpResponse:
    """Start playing as a guest, then go to the play page (of one campaign if the form says so).

    A campaign value that is not the slug of a published campaign (closed since the page was
    shown, or tampered with) answers 400 with the start form again, saying so and keeping the
    nickname; nothing is created. Sending the form again plays every open campaign.
    """
    nickname = request.POST.get("nickname", "")
    campaign_slug = request.POST.get("campaign", "")
    if campaign_slug and not _campaign_is_playable(campaign_slug):
        return render(
            request,
            "game/start.html",
            {"notice": CAMPAIGN_NOT_OPEN, "nickname": nickname},
            status=400,
        )
    target = (
        reverse("game:play-campaign", kwargs={"slug": campaign_slug})
        if campaign_slug
        else reverse("game:play")
    )
    if request.user.is_authenticated:
        return redirect(target)
    try:
        player = services.player_resolve(user=None, session=request.session)
        if player is None:
            services.nickname_check(nickname=nickname)  # a refused name costs no guest budget
            wait = throttles.guest_creation_wait(request)
            if wait is not None:
                return _guest_limited(request, nickname=nickname, slug=campaign_slug, wait=wait)
            player = services.player_create_guest(
                nickname=nickname, network=throttles.network_key(request)
            )
            request.session[services.SESSION_PLAYER_KEY] = player.pk
        else:
            services.player_rename(player=player, nickname=nickname)
    except ApplicationError as exc:
        campaign = (
            selectors.campaign_playable_list().filter(slug=campaign_slug).first()
            if campaign_slug
            else None
        )
        return render(
            request,
            "game/start.html",
            {"error": exc.message, "nickname": nickname, "campaign": campaign},
            status=400,
        )
    return redirect(target)


def _guest_limited(request: HttpRequest, *, nickname: str, slug: str, wait: float) -> HttpResponse:
    """The start form again (429), saying that this network started too many guests lately."""
    campaign = selectors.campaign_playable_list().filter(slug=slug).first() if slug else None
    response = render(
        request,
        "game/start.html",
        {
            "notice": throttles.guest_limit_message(wait),
            "nickname": nickname,
            "campaign": campaign,
        },
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _campaign_is_playable(slug: str) -> bool:
    try:
        validate_slug(slug)
    except ValidationError:
        return False
    return selectors.campaign_playable_list().filter(slug=slug).exists()


@require_GET
def leaderboard(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period", selectors.Period.ALL)
    if period not in selectors.Period.CHOICES:
        period = selectors.Period.ALL
    campaign = None
    if request.GET.get("campaign"):
        # Only campaigns anyone may see have a leaderboard: draft and closed, unpublished ones 404.
        campaign = get_object_or_404(
            Campaign.objects.listed_publicly(), slug=request.GET["campaign"]
        )
    player = _player(request)
    return render(
        request,
        "game/leaderboard.html",
        {
            "rows": selectors.leaderboard_list(period=period, campaign=campaign, limit=50),
            "period": period,
            "campaign": campaign,
            "campaigns": selectors.campaign_playable_list(),
            "player": player,
            "week_start": selectors.week_start(),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    player = _player(request)
    if player is None:
        return redirect(f"{reverse('account_login')}?next={reverse('game:profile')}")
    error = None
    typed = None  # a refused name stays in the field as typed (whole: nothing is cut)
    if request.method == "POST":
        typed = request.POST.get("nickname", "")
        try:
            services.player_rename(player=player, nickname=typed)
            messages.success(request, "Nickname saved.")
            return redirect("game:profile")
        except ApplicationError as exc:
            error = exc.message
    return render(
        request,
        "game/profile.html",
        {
            "player": player,
            "stats": selectors.player_stats(player=player),
            "history": selectors.player_history(player=player),
            "error": error,
            "nickname": typed if error else None,
        },
        status=400 if error else 200,
    )


@never_cache
@require_GET
def round_summary_page(request: HttpRequest, token: str) -> HttpResponse:
    player = _player(request)
    round = selectors.round_get_for_player(player=player, token=token) if player else None
    if round is None:
        raise Http404("No such round.")
    summary = selectors.round_summary(round=round)
    if summary is None:
        return redirect("game:play")
    return render(request, "game/summary.html", {"round": round, "summary": summary})


@require_GET
def frame(request: HttpRequest, token: str, step: int) -> HttpResponse:
    """The reveal frame of the current step of the requesting player's own round, while it is
    active or waiting for characteristics (the player describes the last frame they saw while
    seeing it).

    Anything else (another player's round, another step, a finished or expired round) is a 404,
    so a frame URL is useless once its step has passed or its round has ended.

    The response names nothing about the item: no file name (Content-Disposition), no ETag or
    Last-Modified, which would be the same for every player of the item and let players
    recognise it; only the per-round URL and the image bytes, salted with a random comment
    (:func:`game.frame_bytes.jpeg_salted`) so that a plain hash or size lookup fails (not a
    defence against stripping the comment or comparing pixels: docs/SECURITY.md).
    """
    if not 0 <= step <= rules.MAX_STEP:
        raise Http404()
    ref = selectors.player_ref(user=request.user, session=request.session)
    name = (
        selectors.round_frame_name(ref=ref, token=token, step=step, now=timezone.now())
        if ref is not None
        else None
    )
    if name is None:
        raise Http404()
    try:
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
    except OSError as exc:  # FileNotFoundError, IsADirectoryError, ...
        raise Http404() from exc
    # salted per response: the stored bytes would be the same for every player of the item
    response = HttpResponse(jpeg_salted(data), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=900"
    response["X-Content-Type-Options"] = "nosniff"
    return response


_PICTURE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}


@never_cache
@require_GET
def round_picture(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    """The full picture (the game image), the cluster-map overlay or the frame guessed from
    (``kind`` "picture", "overlay", "frame") of the requesting player's own finished round.

    A live campaign's media are closed to the public (the answer key), so a round summary shows
    them through here: only the round's player, only once the round is over.
    """
    player = _player(request)
    round = selectors.round_get_for_player(player=player, token=token) if player else None
    name = selectors.round_picture_name(round=round, kind=kind) if round else None
    content_type = _PICTURE_TYPES.get(PurePosixPath(name).suffix.lower()) if name else None
    if content_type is None:
        raise Http404()
    try:
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise Http404() from exc
    # Bytes, not a FileResponse: its Content-Disposition would name the stored file; a JPEG
    # salted as the frames are.
    response = HttpResponse(jpeg_salted(data), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response
