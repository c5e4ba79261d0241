from django.urls import path

from processing import verification_apis

from . import apis

urlpatterns = [
    path("me/", apis.MeApi.as_view(), name="api-game-me"),
    path("me/history/", apis.MeHistoryApi.as_view(), name="api-game-me-history"),
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
    path(
        "rounds/<str:token>/verification/",
        verification_apis.VerificationQuestionApi.as_view(),
        name="api-game-verification",
    ),
    path(
        "verification/<int:question_id>/",
        verification_apis.VerificationAnswerApi.as_view(),
        name="api-game-verification-answer",
    ),
    path("leaderboard/", apis.LeaderboardApi.as_view(), name="api-game-leaderboard"),
]
