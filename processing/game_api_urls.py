"""/api/game/ endpoints served by processing: the players' verification questions (issue 12).

Mounted next to ``game.api_urls`` at the same prefix (``netviz_site/urls.py``), so that the game
app never imports processing (the import-linter layers contract).
"""

from django.urls import path

from .apis import verification

urlpatterns = [
    path(
        "rounds/<str:token>/verification/",
        verification.VerificationQuestionApi.as_view(),
        name="api-game-verification",
    ),
    path(
        "verification/<int:question_id>/",
        verification.VerificationAnswerApi.as_view(),
        name="api-game-verification-answer",
    ),
]
