"""/viewer/<campaign>/validation/ (namespace "validation"): the validation's pages."""

from django.urls import path

from . import validation_views as views

app_name = "validation"

urlpatterns = [
    path("<slug:slug>/validation/", views.validation_page, name="page"),
    path("<slug:slug>/validation/run/", views.validation_start, name="start"),
    path(
        "<slug:slug>/validation/classes/<slug:class_slug>/",
        views.validation_page,
        name="page-class",
    ),
    path(
        "<slug:slug>/validation/classes/<slug:class_slug>/run/",
        views.validation_start,
        name="start-class",
    ),
]
