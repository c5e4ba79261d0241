from django.urls import path

from . import views

app_name = "game"

urlpatterns = [
    path("", views.home, name="home"),
    path("how-to-play/", views.how_to_play, name="how-to-play"),
    path("play/", views.play, name="play"),
    path("play/<slug:slug>/", views.play, name="play-campaign"),
    path("guest/", views.guest_start, name="guest-start"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("profile/", views.profile, name="profile"),
    path("rounds/<str:token>/", views.round_summary_page, name="round-summary"),
    path("frame/<str:token>/<int:step>.jpg", views.frame, name="frame"),
    path(
        "rounds/<str:token>/<str:kind>/",
        views.round_picture,
        name="round-picture",
    ),
]
