"""Create (idempotently) the demo campaign from photos that ship with scikit-image and
scikit-learn, with the built-in efficientnet_lite0, and compute its explanations in-process.

    python manage.py seed_demo [--mode paper|fast] [--limit N] [--no-compute]
"""

from __future__ import annotations

import io

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from PIL import Image
from tqdm import tqdm

from explanations.models import Campaign, ExplanationJob
from explanations.services import (
    campaign_create,
    campaign_image_add,
    explanation_job_create,
    explanation_job_run,
    model_spec_get_or_create_builtin,
)
from netviz_site.errors import ApplicationError

DEMO_NAME = "Demo: everyday photos"


def demo_photos() -> list[tuple[str, np.ndarray]]:
    """(file name, RGB uint8 array) of real photos bundled with installed packages."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos = [
        ("chelsea.png", data.chelsea()),
        ("coffee.png", data.coffee()),
        ("rocket.png", data.rocket()),
        ("astronaut.png", data.astronaut()),
        ("motorcycle.png", data.stereo_motorcycle()[0]),
        ("camera.png", data.camera()),
    ]
    sample = load_sample_images()
    for name, array in zip(sample.filenames, sample.images, strict=True):
        photos.append((name.rsplit("/", 1)[-1].replace(".jpg", ".png"), array))
    out = []
    for name, array in photos:
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        out.append((name, np.ascontiguousarray(array[..., :3]).astype(np.uint8)))
    return out


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Create the demo campaign (real photos, efficientnet_lite0) and compute it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--mode", default="paper", choices=["paper", "fast"])
        parser.add_argument("--limit", type=int, default=None, help="Use only the first N photos.")
        parser.add_argument(
            "--no-compute", action="store_true", help="Only enqueue the jobs for the workers."
        )

    def handle(self, *args, **opts) -> None:
        try:
            model = model_spec_get_or_create_builtin(name="efficientnet_lite0")
            campaign = Campaign.objects.filter(name=DEMO_NAME).first()
            if campaign is None:
                campaign = campaign_create(
                    name=DEMO_NAME,
                    model=model,
                    engine_params={"mode": opts["mode"]},
                    description="Real photos shipped with scikit-image and scikit-learn.",
                )
                self.stdout.write(f"created campaign '{campaign.name}'")
            photos = demo_photos()[: opts["limit"]]
            for name, array in photos:
                campaign_image_add(
                    campaign=campaign,
                    content=png_bytes(array),
                    original_name=name,
                    enqueue=opts["no_compute"],
                )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if opts["no_compute"]:
            self.stdout.write("jobs enqueued for the workers")
            return
        jobs = [explanation_job_create(image=image) for image in campaign.images.all()]
        todo = [job for job in jobs if job.status != ExplanationJob.Status.DONE]
        outcomes: dict[str, int] = {}
        for job in tqdm(todo, desc="explaining", unit="image", disable=not todo):
            outcome = explanation_job_run(job_id=job.pk)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        done = campaign.images.filter(jobs__status=ExplanationJob.Status.DONE).count()
        self.stdout.write(
            f"demo campaign '{campaign.slug}': {done}/{len(jobs)} images explained"
            + (f" ({outcomes})" if outcomes else " (nothing to do)")
        )
        if not campaign.classes:
            predicted = sorted(
                set(campaign.images.exclude(target_class="").values_list("target_class", flat=True))
            )
            if predicted:
                campaign.classes = predicted
                campaign.save(update_fields=["classes"])
        if campaign.classes and campaign.status == Campaign.Status.DRAFT and done == len(jobs):
            campaign.status = Campaign.Status.PUBLISHED  # playable in Deep Reveal right away
            campaign.save(update_fields=["status"])
            self.stdout.write("published the demo campaign: play it at /game/")
