"""Campaign export: one zip holding ``export.json`` and one CSV per section.

The layout is documented in docs/EXPORT_FORMAT.md and described by docs/export.schema.json.
Everything is streamed: rows are read with ``iterator()`` and written one by one, so memory
stays flat whatever the campaign's size. The file is written under a temporary name and moved
to ``MEDIA_ROOT/exports/<random>.zip`` once complete.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import timezone

from explanations.models import Campaign, CampaignImage, ClusterMap, LayerResult
from game.models import Characteristic, Round
from validation import export as vx

from .models import (
    CampaignProcessing,
    ClusterLabelScore,
    ClusterStat,
    CurationRule,
    GlobalLabel,
    LabelGroup,
    LabelTrend,
    MergedGroup,
)

FORMAT = "netviz-campaign-export"
VERSION = 1
JSON_NAME = "export.json"
CHUNK = 2000

ProgressFn = Callable[[str, float], None]


@dataclass(frozen=True)
class Section:
    """One list of the export: its name, the rows (dicts) and the CSV columns."""

    name: str
    rows: Callable[[Campaign], Iterator[dict]]
    count: Callable[[Campaign], int]
    columns: tuple[str, ...]


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


# --- rows -----------------------------------------------------------------------------------


def _images(campaign: Campaign) -> QuerySet:
    return CampaignImage.objects.filter(campaign=campaign).order_by("id")


def _image_rows(campaign: Campaign) -> Iterator[dict]:
    yield from (
        _images(campaign)
        .values(
            "id",
            "original_name",
            "sha256",
            "width",
            "height",
            "true_class",
            "predicted_index",
            "predicted_class",
            "probability",
            "target_index",
            "target_class",
        )
        .iterator(chunk_size=CHUNK)
    )


def _layers(campaign: Campaign) -> QuerySet:
    return LayerResult.objects.filter(image__campaign=campaign).order_by("image_id", "position")


def _layer_rows(campaign: Campaign) -> Iterator[dict]:
    for r in (
        _layers(campaign)
        .values(
            "id",
            "image_id",
            "job_id",
            "layer",
            "position",
            "n_channels",
            "height",
            "width",
            "retained_weight",
            "no_positive_evidence",
        )
        .iterator(chunk_size=CHUNK)
    ):
        r["image"] = r.pop("image_id")
        r["job"] = r.pop("job_id")
        yield r


def _clusters(campaign: Campaign) -> QuerySet:
    return ClusterMap.objects.filter(image__campaign=campaign).order_by("id")


def _cluster_rows(campaign: Campaign) -> Iterator[dict]:
    for r in (
        _clusters(campaign)
        .values(
            "id",
            "image_id",
            "layer_result_id",
            "layer_result__layer",
            "layer_result__position",
            "index",
            "weight",
            "n_maps",
            "channels",
        )
        .iterator(chunk_size=CHUNK)
    ):
        yield {
            "id": r["id"],
            "image": r["image_id"],
            "layer_result": r["layer_result_id"],
            "layer": r["layer_result__layer"],
            "layer_position": r["layer_result__position"],
            "index": r["index"],
            "weight": r["weight"],
            "n_maps": r["n_maps"],
            "channels": r["channels"],
        }


def _rounds(campaign: Campaign) -> QuerySet:
    return Round.objects.filter(campaign=campaign).order_by("id")


def _round_rows(campaign: Campaign) -> Iterator[dict]:
    for r in (
        _rounds(campaign)
        .values(
            "id",
            "player_id",
            "image_id",
            "cluster_map_id",
            "layer_position",
            "answer",
            "guess",
            "outcome",
            "step",
            "status",
            "points",
            "started_at",
            "finished_at",
        )
        .iterator(chunk_size=CHUNK)
    ):
        yield {
            "id": r["id"],
            "player": r["player_id"],
            "image": r["image_id"],
            "cluster": r["cluster_map_id"],
            "layer_position": r["layer_position"],
            "answer": r["answer"],
            "guess": r["guess"],
            "outcome": r["outcome"],
            "step": r["step"],
            "status": r["status"],
            "points": r["points"],
            "started_at": _iso(r["started_at"]),
            "finished_at": _iso(r["finished_at"]),
        }


def _characteristics(campaign: Campaign) -> QuerySet:
    return Characteristic.objects.filter(round__campaign=campaign).order_by("id")


def _characteristic_rows(campaign: Campaign) -> Iterator[dict]:
    for r in (
        _characteristics(campaign)
        .values(
            "id",
            "round_id",
            "player_id",
            "round__cluster_map_id",
            "round__image_id",
            "position",
            "text",
            "hidden",
            "created_at",
            "mention__class_name",
            "mention__text",
            "mention__key",
            "mention__surface",
            "mention__refused_reason",
            "mention__group_id",
            "mention__id",
        )
        .iterator(chunk_size=CHUNK)
    ):
        processed = r["mention__id"] is not None
        yield {
            "id": r["id"],
            "round": r["round_id"],
            "player": r["player_id"],
            "cluster": r["round__cluster_map_id"],
            "image": r["round__image_id"],
            "position": r["position"],
            "text": r["text"],
            "hidden": r["hidden"],
            "created_at": _iso(r["created_at"]),
            "processed": processed,
            "class_name": r["mention__class_name"] if processed else None,
            "cleaned": r["mention__text"] if processed else None,
            "key": r["mention__key"] if processed else None,
            "surface": r["mention__surface"] if processed else None,
            "refused_reason": (r["mention__refused_reason"] or None) if processed else None,
            "group": r["mention__group_id"],
        }


def _groups(campaign: Campaign) -> QuerySet:
    return LabelGroup.objects.filter(campaign=campaign).order_by("id")


def _group_rows(campaign: Campaign) -> Iterator[dict]:
    for g in _groups(campaign).iterator(chunk_size=CHUNK):
        yield {
            "id": g.pk,
            "class_name": g.class_name,
            "label": g.label,
            "canonical": g.canonical,
            "canonical_lemma": g.canonical_lemma,
            "name": g.name,
            "blocked": g.blocked,
            "count": g.count,
            "score": g.score,
            "origin": g.origin,
            "members": [
                {"key": k, "count": c, "surfaces": (g.surfaces or {}).get(k, {})}
                for k, c in zip(g.members, g.member_counts)
            ],
        }


def _scores(campaign: Campaign) -> QuerySet:
    return ClusterLabelScore.objects.filter(image__campaign=campaign).order_by("id")


def _score_rows(campaign: Campaign) -> Iterator[dict]:
    for r in (
        _scores(campaign)
        .values(
            "id",
            "cluster_map_id",
            "image_id",
            "label",
            "group_ids",
            "mentions",
            "mean_step",
            "correct",
            "score",
            "is_best",
            "rank",
        )
        .iterator(chunk_size=CHUNK)
    ):
        yield {
            "cluster": r["cluster_map_id"],
            "image": r["image_id"],
            "label": r["label"],
            "groups": r["group_ids"],
            "mentions": r["mentions"],
            "mean_step": r["mean_step"],
            "correct": r["correct"],
            "score": r["score"],
            "is_best": r["is_best"],
            "rank": r["rank"],
        }


def _stats(campaign: Campaign) -> QuerySet:
    return ClusterStat.objects.filter(image__campaign=campaign).order_by("cluster_map_id")


def _stat_rows(campaign: Campaign) -> Iterator[dict]:
    for r in (
        _stats(campaign)
        .values(
            "cluster_map_id",
            "image_id",
            "rounds",
            "wins",
            "losses",
            "resigns",
            "mean_step",
            "n_mentions",
            "best",
            "labelled",
        )
        .iterator(chunk_size=CHUNK)
    ):
        r["cluster"] = r.pop("cluster_map_id")
        r["image"] = r.pop("image_id")
        yield r


def _merged(campaign: Campaign) -> QuerySet:
    return MergedGroup.objects.filter(image__campaign=campaign).order_by("id")


def _merged_rows(campaign: Campaign) -> Iterator[dict]:
    for r in (
        _merged(campaign)
        .values(
            "id",
            "image_id",
            "layer_result_id",
            "layer",
            "kind",
            "cluster_ids",
            "weight",
            "n_maps",
            "rounds",
            "wins",
            "losses",
            "resigns",
            "mean_step",
            "scores",
            "best",
            "labelled",
        )
        .iterator(chunk_size=CHUNK)
    ):
        yield {
            "id": r["id"],
            "image": r["image_id"],
            "layer_result": r["layer_result_id"],
            "layer": r["layer"],
            "kind": r["kind"],
            "clusters": r["cluster_ids"],
            "weight": r["weight"],
            "n_maps": r["n_maps"],
            "rounds": r["rounds"],
            "wins": r["wins"],
            "losses": r["losses"],
            "resigns": r["resigns"],
            "mean_step": r["mean_step"],
            "scores": [{"label": s[0], "score": s[1], "score_sum": s[2]} for s in r["scores"]],
            "best": r["best"],
            "labelled": r["labelled"],
        }


def _globals(campaign: Campaign) -> QuerySet:
    return GlobalLabel.objects.filter(campaign=campaign).order_by(
        "class_name", "layer_position", "rank"
    )


def _global_rows(campaign: Campaign) -> Iterator[dict]:
    yield from (
        _globals(campaign)
        .values(
            "class_name",
            "layer",
            "layer_position",
            "label",
            "total",
            "mean_weight",
            "n_groups",
            "n_images",
            "class_images",
            "normalised",
            "rank",
            "rank_normalised",
            "examples",
        )
        .iterator(chunk_size=CHUNK)
    )


def _trends(campaign: Campaign) -> QuerySet:
    return LabelTrend.objects.filter(campaign=campaign).order_by("class_name", "direction", "rank")


def _trend_rows(campaign: Campaign) -> Iterator[dict]:
    yield from (
        _trends(campaign)
        .values("class_name", "label", "layers", "values", "slope", "direction", "rank", "shown")
        .iterator(chunk_size=CHUNK)
    )


def _rules(campaign: Campaign) -> QuerySet:
    return CurationRule.objects.filter(campaign=campaign).order_by("id")


def _rule_rows(campaign: Campaign) -> Iterator[dict]:
    for r in (
        _rules(campaign)
        .values("id", "class_name", "action", "keys", "name", "created_at")
        .iterator(chunk_size=CHUNK)
    ):
        r["created_at"] = _iso(r["created_at"])
        yield r


SECTIONS: tuple[Section, ...] = (
    Section(
        "images",
        _image_rows,
        lambda c: _images(c).count(),
        (
            "id",
            "original_name",
            "sha256",
            "width",
            "height",
            "true_class",
            "predicted_index",
            "predicted_class",
            "probability",
            "target_index",
            "target_class",
        ),
    ),
    Section(
        "layers",
        _layer_rows,
        lambda c: _layers(c).count(),
        (
            "id",
            "image",
            "job",
            "layer",
            "position",
            "n_channels",
            "height",
            "width",
            "retained_weight",
            "no_positive_evidence",
        ),
    ),
    Section(
        "clusters",
        _cluster_rows,
        lambda c: _clusters(c).count(),
        (
            "id",
            "image",
            "layer_result",
            "layer",
            "layer_position",
            "index",
            "weight",
            "n_maps",
            "channels",
        ),
    ),
    Section(
        "rounds",
        _round_rows,
        lambda c: _rounds(c).count(),
        (
            "id",
            "player",
            "image",
            "cluster",
            "layer_position",
            "answer",
            "guess",
            "outcome",
            "step",
            "status",
            "points",
            "started_at",
            "finished_at",
        ),
    ),
    Section(
        "characteristics",
        _characteristic_rows,
        lambda c: _characteristics(c).count(),
        (
            "id",
            "round",
            "player",
            "cluster",
            "image",
            "position",
            "text",
            "hidden",
            "created_at",
            "processed",
            "class_name",
            "cleaned",
            "key",
            "surface",
            "refused_reason",
            "group",
        ),
    ),
    Section(
        "label_groups",
        _group_rows,
        lambda c: _groups(c).count(),
        (
            "id",
            "class_name",
            "label",
            "canonical",
            "canonical_lemma",
            "name",
            "blocked",
            "count",
            "score",
            "origin",
            "members",
        ),
    ),
    Section(
        "cluster_label_scores",
        _score_rows,
        lambda c: _scores(c).count(),
        (
            "cluster",
            "image",
            "label",
            "groups",
            "mentions",
            "mean_step",
            "correct",
            "score",
            "is_best",
            "rank",
        ),
    ),
    Section(
        "cluster_stats",
        _stat_rows,
        lambda c: _stats(c).count(),
        (
            "cluster",
            "image",
            "rounds",
            "wins",
            "losses",
            "resigns",
            "mean_step",
            "n_mentions",
            "best",
            "labelled",
        ),
    ),
    Section(
        "merged_groups",
        _merged_rows,
        lambda c: _merged(c).count(),
        (
            "id",
            "image",
            "layer_result",
            "layer",
            "kind",
            "clusters",
            "weight",
            "n_maps",
            "rounds",
            "wins",
            "losses",
            "resigns",
            "mean_step",
            "scores",
            "best",
            "labelled",
        ),
    ),
    Section(
        "global_labels",
        _global_rows,
        lambda c: _globals(c).count(),
        (
            "class_name",
            "layer",
            "layer_position",
            "label",
            "total",
            "mean_weight",
            "n_groups",
            "n_images",
            "class_images",
            "normalised",
            "rank",
            "rank_normalised",
            "examples",
        ),
    ),
    Section(
        "label_trends",
        _trend_rows,
        lambda c: _trends(c).count(),
        ("class_name", "label", "layers", "values", "slope", "direction", "rank", "shown"),
    ),
    Section(
        "curation_rules",
        _rule_rows,
        lambda c: _rules(c).count(),
        ("id", "class_name", "action", "keys", "name", "created_at"),
    ),
    # validation (METHOD §10): every finished run, each row naming its run
    Section("validation_tcav", vx.tcav_rows, vx.tcav_count, vx.TCAV_COLUMNS),
    Section(
        "validation_faithfulness",
        vx.faithfulness_rows,
        vx.faithfulness_count,
        vx.FAITHFULNESS_COLUMNS,
    ),
    Section("validation_human", vx.human_rows, vx.human_count, vx.HUMAN_COLUMNS),
    Section("validation_layers", vx.layer_rows, vx.layer_count, vx.LAYER_COLUMNS),
)


def _header(campaign: Campaign) -> dict:
    state = CampaignProcessing.objects.filter(campaign=campaign).first()
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "campaign": {
            "id": campaign.pk,
            "slug": campaign.slug,
            "name": campaign.name,
            "model": campaign.model.name,
            "classes": list(campaign.classes or []),
            "aliases": dict(campaign.aliases or {}),
            "explained_layers": list(campaign.explained_layers or []),
            "engine_params": dict(campaign.engine_params or {}),
            "params_hash": campaign.params_hash,
            "target_mode": campaign.target_mode,
            "target_rounds": campaign.target_rounds,
            "status": campaign.status,
        },
        "processing": {
            "model_id": state.model_id if state else "",
            "settings": state.settings if state else {},
            "settings_hash": state.settings_hash if state else "",
            "rebuilt_at": _iso(state.rebuilt_at) if state else None,
            "n_mentions": state.n_mentions if state else 0,
            "n_refused": state.n_refused if state else 0,
            "n_groups": state.n_groups if state else 0,
        },
    }


def _csv_value(value):
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if value is None:
        return ""
    return value


def export_write(
    *, campaign: Campaign, progress: ProgressFn | None = None
) -> tuple[str, int, dict[str, int]]:
    """Write the export zip; returns (storage name, size in bytes, rows per section)."""
    progress = progress or (lambda stage, fraction: None)
    counts = {s.name: s.count(campaign) for s in SECTIONS}
    total = max(1, 2 * sum(counts.values()))
    done = 0
    folder = default_storage.path("exports")
    os.makedirs(folder, exist_ok=True)
    name = f"exports/{secrets.token_urlsafe(24)}.zip"
    final = default_storage.path(name)
    tmp = final + ".part"
    written: dict[str, int] = {}
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            with zf.open(JSON_NAME, "w", force_zip64=True) as raw:
                out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
                header = json.dumps(_header(campaign), ensure_ascii=False)
                out.write(header[:-1])
                for section in SECTIONS:
                    progress(f"json: {section.name}", done / total)
                    out.write(f', "{section.name}": [')
                    n = 0
                    for row in section.rows(campaign):
                        if n:
                            out.write(",")
                        out.write("\n")
                        out.write(json.dumps(row, ensure_ascii=False))
                        n += 1
                    out.write("\n]")
                    written[section.name] = n
                    done += counts[section.name]
                out.write("}\n")
                out.flush()
                out.detach()
            for section in SECTIONS:
                progress(f"csv: {section.name}", done / total)
                with zf.open(f"csv/{section.name}.csv", "w", force_zip64=True) as raw:
                    out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                    writer = csv.writer(out)
                    writer.writerow(section.columns)
                    for row in section.rows(campaign):
                        writer.writerow([_csv_value(row.get(c)) for c in section.columns])
                    out.flush()
                    out.detach()
                done += counts[section.name]
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    progress("done", 1.0)
    return name, os.path.getsize(final), written
