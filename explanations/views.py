"""Thin HTML views: read through selectors, render templates."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import selectors
from .health import health_details_allowed, health_public, health_report
from .models import Campaign


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaign_list_for(user=request.user)
    playing = Campaign.objects.filter(status=Campaign.Status.PUBLISHED).only("name", "slug")
    return render(request, "explanations/home.html", {"campaigns": campaigns, "playing": playing})


@require_GET
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = selectors.campaign_get_for_or_404(slug=slug, user=request.user)
    images = selectors.campaign_images_with_jobs(campaign=campaign)
    progress = selectors.campaign_progress(campaign=campaign)
    return render(
        request,
        "explanations/campaign_detail.html",
        {"campaign": campaign, "images": images, "progress": progress},
    )


@require_GET
def image_detail(request: HttpRequest, slug: str, image_id: int) -> HttpResponse:
    campaign = selectors.campaign_get_for_or_404(slug=slug, user=request.user)
    image = get_object_or_404(campaign.images, pk=image_id)
    job = selectors.image_current_job(image=image)
    layers = selectors.image_layer_results(image=image)
    return render(
        request,
        "explanations/image_detail.html",
        {"campaign": campaign, "image": image, "job": job, "layers": layers},
    )


# What /media/ serves: the uploaded images (stored as .jpg, .png or .webp), the model views (.png)
# and the overlays (.jpg). Nothing else, whatever is in MEDIA_ROOT.
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}


def _is_stored_file(name: str) -> bool:
    """True for a regular file in the media storage (a folder or a missing name is not)."""
    try:
        return Path(default_storage.path(name)).is_file()
    except NotImplementedError:  # a storage without local paths
        return default_storage.exists(name)
    except (SuspiciousFileOperation, ValueError, OSError):
        return False


@require_GET
def media_file(request: HttpRequest, path: str) -> FileResponse:
    """Serve public media (uploads, model views, overlays). Reveal frames are never served here.

    Only image files are served (:data:`MEDIA_TYPES`, decided by the stored name's extension, which
    the app derives from the decoded format), with ``nosniff`` and a ``sandbox`` policy so that
    even a crafted file can never run as a page of this origin; anything else, a folder
    included, is a 404.
    """
    clean = PurePosixPath(path)
    if ".." in clean.parts or clean.is_absolute() or "\x00" in path:
        raise Http404()
    content_type = MEDIA_TYPES.get(clean.suffix.lower())
    if content_type is None or not _is_stored_file(str(clean)):
        raise Http404()
    # The closed answer key: a live campaign's media reach researchers only (not a shared cache).
    if not selectors.media_visible(name=str(clean), user=request.user):
        raise Http404()
    try:
        handle = default_storage.open(str(clean), "rb")
    except OSError as exc:
        raise Http404() from exc
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, max-age=86400, immutable"
    return response


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when everything is up, else 503. Anonymous callers get ``{"status": …}`` only; staff
    and callers with ``Authorization: Bearer $NETVIZ_HEALTH_TOKEN`` get the details."""
    report = health_report(connection=connection)
    body = report if health_details_allowed(request=request) else health_public(report)
    response = JsonResponse(body, status=200 if report["status"] == "ok" else 503)
    patch_vary_headers(response, ["Authorization", "Cookie"])
    return response
