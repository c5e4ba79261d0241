"""Campaign administration pages (/manage/): thin views over the selectors and services.

Every view needs the campaign-admin role (:func:`core.access.campaign_admin_required`).
Actions are POST forms that redirect back (post/redirect/get); a service's ApplicationError is
shown as a message on the page it came from.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import roles
from core.access import campaign_admin_required
from core.errors import ApplicationError
from explanations import services as explanation_services
from explanations.models import Campaign
from explanations.selectors import campaign_get, campaign_list
from game.models import Characteristic, Player

from . import integration, selectors, services
from .forms import (
    ArchiveUploadForm,
    CampaignCreateForm,
    CsvUploadForm,
    ImageUploadForm,
    LeakControlForm,
    ModelUploadForm,
)
from .upload_handlers import (
    archive_bytes,
    csv_bytes,
    image_bytes,
    model_bytes,
    upload_errors_check,
    upload_limits,
)

REPORT_KEY = "netviz_manage_import_report"
MAX_REPORTED_SKIPS = 200


def _campaign(slug: str) -> Campaign:
    campaign = campaign_get(slug=slug)
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _dashboard(campaign: Campaign, anchor: str = ""):
    url = reverse("explanations:manage-campaign", args=[campaign.slug])
    return redirect(url + (f"#{anchor}" if anchor else ""))


def _error(request: HttpRequest, exc: ApplicationError) -> None:
    messages.error(request, exc.message)


def _form_errors(request: HttpRequest, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label or field}: {error}" if field != "__all__" else error)


# --- index and models ----------------------------------------------------------------------------


@campaign_admin_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "manage/index.html",
        {
            "campaigns": campaign_list(),
            "models": selectors.model_spec_list(),
        },
    )


def _uploads_refused(request: HttpRequest) -> ApplicationError | None:
    """The error for files dropped while streaming for being over their limit (None: none)."""
    try:
        upload_errors_check(request)
    except ApplicationError as exc:
        return exc
    return None


@upload_limits(weights=model_bytes, class_names=csv_bytes)
@campaign_admin_required
@require_http_methods(["GET", "POST"])
def model_new(request: HttpRequest) -> HttpResponse:
    form = ModelUploadForm(
        request.POST or None,
        request.FILES or None,
        torchscript=roles.user_may_upload_torchscript(request.user),
    )
    refused = _uploads_refused(request) if request.method == "POST" else None
    if refused is not None:
        form.add_error(None, refused.message)
    elif request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if d["kind"] in ("builtin", "torchvision") and not d.get("weights"):
                spec = explanation_services.model_spec_get_or_create_builtin(name=d["name"])
            else:
                spec = explanation_services.model_spec_create(
                    name=d["name"],
                    kind=d["kind"],
                    architecture=d.get("architecture") or "",
                    display_name=d["name"],
                    weights=(d["weights"].name, d["weights"].read()) if d.get("weights") else None,
                    class_names=(
                        (d["class_names"].name, d["class_names"].read())
                        if d.get("class_names")
                        else None
                    ),
                    uploaded_by=request.user,
                )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if spec.status == spec.Status.DONE:  # a built-in model registered before
                return redirect(reverse("explanations:manage-campaign-new") + f"?model={spec.name}")
            messages.success(
                request, f"Model '{spec.name}' registered: a worker now loads it to check it."
            )
            return redirect("explanations:manage-model", name=spec.name)
    return render(
        request,
        "manage/model_new.html",
        {"form": form, "torchscript": roles.user_may_upload_torchscript(request.user)},
    )


@campaign_admin_required
@require_GET
def model_detail(request: HttpRequest, name: str) -> HttpResponse:
    """A model and the state of its validation (the page follows it while it runs)."""
    spec = selectors.model_spec_get(name=name)
    if spec is None:
        raise Http404("No such model.")
    return render(request, "manage/model.html", {"spec": spec})


# --- campaigns -----------------------------------------------------------------------------------


@campaign_admin_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    model_name = request.GET.get("model") or request.POST.get("model") or ""
    model = selectors.model_spec_get(name=model_name) if model_name else None
    models = selectors.model_spec_list(usable=True)
    if model is None or model.status != model.Status.DONE:
        return render(
            request,
            "manage/campaign_new.html",
            {"models": models, "model": None, "form": None, "unusable": model},
        )
    form = CampaignCreateForm(request.POST or None, model=model)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            aliases = services.aliases_parse(
                text=d.get("aliases") or "", classes=list(model.class_names)
            )
            campaign = explanation_services.campaign_create(
                name=d["name"],
                description=d.get("description") or "",
                model=model,
                classes=d["classes"],
                aliases=aliases,
                explained_layers=d["explained_layers"],
                engine_params=form.engine_params(),
                target_mode=d["target_mode"],
                target_rounds=d["target_rounds"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Campaign '{campaign.name}' created. Now add images.")
            return _dashboard(campaign, "add-images")
    return render(
        request, "manage/campaign_new.html", {"models": models, "model": model, "form": form}
    )


@campaign_admin_required
@require_GET
def campaign_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(slug)
    classes = services.campaign_classes(campaign)
    detail = selectors.campaign_progress_detail(campaign=campaign)
    return render(
        request,
        "manage/campaign.html",
        {
            "campaign": campaign,
            "detail": detail,
            "progress": detail.overall,
            "class_counts": selectors.campaign_class_counts(campaign=campaign),
            "image_form": ImageUploadForm(classes=classes),
            "archive_form": ArchiveUploadForm(),
            "csv_form": CsvUploadForm(),
            "report": request.session.pop(REPORT_KEY, None),
            "export": integration.export_latest(campaign=campaign),
            "leak_form": LeakControlForm(
                initial={
                    "languages": ", ".join(campaign.languages or ["en"]),
                    "forbidden_terms": services.forbidden_terms_text(campaign=campaign),
                }
            ),
        },
    )


@campaign_admin_required
@require_POST
def leak_control(request: HttpRequest, slug: str) -> HttpResponse:
    """Save the accepted languages and forbidden terms (every error shown, nothing saved)."""
    campaign = _campaign(slug)
    form = LeakControlForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _dashboard(campaign, "leak-control")
    d = form.cleaned_data
    try:
        terms = services.forbidden_terms_parse(
            text=d.get("forbidden_terms") or "", classes=services.campaign_classes(campaign)
        )
        campaign = services.campaign_leak_control_set(
            campaign=campaign, forbidden_terms=terms, languages=d["languages"]
        )
    except ApplicationError as exc:
        for error in exc.extra.get("errors") or [exc.message]:
            messages.error(request, error)
    else:
        n = sum(len(t) for by_lang in campaign.forbidden_terms.values() for t in by_lang.values())
        messages.success(
            request,
            f"Leak control saved: {n} forbidden term(s); languages "
            f"{', '.join(campaign.languages)}.",
        )
    return _dashboard(campaign, "leak-control")


def _save_report(request: HttpRequest, report: services.ImportReport, source: str) -> None:
    request.session[REPORT_KEY] = {
        "source": source,
        "added": len(report.added),
        "class_counts": report.class_counts,
        "folder_classes": {k: v for k, v in report.folder_classes.items() if k != v},
        "skipped": [
            {"name": s.name, "reason": s.reason} for s in report.skipped[:MAX_REPORTED_SKIPS]
        ],
        "n_skipped": len(report.skipped),
    }


@upload_limits(image=image_bytes)
@campaign_admin_required
@require_POST
def image_add(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(slug)
    refused = _uploads_refused(request)
    if refused is not None:
        _error(request, refused)
        return _dashboard(campaign, "add-images")
    form = ImageUploadForm(request.POST, request.FILES, classes=services.campaign_classes(campaign))
    if not form.is_valid():
        _form_errors(request, form)
        return _dashboard(campaign, "add-images")
    upload = form.cleaned_data["image"]
    try:
        image = services.campaign_image_upload(
            campaign=campaign,
            content=upload.read(),
            original_name=upload.name,
            true_class=form.cleaned_data["true_class"],
            enqueue=form.cleaned_data["compute"],
        )
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(request, f"Added '{image.original_name}' ({image.true_class}).")
    return _dashboard(campaign, "add-images")


@upload_limits(archive=archive_bytes)
@campaign_admin_required
@require_POST
def archive_add(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(slug)
    refused = _uploads_refused(request)
    if refused is not None:
        _error(request, refused)
        return _dashboard(campaign, "add-images")
    form = ArchiveUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        _form_errors(request, form)
        return _dashboard(campaign, "add-images")
    try:
        report = services.campaign_archive_import(
            campaign=campaign,
            archive=form.cleaned_data["archive"],
            enqueue=form.cleaned_data["compute"],
        )
    except ApplicationError as exc:
        _error(request, exc)
    else:
        _save_report(request, report, form.cleaned_data["archive"].name)
        messages.success(request, f"Added {len(report.added)} image(s) from the archive.")
    return _dashboard(campaign, "add-images")


@upload_limits(csv_file=csv_bytes, files=archive_bytes)
@campaign_admin_required
@require_POST
def csv_add(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(slug)
    refused = _uploads_refused(request)
    if refused is not None:
        _error(request, refused)
        return _dashboard(campaign, "add-images")
    form = CsvUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        _form_errors(request, form)
        return _dashboard(campaign, "add-images")
    try:
        report = services.campaign_csv_import(
            campaign=campaign,
            csv_content=form.cleaned_data["csv_file"].read(),
            archive=form.cleaned_data["files"],
            enqueue=form.cleaned_data["compute"],
        )
    except ApplicationError as exc:
        _error(request, exc)
    else:
        _save_report(request, report, form.cleaned_data["csv_file"].name)
        messages.success(request, f"Added {len(report.added)} image(s) from the CSV.")
    return _dashboard(campaign, "add-images")


@campaign_admin_required
@require_POST
def compute(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(slug)
    try:
        n = services.campaign_compute_start(campaign=campaign)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(request, f"{n} image(s) sent to the workers." if n else "Nothing to do.")
    return _dashboard(campaign, "progress")


@campaign_admin_required
@require_POST
def retry_failed(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(slug)
    n = services.campaign_failed_retry(campaign=campaign)
    messages.success(request, f"{n} failed job(s) sent to the workers again.")
    return _dashboard(campaign, "progress")


@campaign_admin_required
@require_POST
def job_retry(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    campaign = _campaign(slug)
    try:
        job = services.campaign_job_retry(campaign=campaign, job_id=job_id)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(request, f"Job {job.pk} sent to the workers again.")
    return _dashboard(campaign, "progress")


@campaign_admin_required
@require_POST
def status_change(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(slug)
    try:
        campaign = services.campaign_status_change(
            campaign=campaign, action=request.POST.get("action", "")
        )
    except ApplicationError as exc:
        _error(request, exc)
    else:
        action = request.POST.get("action", "")
        if action in services.RESULTS_ACTIONS:
            messages.success(
                request,
                "Its results are now public: anyone can browse its pictures, explanations and "
                "labels."
                if campaign.results_public
                else "Its results are hidden again: researchers and admins only.",
            )
        else:
            messages.success(
                request, f"The campaign is now {campaign.get_status_display().lower()}."
            )
    return _dashboard(campaign)


# --- export ------------------------------------------------------------------------------------


@campaign_admin_required
@require_POST
def export_start(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(slug)
    try:
        integration.export_start(campaign=campaign, user=request.user)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(request, "Export started: the download link appears here when ready.")
    return _dashboard(campaign, "export")


# --- moderation ----------------------------------------------------------------------------------


@campaign_admin_required
@require_GET
def moderation(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(slug)
    query = request.GET.get("q", "").strip()[:100]
    shown = request.GET.get("show", "all")
    hidden = {"hidden": True, "visible": False}.get(shown)
    return render(
        request,
        "manage/moderation.html",
        {
            "campaign": campaign,
            "query": query,
            "show": shown,
            "characteristics": selectors.characteristic_list_for_campaign(
                campaign=campaign, query=query, hidden=hidden
            ),
            "players": selectors.player_list_for_campaign(campaign=campaign, query=query),
            "trust_min": selectors.trust_min_counted(),
        },
    )


def _back(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    url = reverse("explanations:manage-moderation", args=[campaign.slug])
    query = request.POST.get("return_query", "")
    return redirect(url + (f"?{query}" if query and "\n" not in query else ""))


@campaign_admin_required
@require_POST
def characteristic_hide(request: HttpRequest, slug: str, characteristic_id: int) -> HttpResponse:
    campaign = _campaign(slug)
    characteristic = get_object_or_404(
        Characteristic, pk=characteristic_id, round__campaign=campaign
    )
    hidden = request.POST.get("hidden", "1") == "1"
    try:
        services.characteristic_set_hidden(characteristic=characteristic, hidden=hidden)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(
            request, f"'{characteristic.text}' is {'hidden' if hidden else 'visible again'}."
        )
    return _back(request, campaign)


@campaign_admin_required
@require_POST
def player_block(request: HttpRequest, slug: str, player_id: int) -> HttpResponse:
    campaign = _campaign(slug)
    player = get_object_or_404(Player.objects.select_related("user"), pk=player_id)
    blocked = request.POST.get("blocked", "1") == "1"
    try:
        services.player_set_blocked(player=player, blocked=blocked)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(
            request, f"Player '{player.nickname}' is {'blocked' if blocked else 'unblocked'}."
        )
    return _back(request, campaign)


@campaign_admin_required
@require_POST
def player_trust(request: HttpRequest, slug: str, player_id: int) -> HttpResponse:
    """Set the player's trust override (0 to 1), or clear it ("clear", or an empty value)."""
    campaign = _campaign(slug)
    player = get_object_or_404(
        Player.objects.filter(rounds__campaign=campaign).distinct(), pk=player_id
    )
    value = None if request.POST.get("clear") else request.POST.get("trust", "")
    try:
        services.player_set_trust_override(player=player, value=value)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            f"Trust of '{player.nickname}' set to {player.trust_override:.2f}."
            if player.trust_override is not None
            else f"Trust of '{player.nickname}' is computed again ({player.trust:.2f}).",
        )
    return _back(request, campaign)
