from django.urls import path

from . import apis

urlpatterns = [
    path("me/", apis.MeApi.as_view(), name="api-game-me"),
    path("guest/", apis.GuestApi.as_view(), name="api-game-guest"),
    path("campaigns/", apis.CampaignListApi.as_view(), name="api-game-campaigns"),
    path("rounds/", apis.RoundStartApi.as_view(), name="api-game-round-start"),
    path("rounds/<str:token>/", apis.RoundDetailApi.as_view(), name="api-game-round"),
    path("rounds/<str:token>/reveal/", apis.RoundRevealApi.as_view(), name="api-game-reveal"),
    path("rounds/<str:token>/guess/", apis.RoundGuessApi.as_view(), name="api-game-guess"),
    path("rounds/<str:token>/resign/", apis.RoundResignApi.as_view(), name="api-game-resign"),
    path(
        "rounds/<str:token>/characteristics/",
        apis.RoundCharacteristicsApi.as_view(),
        name="api-game-characteristics",
    ),
    path("leaderboard/", apis.LeaderboardApi.as_view(), name="api-game-leaderboard"),
]
