"""Writes behind the campaign administration pages (HackSoft style: keyword-only, typed).

Archive imports check the whole archive first (:mod:`explanations.uploads`), then add every
image in one transaction; the files written for a transaction that fails are removed again.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

from django.db import transaction

from game.models import Characteristic, Player
from netviz_site.errors import ApplicationError

from . import uploads
from .models import Campaign, CampaignImage, ExplanationJob
from .services import (
    campaign_compute,
    explanation_job_create,
    explanation_job_enqueue,
    explanation_job_retry,
    files_for_transaction,
)

# --- form helpers --------------------------------------------------------------------------------


def aliases_parse(*, text: str, classes: list[str]) -> dict[str, list[str]]:
    """Parse ``class name: alias, alias`` lines (one class per line) into a dict.

    The class part may be written loosely (case, underscores) or as its first synonym.
    """
    resolve = uploads.class_resolver(classes)
    aliases: dict[str, list[str]] = {}
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if ":" not in line:
            bad.append(f"line {number}: write 'class: alias, alias'")
            continue
        name, _, rest = line.rpartition(":")
        class_name = resolve(name)
        if class_name is None:
            bad.append(f"line {number}: '{name.strip()}' is not one of the model's classes")
            continue
        names = [a.strip() for a in rest.split(",") if a.strip()]
        too_long = [a for a in names if len(a) > 60]
        if too_long:
            bad.append(f"line {number}: aliases are at most 60 characters")
            continue
        merged = aliases.setdefault(class_name, [])
        merged.extend(a for a in names if a not in merged)
    if bad:
        raise ApplicationError("Aliases: " + "; ".join(bad), extra={"errors": bad})
    return aliases


# --- status ----------------------------------------------------------------------------------------

STATUS_ACTIONS = {
    "publish": Campaign.Status.PUBLISHED,
    "pause": Campaign.Status.PAUSED,
    "close": Campaign.Status.CLOSED,
}
_ALLOWED_FROM = {
    Campaign.Status.PUBLISHED: {Campaign.Status.DRAFT, Campaign.Status.PAUSED},
    Campaign.Status.PAUSED: {Campaign.Status.PUBLISHED},
    Campaign.Status.CLOSED: {
        Campaign.Status.DRAFT,
        Campaign.Status.PUBLISHED,
        Campaign.Status.PAUSED,
    },
}


def campaign_status_change(*, campaign: Campaign, action: str) -> Campaign:
    """publish (items enter the game), pause (the game stops offering them), close (final)."""
    target = STATUS_ACTIONS.get(action)
    if target is None:
        raise ApplicationError(f"Unknown action '{action}': use publish, pause or close.")
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status == target:
            return campaign
        if campaign.status not in _ALLOWED_FROM[target]:
            raise ApplicationError(
                f"A {campaign.get_status_display().lower()} campaign cannot be "
                f"{'published' if action == 'publish' else action + 'd'}.",
                status=409,
            )
        if target == Campaign.Status.PUBLISHED:
            done = ExplanationJob.objects.filter(
                image__campaign=campaign,
                params_hash=campaign.params_hash,
                status=ExplanationJob.Status.DONE,
            ).exists()
            if not done:
                raise ApplicationError(
                    "Nothing to play yet: add images and compute at least one explanation "
                    "before publishing.",
                    status=409,
                )
        campaign.status = target
        campaign.save(update_fields=["status"])
    return campaign


def _require_open(campaign: Campaign) -> None:
    if campaign.status == Campaign.Status.CLOSED:
        raise ApplicationError("This campaign is closed: no images can be added.", status=409)


# --- images ------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    added: list[CampaignImage] = field(default_factory=list)
    skipped: list[uploads.Skipped] = field(default_factory=list)
    class_counts: dict[str, int] = field(default_factory=dict)
    folder_classes: dict[str, str] = field(default_factory=dict)


def _campaign_classes(campaign: Campaign) -> list[str]:
    return list(campaign.classes or campaign.model.class_names)


def _existing_sha256(campaign: Campaign) -> set[str]:
    return set(CampaignImage.objects.filter(campaign=campaign).values_list("sha256", flat=True))


def campaign_images_import(
    *, campaign: Campaign, zf: zipfile.ZipFile, plan: uploads.ImportPlan, enqueue: bool = True
) -> list[CampaignImage]:
    """Store a checked plan: every image and its job in one transaction (files removed on failure)."""
    added: list[CampaignImage] = []
    infos = {info.filename: info for info in zf.infolist()}
    with files_for_transaction() as files, transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        existing = _existing_sha256(campaign)
        for planned in plan.images:
            if planned.sha256 in existing:  # added meanwhile by another request
                continue
            content = uploads.entry_read(zf, infos[planned.entry])
            suffix = PurePosixPath(planned.name).suffix.lower() or ".img"
            stored = files.save(f"images/{planned.sha256[:2]}", content, suffix=suffix)
            image = CampaignImage.objects.create(
                campaign=campaign,
                file=stored,
                sha256=planned.sha256,
                original_name=planned.name[-255:],
                width=planned.width,
                height=planned.height,
                true_class=planned.true_class,
            )
            job = explanation_job_create(image=image)
            if enqueue:
                explanation_job_enqueue(job=job)
            added.append(image)
            existing.add(planned.sha256)
    return added


def campaign_archive_import(
    *, campaign: Campaign, archive: BinaryIO, enqueue: bool = True
) -> ImportReport:
    """Add the images of a zip of class folders (all or nothing; non-images skipped)."""
    _require_open(campaign)
    limits = uploads.ArchiveLimits.from_settings()
    with uploads.archive_open(archive, limits=limits) as zf:
        plan = uploads.archive_plan_class_folders(
            zf,
            classes=_campaign_classes(campaign),
            aliases=campaign.aliases,
            existing_sha256=_existing_sha256(campaign),
            limits=limits,
        )
        added = campaign_images_import(campaign=campaign, zf=zf, plan=plan, enqueue=enqueue)
    return ImportReport(
        added=added,
        skipped=plan.skipped,
        class_counts=plan.class_counts(),
        folder_classes=plan.folder_classes,
    )


def campaign_csv_import(
    *, campaign: Campaign, csv_content: bytes, archive: BinaryIO, enqueue: bool = True
) -> ImportReport:
    """Add the images of a zip labelled by a CSV of ``file,class`` lines (all or nothing)."""
    _require_open(campaign)
    limits = uploads.ArchiveLimits.from_settings()
    with uploads.archive_open(archive, limits=limits, what="zip of images") as zf:
        plan = uploads.archive_plan_csv(
            zf,
            csv_content,
            classes=_campaign_classes(campaign),
            aliases=campaign.aliases,
            existing_sha256=_existing_sha256(campaign),
            limits=limits,
        )
        added = campaign_images_import(campaign=campaign, zf=zf, plan=plan, enqueue=enqueue)
    return ImportReport(added=added, skipped=plan.skipped, class_counts=plan.class_counts())


def campaign_image_upload(
    *, campaign: Campaign, content: bytes, original_name: str, true_class: str, enqueue: bool = True
) -> CampaignImage:
    """Add one image (see :func:`explanations.services.campaign_image_add`)."""
    from .services import campaign_image_add

    _require_open(campaign)
    if not true_class.strip():
        raise ApplicationError("Choose the image's class.")
    return campaign_image_add(
        campaign=campaign,
        content=content,
        original_name=original_name,
        true_class=true_class,
        enqueue=enqueue,
    )


# --- compute -------------------------------------------------------------------------------------


def campaign_compute_start(*, campaign: Campaign) -> int:
    """Enqueue every job of the campaign not done yet; returns how many were enqueued."""
    if not campaign.images.exists():
        raise ApplicationError("Add images before starting the computation.")
    return campaign_compute(campaign=campaign)


def campaign_failed_retry(*, campaign: Campaign) -> int:
    """Retry every failed job of the campaign; returns how many."""
    jobs = ExplanationJob.objects.filter(
        image__campaign=campaign,
        params_hash=campaign.params_hash,
        status=ExplanationJob.Status.FAILED,
    )
    count = 0
    for job in jobs:
        explanation_job_retry(job=job)
        count += 1
    return count


def campaign_job_retry(*, campaign: Campaign, job_id: int) -> ExplanationJob:
    job = ExplanationJob.objects.filter(pk=job_id, image__campaign=campaign).first()
    if job is None:
        raise ApplicationError("No such job in this campaign.", status=404)
    return explanation_job_retry(job=job)


# --- moderation -----------------------------------------------------------------------------------


def characteristic_set_hidden(*, characteristic: Characteristic, hidden: bool) -> Characteristic:
    """Hide (or show again) a characteristic; labels are then rebuilt without it."""
    from .integration import labels_reprocess

    with transaction.atomic():
        updated = Characteristic.objects.filter(pk=characteristic.pk).update(hidden=hidden)
        if not updated:
            raise ApplicationError("This characteristic no longer exists.", status=404)
        characteristic.hidden = hidden
        labels_reprocess(campaign=characteristic.round.campaign)
    return characteristic


def player_set_blocked(*, player: Player, blocked: bool) -> Player:
    """Block a player (no more rounds; their labels are left out) or unblock them."""
    from .integration import labels_reprocess

    if blocked and player.user_id is not None and _is_privileged(player):
        raise ApplicationError("Staff and campaign admins cannot be blocked here.", status=409)
    with transaction.atomic():
        Player.objects.filter(pk=player.pk).update(is_blocked=blocked)
        player.is_blocked = blocked
        campaigns = Campaign.objects.filter(rounds__player=player).distinct()
        for campaign in campaigns:
            labels_reprocess(campaign=campaign)
    return player


def _is_privileged(player: Player) -> bool:
    from .roles import user_is_campaign_admin

    return user_is_campaign_admin(player.user)
