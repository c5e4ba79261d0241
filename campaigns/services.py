"""Writes behind the campaign administration pages (HackSoft style: keyword-only, typed).

Archive imports check the whole archive first (:mod:`campaigns.archives`,
:mod:`campaigns.import_plans`), then add every image in one transaction; the files written for a transaction that fails are removed again.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import transaction

from core.errors import ApplicationError
from core.roles import user_is_campaign_admin
from explanations.files import files_for_transaction, image_for_storage
from explanations.models import Campaign, CampaignImage, ExplanationJob
from explanations.services import (
    campaign_compute,
    campaign_image_add,
    explanation_job_create,
    explanation_job_enqueue,
    explanation_job_retry,
)
from game.models import Characteristic, Player

from . import import_plans
from .archives import ArchiveLimits, archive_open, entry_read
from .classes import class_resolver
from .integration import answers_recount, labels_reprocess, labels_rescore

# --- form helpers --------------------------------------------------------------------------------


def aliases_parse(*, text: str, classes: list[str]) -> dict[str, list[str]]:
    """Parse ``class name: alias, alias`` lines (one class per line) into a dict.

    The class part may be written loosely (case, underscores) or as its first synonym.
    """
    resolve = class_resolver(classes)
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


RESULTS_ACTIONS = {"open-results": True, "hide-results": False}


def campaign_results_set_public(*, campaign: Campaign, public: bool) -> Campaign:
    """Open (or close again) a closed campaign's results to the public: its images, overlays,
    classes, predictions and labels. A live campaign's results are its game's answer key."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if public and campaign.status != Campaign.Status.CLOSED:
            raise ApplicationError(
                "Only a closed campaign's results can be made public: while it is played they "
                "are the game's answer key.",
                status=409,
            )
        if campaign.results_public != public:
            campaign.results_public = public
            campaign.save(update_fields=["results_public"])
    return campaign


def campaign_status_change(*, campaign: Campaign, action: str) -> Campaign:
    """publish (items enter the game), pause (the game stops offering them), close (final);
    open-results / hide-results (closed campaigns: results public or not)."""
    if action in RESULTS_ACTIONS:
        return campaign_results_set_public(campaign=campaign, public=RESULTS_ACTIONS[action])
    target = STATUS_ACTIONS.get(action)
    if target is None:
        raise ApplicationError(
            f"Unknown action '{action}': use publish, pause, close, open-results or hide-results."
        )
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
            done = ExplanationJob.objects.current_for(campaign).done().exists()
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


# --- leak control: forbidden terms and languages --------------------------------------------------

MAX_TERM_LENGTH = 60
MAX_TERMS_PER_LANGUAGE = 100
MAX_LANGUAGES = 10


def _language_code(code: object) -> str | None:
    from processing.nlp.language import LANGUAGE_NAMES

    if not isinstance(code, str):
        return None
    code = code.strip().lower()
    return code if code in LANGUAGE_NAMES else None


def _supported_languages() -> str:
    from processing.nlp.language import LANGUAGE_NAMES

    return ", ".join(sorted(LANGUAGE_NAMES))


def forbidden_terms_parse(*, text: str, classes: list[str]) -> dict[str, dict[str, list[str]]]:
    """Parse ``class | language: term, term`` lines into ``{class: {language: [terms]}}``.

    The class may be written loosely (case, underscores) or as its first synonym; the language
    is an ISO 639-1 code (``de``, ``es``; ``en`` for English synonyms).
    """
    resolve = class_resolver(classes)
    raw: dict[str, dict[str, list[str]]] = {}
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        head, colon, rest = line.partition(":")
        name, bar, lang = head.rpartition("|")
        if not colon or not bar:
            bad.append(f"line {number}: write 'class | language: term, term'")
            continue
        class_name = resolve(name)
        if class_name is None:
            bad.append(f"line {number}: '{name.strip()}' is not one of the campaign's classes")
            continue
        code = _language_code(lang)
        if code is None:
            bad.append(
                f"line {number}: '{lang.strip()}' is not a language code ({_supported_languages()})"
            )
            continue
        terms = raw.setdefault(class_name, {}).setdefault(code, [])
        terms.extend(t.strip() for t in rest.split(",") if t.strip() and t.strip() not in terms)
    if bad:
        raise ApplicationError("Forbidden terms: " + "; ".join(bad), extra={"errors": bad})
    return raw


def forbidden_terms_text(*, campaign: Campaign) -> str:
    """The campaign's forbidden terms as the lines :func:`forbidden_terms_parse` reads."""
    lines = []
    for class_name, by_language in (campaign.forbidden_terms or {}).items():
        for code, terms in by_language.items():
            lines.append(f"{class_name.split(',')[0]} | {code}: {', '.join(terms)}")
    return "\n".join(lines)


def _terms_kept(terms: list[str], where: str, bad: list[str]) -> list[str]:
    """The distinct, valid terms of one class and language (problems appended to ``bad``)."""
    kept: list[str] = []
    for term in (t.strip() for t in terms):
        if not term or term in kept:
            continue
        if len(term) > MAX_TERM_LENGTH:
            bad.append(f"{where}: '{term[:20]}…' is longer than {MAX_TERM_LENGTH} characters")
        elif not any(c.isalpha() for c in term):
            bad.append(f"{where}: '{term}' has no letter")
        else:
            kept.append(term)
    if len(kept) > MAX_TERMS_PER_LANGUAGE:
        bad.append(f"{where}: at most {MAX_TERMS_PER_LANGUAGE} terms per class and language")
    return kept


def _forbidden_terms_clean(
    *, campaign: Campaign, forbidden_terms: object, bad: list[str]
) -> dict[str, dict[str, list[str]]]:
    """``{class: {language: [terms]}}`` with the campaign's class names and language codes."""
    resolve = class_resolver(campaign_classes(campaign))
    clean: dict[str, dict[str, list[str]]] = {}
    if not isinstance(forbidden_terms, dict):
        bad.append("forbidden terms: send an object {class: {language: [terms]}}")
        return clean
    for name, by_language in forbidden_terms.items():
        class_name = resolve(str(name))
        if class_name is None:
            bad.append(f"'{name}' is not one of the campaign's classes")
            continue
        if not isinstance(by_language, dict):
            bad.append(f"{class_name}: send an object {{language: [terms]}}")
            continue
        for lang, terms in by_language.items():
            code = _language_code(lang)
            if code is None:
                bad.append(
                    f"{class_name}: '{lang}' is not a language code ({_supported_languages()})"
                )
                continue
            if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
                bad.append(f"{class_name} | {code}: send a list of terms")
                continue
            kept = _terms_kept(terms, f"{class_name} | {code}", bad)
            if kept:
                clean.setdefault(class_name, {}).setdefault(code, []).extend(
                    t for t in kept if t not in clean[class_name].get(code, [])
                )
    return clean


def _languages_clean(*, languages: object, bad: list[str]) -> list[str] | None:
    """The distinct supported language codes, the main one first (None: none given)."""
    if not isinstance(languages, list) or not languages:
        bad.append("languages: name at least one language (e.g. ['en'])")
        return None
    clean: list[str] = []
    for lang in languages:
        code = _language_code(lang)
        if code is None:
            bad.append(f"languages: '{lang}' is not a supported code ({_supported_languages()})")
        elif code not in clean:
            clean.append(code)
    if len(clean) > MAX_LANGUAGES:
        bad.append(f"languages: at most {MAX_LANGUAGES}")
    return clean


def campaign_leak_control_set(
    *,
    campaign: Campaign,
    forbidden_terms: dict | None = None,
    languages: list[str] | None = None,
) -> Campaign:
    """Set the campaign's forbidden terms (``{class: {language: [terms]}}``, replacing the old
    ones) and/or its accepted languages (the first is the main one). Every problem is listed
    in one ApplicationError (``extra["errors"]``); nothing is saved then.

    New terms and languages apply to characteristics sent from now on; a regroup
    (``process_labels --rebuild``) applies them to stored ones.
    """
    bad: list[str] = []
    clean_terms = (
        _forbidden_terms_clean(campaign=campaign, forbidden_terms=forbidden_terms, bad=bad)
        if forbidden_terms is not None
        else None
    )
    clean_languages = (
        _languages_clean(languages=languages, bad=bad) if languages is not None else None
    )
    if bad:
        raise ApplicationError("; ".join(bad), extra={"errors": bad})
    fields = []
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if clean_terms is not None:
            campaign.forbidden_terms = clean_terms
            fields.append("forbidden_terms")
        if clean_languages is not None:
            campaign.languages = clean_languages
            fields.append("languages")
        if fields:
            campaign.save(update_fields=fields)
    return campaign


# --- images ------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    added: list[CampaignImage] = field(default_factory=list)
    skipped: list[import_plans.Skipped] = field(default_factory=list)
    class_counts: dict[str, int] = field(default_factory=dict)
    folder_classes: dict[str, str] = field(default_factory=dict)


def campaign_classes(campaign: Campaign) -> list[str]:
    """The campaign's classes (all of the model's when it names none)."""
    return list(campaign.classes or campaign.model.class_names)


def _existing_sha256(campaign: Campaign) -> set[str]:
    return set(CampaignImage.objects.filter(campaign=campaign).values_list("sha256", flat=True))


def campaign_images_import(
    *, campaign: Campaign, zf: zipfile.ZipFile, plan: import_plans.ImportPlan, enqueue: bool = True
) -> list[CampaignImage]:
    """Store a checked plan: every image and its job in one transaction (files removed on failure)."""
    added: list[CampaignImage] = []
    infos = {info.filename: info for info in zf.infolist()}
    limits = ArchiveLimits.from_settings()
    with files_for_transaction() as files, transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        existing = _existing_sha256(campaign)
        for planned in plan.images:
            if planned.sha256 in existing:  # added meanwhile by another request
                continue
            content = entry_read(zf, infos[planned.entry])
            # The stored name comes from the decoded format, never from the entry's name.
            content, suffix = image_for_storage(
                content, image_format=planned.format, max_pixels=limits.max_pixels
            )
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
    limits = ArchiveLimits.from_settings()
    with archive_open(archive, limits=limits) as zf:
        plan = import_plans.archive_plan_class_folders(
            zf,
            classes=campaign_classes(campaign),
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
    limits = ArchiveLimits.from_settings()
    with archive_open(archive, limits=limits, what="zip of images") as zf:
        plan = import_plans.archive_plan_csv(
            zf,
            csv_content,
            classes=campaign_classes(campaign),
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
    jobs = ExplanationJob.objects.current_for(campaign).filter(status=ExplanationJob.Status.FAILED)
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
    with transaction.atomic():
        updated = Characteristic.objects.filter(pk=characteristic.pk).update(hidden=hidden)
        if not updated:
            raise ApplicationError("This characteristic no longer exists.", status=404)
        characteristic.hidden = hidden
        labels_reprocess(campaign=characteristic.round.campaign)
    return characteristic


def player_set_blocked(*, player: Player, blocked: bool) -> Player:
    """Block a player (no more rounds; their labels are left out) or unblock them."""
    if blocked and player.user_id is not None and _is_privileged(player):
        raise ApplicationError("Staff and campaign admins cannot be blocked here.", status=409)
    with transaction.atomic():
        # The campaigns' processing rows are locked before the player's row, the order of the
        # processing tasks (campaign, then players): the other order deadlocks with a batch.
        campaigns = Campaign.objects.filter(rounds__player=player).distinct()
        for campaign in campaigns:
            labels_reprocess(campaign=campaign)
        Player.objects.filter(pk=player.pk).update(is_blocked=blocked)
        player.is_blocked = blocked
        answers_recount(player=player)
    return player


TRUST_OVERRIDE_INVALID = "A trust override is a number from 0 to 1 (or empty to clear it)."


def player_set_trust_override(*, player: Player, value: float | str | None) -> Player:
    """Set an admin's override of a player's trust (0 to 1) or clear it (None or "").

    The effective trust is the override while it is set (docs/METHOD_NOTES.md, "Player
    trust"): below ``NETVIZ_TRUST_MIN_COUNTED`` the player's rounds stop counting toward items'
    targets at once; the scores of the campaigns where they have labels are recomputed with the
    new weight (a rescore task each)."""
    if isinstance(value, str):
        value = value.strip() or None
    if value is not None and player.user_id is not None and _is_privileged(player):
        # an override near 0 is a block in effect: the same rule as blocking
        raise ApplicationError(
            "Staff and campaign admins' trust cannot be overridden here.", status=409
        )
    if value is not None:
        try:
            value = float(value)
        except (TypeError, ValueError) as exc:
            raise ApplicationError(TRUST_OVERRIDE_INVALID) from exc
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise ApplicationError(TRUST_OVERRIDE_INVALID)
    with transaction.atomic():
        # campaigns' processing rows first, then the player's row (see player_set_blocked)
        labels_rescore(player=player)
        updated = Player.objects.filter(pk=player.pk).update(trust_override=value)
        if not updated:
            raise ApplicationError("This player no longer exists.", status=404)
        player.trust_override = value
        answers_recount(player=player)
    return player


def _is_privileged(player: Player) -> bool:
    return user_is_campaign_admin(player.user)
