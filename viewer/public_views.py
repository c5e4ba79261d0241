"""The pages anyone may open: the home page, a campaign's and an image's results, and the media
files they show. A live campaign's results are its game's answer key: researchers only, until
an admin opens a closed campaign's results (:mod:`explanations.selectors`)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from explanations import selectors
from explanations.models import Campaign


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaign_list_for(user=request.user)
    playing = Campaign.objects.filter(status=Campaign.Status.PUBLISHED).only("name", "slug")
    return render(request, "viewer/public/home.html", {"campaigns": campaigns, "playing": playing})


@require_GET
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = selectors.campaign_get_for_or_404(slug=slug, user=request.user)
    images = selectors.campaign_images_with_jobs(campaign=campaign)
    progress = selectors.campaign_progress(campaign=campaign)
    return render(
        request,
        "viewer/public/campaign.html",
        {"campaign": campaign, "images": images, "progress": progress},
    )


@require_GET
def image_detail(request: HttpRequest, slug: str, image_id: int) -> HttpResponse:
    campaign = selectors.campaign_get_for_or_404(slug=slug, user=request.user)
    image = get_object_or_404(campaign.images, pk=image_id)
    job = selectors.image_current_job(image=image, campaign=campaign)
    layers = selectors.image_layers(image=image, campaign=campaign)
    return render(
        request,
        "viewer/public/image.html",
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
