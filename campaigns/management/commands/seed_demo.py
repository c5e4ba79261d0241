"""Create (idempotently) the demo campaigns from real photos that ship with installed packages
(campaigns/demo_photos.py), with the built-in efficientnet_lite0, and compute their
explanations in-process.

    python manage.py seed_demo [--mode paper|fast] [--limit N] [--no-compute]

Every demo picture has a true class; the campaigns explain the TRUE class (target mode "true"),
so the game's answer is what the picture shows, and the summary says when the network got it
wrong. Two campaigns (everyday photos, details), 12 pictures in all: a player plays 12 rounds,
and is offered the other campaign when they have played every picture of one.

A demo campaign left by an earlier version (same name, other classes or target mode) is
renamed and closed, and the current one is created beside it.
"""

from __future__ import annotations

import io

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from PIL import Image
from tqdm import tqdm

from campaigns.demo_photos import CAMPAIGNS, DemoCampaign, campaign_photos
from core.errors import ApplicationError
from explanations.models import Campaign, ExplanationJob
from explanations.services import (
    campaign_create,
    campaign_image_add,
    explanation_job_create,
    explanation_job_run,
    model_spec_get_or_create_builtin,
    model_spec_validated,
)


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _current(campaign: Campaign, demo: DemoCampaign) -> bool:
    return campaign.target_mode == Campaign.TargetMode.TRUE and list(campaign.classes) == list(
        demo.classes
    )


class Command(BaseCommand):
    help = "Create the demo campaigns (real photos with true classes, efficientnet_lite0)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--mode", default="paper", choices=["paper", "fast"])
        parser.add_argument(
            "--limit", type=int, default=None, help="Use only the first N pictures."
        )
        parser.add_argument(
            "--no-compute", action="store_true", help="Only enqueue the jobs for the workers."
        )

    def handle(self, *args, **opts) -> None:
        budget = opts["limit"]
        campaigns: list[Campaign] = []
        try:
            model = model_spec_validated(
                spec=model_spec_get_or_create_builtin(name="efficientnet_lite0", enqueue=False)
            )
            for demo in CAMPAIGNS:
                photos = campaign_photos(demo)
                if budget is not None:
                    photos, budget = photos[:budget], max(0, budget - len(photos))
                if not photos:
                    continue
                campaign = self._campaign(demo, model=model, mode=opts["mode"])
                for photo, array in photos:
                    image = campaign_image_add(
                        campaign=campaign,
                        content=png_bytes(array),
                        original_name=photo.name,
                        true_class=photo.true_class,
                        enqueue=opts["no_compute"],
                    )
                    if image.true_class != photo.true_class:
                        image.true_class = photo.true_class
                        image.save(update_fields=["true_class"])
                campaigns.append(campaign)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if opts["no_compute"]:
            self.stdout.write("jobs enqueued for the workers")
            return
        jobs = [
            explanation_job_create(image=image)
            for campaign in campaigns
            for image in campaign.images.all()
        ]
        todo = [job for job in jobs if job.status != ExplanationJob.Status.DONE]
        outcomes: dict[str, int] = {}
        for job in tqdm(todo, desc="explaining", unit="image", disable=not todo):
            outcome = explanation_job_run(job_id=job.pk)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for campaign in campaigns:
            self._publish(campaign, outcomes)

    def _campaign(self, demo: DemoCampaign, *, model, mode: str) -> Campaign:
        campaign = Campaign.objects.filter(name=demo.name).first()
        if campaign is not None and not _current(campaign, demo):
            campaign.name = f"{demo.name} (before {campaign.created_at:%Y-%m-%d}, {campaign.pk})"
            campaign.slug = f"{campaign.slug}-old-{campaign.pk}"[:200]
            campaign.status = Campaign.Status.CLOSED
            campaign.save(update_fields=["name", "slug", "status"])
            self.stdout.write(f"closed the earlier demo campaign, now '{campaign.name}'")
            campaign = None
        if campaign is None:
            campaign = campaign_create(
                name=demo.name,
                model=model,
                classes=demo.classes,
                engine_params={"mode": mode},
                target_mode=Campaign.TargetMode.TRUE,
                description=demo.description,
            )
            self.stdout.write(f"created campaign '{campaign.name}'")
        return campaign

    def _publish(self, campaign: Campaign, outcomes: dict[str, int]) -> None:
        total = campaign.images.count()
        done = ExplanationJob.objects.current_for(campaign).done().count()
        self.stdout.write(
            f"demo campaign '{campaign.slug}': {done}/{total} images explained"
            + (f" ({outcomes})" if outcomes else " (nothing to do)")
        )
        if campaign.status == Campaign.Status.DRAFT and done == total:
            campaign.status = Campaign.Status.PUBLISHED  # playable in Deep Reveal right away
            campaign.save(update_fields=["status"])
            self.stdout.write(f"published '{campaign.name}': play it at /game/")
