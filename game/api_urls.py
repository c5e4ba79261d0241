from django.urls import path

from .apis import leaderboards, players, rounds

urlpatterns = [
    path("me/", players.MeApi.as_view(), name="api-game-me"),
    path("me/history/", players.MeHistoryApi.as_view(), name="api-game-me-history"),
    path("guest/", players.GuestApi.as_view(), name="api-game-guest"),
    path("campaigns/", players.CampaignListApi.as_view(), name="api-game-campaigns"),
    path("rounds/", rounds.RoundStartApi.as_view(), name="api-game-round-start"),
    path("rounds/<str:token>/", rounds.RoundDetailApi.as_view(), name="api-game-round"),
    path("rounds/<str:token>/reveal/", rounds.RoundRevealApi.as_view(), name="api-game-reveal"),
    path("rounds/<str:token>/guess/", rounds.RoundGuessApi.as_view(), name="api-game-guess"),
    path("rounds/<str:token>/resign/", rounds.RoundResignApi.as_view(), name="api-game-resign"),
    path(
        "rounds/<str:token>/characteristics/",
        rounds.RoundCharacteristicsApi.as_view(),
        name="api-game-characteristics",
    ),
    path("leaderboard/", leaderboards.LeaderboardApi.as_view(), name="api-game-leaderboard"),
]
