"""Viewer pages of the validation (/viewer/<campaign>/validation/): researchers read, campaign
admins start a run (enqueued on commit). The records and the run are the validation app's."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.access import campaign_admin_required, researcher_required
from core.errors import ApplicationError
from core.roles import user_is_campaign_admin
from explanations.selectors import campaign_class_get, campaign_class_list, campaign_get
from validation import selectors
from validation.services import validation_run_create, validation_run_enqueue

from . import charts


def _campaign(slug: str):
    campaign = campaign_get(slug=slug)
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _class(campaign, class_slug: str | None):
    if class_slug is None:
        return None
    summary = campaign_class_get(campaign=campaign, slug=class_slug)
    if summary is None:
        raise Http404("No such class in this campaign.")
    return summary


def _layer_chart(rows: list, class_name: str):
    if not rows:
        return ""
    series = [
        ("deletion AUC (clusters)", [r.mean_deletion_auc for r in rows]),
        ("deletion AUC (Grad-CAM)", [r.gradcam_deletion_auc for r in rows]),
        ("insertion AUC (clusters)", [r.mean_insertion_auc for r in rows]),
        ("insertion AUC (Grad-CAM)", [r.gradcam_insertion_auc for r in rows]),
        ("correct share (human)", [r.pooled_correct_share for r in rows]),
    ]
    return charts.line_chart(
        [r.layer for r in rows],
        series,
        title=f"Faithfulness and human metric per layer for {class_name}",
        y_label="value",
    )


def _context(campaign, cls) -> dict:
    class_name = cls.name if cls else None
    run = selectors.validation_run_latest(campaign=campaign, class_name=class_name)
    runs = list(selectors.validation_run_list(campaign=campaign, class_name=class_name)[:10])
    classes = []
    if run is not None:
        tcav = list(selectors.tcav_score_list(run=run, class_name=class_name))
        faith = list(selectors.faithfulness_list(run=run, class_name=class_name))
        human = {
            h.cluster_id: h for h in selectors.human_metric_list(run=run, class_name=class_name)
        }
        layers = list(selectors.layer_summary_list(run=run, class_name=class_name))
        by_class: dict[str, dict] = defaultdict(
            lambda: {"tcav": defaultdict(list), "faith": [], "layers": []}
        )
        for t in tcav:
            by_class[t.class_name]["tcav"][t.layer].append(t)
        for f in faith:
            by_class[f.class_name]["faith"].append((f, human.get(f.cluster_id)))
        for s in layers:
            by_class[s.class_name]["layers"].append(s)
        for name, data in sorted(by_class.items()):
            tcav_layers = [
                {
                    "layer": layer,
                    "rows": rows,
                    "chart": charts.label_bars(
                        [(r.label, r.score) for r in rows],
                        max_value=1.0,
                        title=f"TCAV scores at {layer}",
                        width=320,
                        label_chars=24,
                    ),
                }
                for layer, rows in data["tcav"].items()
            ]
            classes.append(
                {
                    "name": name,
                    "tcav_layers": tcav_layers,
                    "faith": data["faith"],
                    "layers": data["layers"],
                    "chart": _layer_chart(data["layers"], name),
                }
            )
    return {"run": run, "runs": runs, "classes": classes}


@researcher_required
@require_GET
def validation_page(request: HttpRequest, slug: str, class_slug: str | None = None):
    campaign = _campaign(slug)
    cls = _class(campaign, class_slug)
    return render(
        request,
        "viewer/validation.html",
        {
            "campaign": campaign,
            "cls": cls,
            "all_classes": campaign_class_list(campaign=campaign),
            "can_run": user_is_campaign_admin(request.user),
            **_context(campaign, cls),
        },
    )


@campaign_admin_required
@require_POST
def validation_start(request: HttpRequest, slug: str, class_slug: str | None = None):
    campaign = _campaign(slug)
    cls = _class(campaign, class_slug)
    try:
        with transaction.atomic():
            run = validation_run_create(
                campaign=campaign, class_name=cls.name if cls else "", user=request.user
            )
            validation_run_enqueue(run=run)
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Validation run {run.pk} queued.")
    if cls:
        return redirect(reverse("validation:page-class", args=[slug, cls.slug]))
    return redirect(reverse("validation:page", args=[slug]))
