"""The researcher viewer (/viewer/): campaign → class → image → layer → cluster or group.

Thin views over :mod:`viewer.cards` (local explanations) and :mod:`viewer.selectors` (global
explanations, search). Every view needs the researcher role; reveal frames and
rendered group images are served only here.
"""

from __future__ import annotations

import json
import mimetypes
from collections import defaultdict

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.access import researcher_required
from explanations.models import Campaign, CampaignImage
from explanations.selectors import (
    campaign_class_get,
    campaign_class_list,
    campaign_get,
    campaign_list,
    class_image_list,
    class_slug,
    image_get,
)

from . import cards, charts, pictures, selectors


def _campaign(slug: str) -> Campaign:
    campaign = campaign_get(slug=slug)
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _image(campaign: Campaign, image_id: int) -> CampaignImage:
    image = image_get(campaign=campaign, image_id=image_id)
    if image is None:
        raise Http404("No such image in this campaign.")
    return image


def _view_param(request: HttpRequest, default: str = "unmerged") -> str:
    view = request.GET.get("view") or default
    return view if view in cards.VIEWS else default


# --- campaign, class, search ----------------------------------------------------------------------


@researcher_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "viewer/index.html", {"campaigns": campaign_list()})


@researcher_required
@require_GET
def campaign(request: HttpRequest, slug: str) -> HttpResponse:
    c = _campaign(slug)
    return render(
        request,
        "viewer/campaign.html",
        {
            "campaign": c,
            "classes": campaign_class_list(campaign=c),
            "processing": selectors.campaign_processing_state(campaign=c),
            "suggestions": selectors.campaign_label_suggestions(campaign=c, limit=100),
        },
    )


def class_context(*, campaign: Campaign, class_name: str, normalised: bool) -> dict:
    """Global explanations of a class (METHOD §8): per layer the top labels, and trajectories."""
    rows = list(
        selectors.class_global_labels(
            campaign=campaign, class_name=class_name, normalised=normalised
        )
    )
    example_ids = [cid for g in rows for ex in g.examples[:3] for cid in ex.get("clusters", [])[:8]]
    clusters = selectors.clusters_by_ids(ids=example_ids)
    by_layer: dict[int, list] = defaultdict(list)
    for g in rows:
        examples = []
        for ex in g.examples[:3]:
            members = [clusters[c] for c in ex.get("clusters", []) if c in clusters]
            if not members:
                continue
            first = members[0]
            position = first.layer_result.position
            base = cards.layer_url(campaign.slug, first.image_id, position)
            indexes = sorted(m.index for m in members)
            url = (
                f"{base}clusters/{indexes[0]}/"
                if len(indexes) == 1
                else f"{base}groups/{'-'.join(map(str, indexes))}/?view=merged"
            )
            examples.append(
                {
                    "url": url,
                    "overlay_url": cards.media_url(first.overlay.name),
                    "image_name": first.image.original_name,
                }
            )
        by_layer[g.layer_position].append({"label": g, "examples": examples})
    layers = []
    for position, items in sorted(by_layer.items()):
        labels = [it["label"] for it in items]
        value = (lambda g: g.normalised) if normalised else (lambda g: g.total)
        layers.append(
            {
                "position": position,
                "layer": labels[0].layer,
                "items": items,
                "chart": charts.weighted_bars(
                    [(g.label, value(g), g.mean_weight) for g in labels],
                    title=f"Top labels of {class_name} at {labels[0].layer}",
                ),
            }
        )
    trends = list(selectors.class_label_trends(campaign=campaign, class_name=class_name))
    trend_charts = []
    for direction, title in (("rising", "Rising with depth"), ("fading", "Fading with depth")):
        chosen = [t for t in trends if t.direction == direction][:6]
        if chosen:
            x_labels = chosen[0].layers
            trend_charts.append(
                {
                    "direction": direction,
                    "title": title,
                    "trends": chosen,
                    "chart": charts.line_chart(
                        x_labels,
                        [(t.label, t.values) for t in chosen],
                        title=f"{title}: mean label score per layer for {class_name}",
                    ),
                }
            )
    return {"global_layers": layers, "trend_charts": trend_charts}


@researcher_required
@require_GET
def class_page(request: HttpRequest, slug: str, class_slug_: str) -> HttpResponse:
    c = _campaign(slug)
    summary = campaign_class_get(campaign=c, slug=class_slug_)
    if summary is None:
        raise Http404("No such class in this campaign.")
    normalised = request.GET.get("rank") == "normalised"
    images = list(class_image_list(campaign=c, class_name=summary.name))
    labelled = selectors.campaign_labelled_images(campaign=c)
    return render(
        request,
        "viewer/class.html",
        {
            "campaign": c,
            "cls": summary,
            "images": [(i, labelled.get(i.pk, 0)) for i in images],
            "normalised": normalised,
            **class_context(campaign=c, class_name=summary.name, normalised=normalised),
        },
    )


@researcher_required
@require_GET
def search(request: HttpRequest, slug: str) -> HttpResponse:
    c = _campaign(slug)
    query = request.GET.get("q", "").strip()[:100]
    hits = selectors.label_search(campaign=c, query=query) if query else []
    return render(
        request,
        "viewer/search.html",
        {"campaign": c, "query": query, "hits": [search_hit(c, h) for h in hits]},
    )


def search_hit(campaign: Campaign, hit: selectors.SearchHit) -> dict:
    """One search result as the page and the API show it."""
    cluster = hit.cluster
    position = cluster.layer_result.position
    return {
        "hit": hit,
        "image": cluster.image,
        "class_name": cluster.image.class_name,
        "class_slug": class_slug(cluster.image.class_name),
        "layer": cluster.layer_result.layer,
        "position": position,
        "index": cluster.index,
        "weight": cluster.weight,
        "overlay_url": cards.media_url(cluster.overlay.name),
        "url": f"{cards.layer_url(campaign.slug, cluster.image_id, position)}clusters/{cluster.index}/",
    }


# --- image, layer, cluster, group ------------------------------------------------------------------


def _image_page(
    request: HttpRequest,
    *,
    slug: str,
    image_id: int,
    position: int | None = None,
    cluster_index: int | None = None,
    members: str = "",
    default_view: str = "unmerged",
) -> HttpResponse:
    c = _campaign(slug)
    image = _image(c, image_id)
    view = cards.image_view_build(campaign=c, image=image, view=_view_param(request, default_view))
    focus = None
    if position is not None:
        focus = view.column(position)
        if focus is None:
            raise Http404("This image has no such explained layer.")
    detail, missing = None, ""
    if cluster_index is not None or members:
        try:
            detail = cards.detail_build(
                image_view=view, position=position, cluster_index=cluster_index, members=members
            )
        except LookupError as exc:
            missing = str(exc)
    cls = image.class_name
    response = render(
        request,
        "viewer/image.html",
        {
            "campaign": c,
            "image": image,
            "iv": view,
            "focus": focus,
            "detail": detail,
            "missing": missing,
            "cls": cls,
            "cls_slug": class_slug(cls),
            "views": [(v, cards.VIEW_NAMES[v]) for v in cards.VIEWS],
            "here": request.path,
        },
    )
    if missing:
        response.status_code = 404
    return response


@researcher_required
@require_GET
def image(request: HttpRequest, slug: str, image_id: int) -> HttpResponse:
    return _image_page(request, slug=slug, image_id=image_id)


@researcher_required
@require_GET
def layer(request: HttpRequest, slug: str, image_id: int, position: int) -> HttpResponse:
    return _image_page(request, slug=slug, image_id=image_id, position=position)


@researcher_required
@require_GET
def cluster(request: HttpRequest, slug: str, image_id: int, position: int, index: int):
    return _image_page(
        request, slug=slug, image_id=image_id, position=position, cluster_index=index
    )


@researcher_required
@require_GET
def group(request: HttpRequest, slug: str, image_id: int, position: int, members: str):
    return _image_page(
        request,
        slug=slug,
        image_id=image_id,
        position=position,
        members=members,
        default_view="full" if members == "all" else "merged",
    )


def _detail(slug: str, image_id: int, position: int, index: int | None, members: str):
    c = _campaign(slug)
    img = _image(c, image_id)
    view = "unmerged" if index is not None else ("full" if members == "all" else "merged")
    iv = cards.image_view_build(campaign=c, image=img, view=view)
    try:
        detail = cards.detail_build(
            image_view=iv, position=position, cluster_index=index, members=members
        )
    except LookupError as exc:
        raise Http404(str(exc)) from exc
    return c, img, detail


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _card_filename(c: Campaign, img: CampaignImage, card: cards.Card, ext: str) -> str:
    what = (
        "full"
        if card.kind == "full"
        else ("group-" + card.members_slug if card.is_group else f"cluster-{card.indexes[0]}")
    )
    return f"{c.slug}-image{img.pk}-layer{card.layer_position}-{what}.{ext}"


@researcher_required
@require_GET
def card_download(
    request: HttpRequest,
    slug: str,
    image_id: int,
    position: int,
    fmt: str,
    index: int | None = None,
    members: str = "",
) -> HttpResponse:
    if fmt not in ("png", "json"):
        raise Http404("Cards download as card.png or card.json.")
    c, img, detail = _detail(slug, image_id, position, index, members)
    card = detail.card
    if fmt == "json":
        data = cards.card_data(card, campaign=c, image=img)
        return _download(
            json.dumps(data, indent=2).encode(),
            "application/json",
            _card_filename(c, img, card, "json"),
        )
    try:
        content = pictures.card_png(card=card, campaign=c, image=img)
    except (LookupError, FileNotFoundError) as exc:
        raise Http404(str(exc)) from exc
    return _download(content, "image/png", _card_filename(c, img, card, "png"))


def _file(name: str) -> FileResponse:
    if not name or not default_storage.exists(name):
        raise Http404("No such file.")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _bytes(content: bytes, content_type: str = "image/jpeg") -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@researcher_required
@require_GET
def cluster_frame(
    request: HttpRequest, slug: str, image_id: int, position: int, index: int, step: int
):
    """A reveal frame of a cluster: researchers may see them (players only through a round)."""
    _, _, detail = _detail(slug, image_id, position, index, "")
    frames = detail.card.frames
    if not 0 <= step < len(frames):
        raise Http404("No such reveal step.")
    return _file(frames[step])


@researcher_required
@require_GET
def group_overlay(request: HttpRequest, slug: str, image_id: int, position: int, members: str):
    c, img, detail = _detail(slug, image_id, position, None, members)
    try:
        return _bytes(pictures.group_overlay_jpeg(card=detail.card, campaign=c, image=img))
    except LookupError as exc:
        raise Http404(str(exc)) from exc


@researcher_required
@require_GET
def group_frame(
    request: HttpRequest, slug: str, image_id: int, position: int, members: str, step: int
):
    c, img, detail = _detail(slug, image_id, position, None, members)
    try:
        content = pictures.group_frame_jpeg(card=detail.card, campaign=c, image=img, step=step)
    except LookupError as exc:
        raise Http404(str(exc)) from exc
    return _bytes(content)
