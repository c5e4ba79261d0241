"""Thin HTML views of Deep Reveal, and the frame view (the only way a reveal frame leaves disk)."""

from __future__ import annotations

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from explanations.models import Campaign
from netviz_site.errors import ApplicationError

from . import rules, selectors, services


def _player(request: HttpRequest):
    return services.player_resolve(user=request.user, session=request.session)


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
        {"campaign": campaign, "player": player, "stats": selectors.player_stats(player=player)},
    )


@require_POST
def guest_start(request: HttpRequest) -> HttpResponse:
    campaign_slug = request.POST.get("campaign", "")
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
            player = services.player_create_guest(nickname=request.POST.get("nickname", ""))
            request.session[services.SESSION_PLAYER_KEY] = player.pk
        else:
            services.player_rename(player=player, nickname=request.POST.get("nickname", ""))
    except ApplicationError as exc:
        return render(
            request,
            "game/start.html",
            {"error": exc.message, "nickname": request.POST.get("nickname", "")},
            status=400,
        )
    return redirect(target)


@require_GET
def leaderboard(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period", selectors.Period.ALL)
    if period not in selectors.Period.CHOICES:
        period = selectors.Period.ALL
    campaign = None
    if request.GET.get("campaign"):
        campaign = Campaign.objects.filter(slug=request.GET["campaign"]).first()
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
    if request.method == "POST":
        try:
            services.player_rename(player=player, nickname=request.POST.get("nickname", ""))
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
def frame(request: HttpRequest, token: str, step: int) -> FileResponse:
    """The reveal frame of the current step of the requesting player's own active round.

    Anything else (another player's round, another step, a finished or expired round) is a 404,
    so a frame URL is useless once its step has passed or its round has ended.
    """
    ref = selectors.player_ref(user=request.user, session=request.session)
    name = (
        selectors.round_frame_name(ref=ref, token=token, step=step, now=timezone.now())
        if ref is not None
        else None
    )
    if name is None:
        raise Http404()
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404() from exc
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=900"
    response["X-Content-Type-Options"] = "nosniff"
    return response
