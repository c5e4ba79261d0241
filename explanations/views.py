"""Thin HTML views: read through selectors, render templates."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import selectors
from .health import health_report
from .models import Campaign


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaign_list()
    return render(request, "explanations/home.html", {"campaigns": campaigns})


@require_GET
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("model"), slug=slug)
    images = selectors.campaign_images_with_jobs(campaign=campaign)
    progress = selectors.campaign_progress(campaign=campaign)
    return render(
        request,
        "explanations/campaign_detail.html",
        {"campaign": campaign, "images": images, "progress": progress},
    )


@require_GET
def image_detail(request: HttpRequest, slug: str, image_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("model"), slug=slug)
    image = get_object_or_404(campaign.images, pk=image_id)
    job = selectors.image_current_job(image=image)
    layers = selectors.image_layer_results(image=image)
    return render(
        request,
        "explanations/image_detail.html",
        {"campaign": campaign, "image": image, "job": job, "layers": layers},
    )


@require_GET
def media_file(request: HttpRequest, path: str) -> FileResponse:
    """Serve public media (uploads, model views, overlays). Reveal frames are never served here."""
    clean = PurePosixPath(path)
    if ".." in clean.parts or clean.is_absolute():
        raise Http404()
    if not default_storage.exists(str(clean)):
        raise Http404()
    content_type = mimetypes.guess_type(str(clean))[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(str(clean), "rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400, immutable"
    return response


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report(connection=connection)
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
