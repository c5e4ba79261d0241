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


def _values_section(
    name: str,
    queryset: Callable[[Campaign], QuerySet],
    columns: dict[str, str],
    convert: dict[str, Callable] | None = None,
) -> Section:
    """A section streamed with ``values()``: ``columns`` maps each output column, in order, to
    the field it is read from; ``convert`` maps a column to a function of its value."""
    convert = convert or {}
    fields = list(dict.fromkeys(columns.values()))

    def rows(campaign: Campaign) -> Iterator[dict]:
        for r in queryset(campaign).values(*fields).iterator(chunk_size=CHUNK):
            yield {
                column: convert[column](r[field]) if column in convert else r[field]
                for column, field in columns.items()
            }

    return Section(name, rows, lambda c: queryset(c).count(), tuple(columns))


def _same(*names: str) -> dict[str, str]:
    """Columns named like their fields."""
    return {n: n for n in names}


def _merged_scores(scores) -> list[dict]:
    return [{"label": s[0], "score": s[1], "score_sum": s[2]} for s in scores]


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


SECTIONS: tuple[Section, ...] = (
    _values_section(
        "images",
        lambda c: CampaignImage.objects.filter(campaign=c).order_by("id"),
        _same(
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
    _values_section(
        "layers",
        lambda c: LayerResult.objects.filter(image__campaign=c).order_by("image_id", "position"),
        {
            "id": "id",
            "image": "image_id",
            "job": "job_id",
            **_same(
                "layer",
                "position",
                "n_channels",
                "height",
                "width",
                "retained_weight",
                "no_positive_evidence",
            ),
        },
    ),
    _values_section(
        "clusters",
        lambda c: ClusterMap.objects.filter(image__campaign=c).order_by("id"),
        {
            "id": "id",
            "image": "image_id",
            "layer_result": "layer_result_id",
            "layer": "layer_result__layer",
            "layer_position": "layer_result__position",
            **_same("index", "weight", "n_maps", "channels"),
        },
    ),
    _values_section(
        "rounds",
        lambda c: Round.objects.filter(campaign=c).order_by("id"),
        {
            "id": "id",
            "player": "player_id",
            "image": "image_id",
            "cluster": "cluster_map_id",
            **_same(
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
        },
        convert={"started_at": _iso, "finished_at": _iso},
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
    _values_section(
        "cluster_label_scores",
        lambda c: ClusterLabelScore.objects.filter(image__campaign=c).order_by("id"),
        {
            "cluster": "cluster_map_id",
            "image": "image_id",
            "label": "label",
            "groups": "group_ids",
            **_same("mentions", "mean_step", "correct", "score", "is_best", "rank"),
        },
    ),
    _values_section(
        "cluster_stats",
        lambda c: ClusterStat.objects.filter(image__campaign=c).order_by("cluster_map_id"),
        {
            "cluster": "cluster_map_id",
            "image": "image_id",
            **_same(
                "rounds", "wins", "losses", "resigns", "mean_step", "n_mentions", "best", "labelled"
            ),
        },
    ),
    _values_section(
        "merged_groups",
        lambda c: MergedGroup.objects.filter(image__campaign=c).order_by("id"),
        {
            "id": "id",
            "image": "image_id",
            "layer_result": "layer_result_id",
            "layer": "layer",
            "kind": "kind",
            "clusters": "cluster_ids",
            **_same(
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
        },
        convert={"scores": _merged_scores},
    ),
    _values_section(
        "global_labels",
        lambda c: GlobalLabel.objects.filter(campaign=c).order_by(
            "class_name", "layer_position", "rank"
        ),
        _same(
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
    _values_section(
        "label_trends",
        lambda c: LabelTrend.objects.filter(campaign=c).order_by("class_name", "direction", "rank"),
        _same("class_name", "label", "layers", "values", "slope", "direction", "rank", "shown"),
    ),
    _values_section(
        "curation_rules",
        lambda c: CurationRule.objects.filter(campaign=c).order_by("id"),
        _same("id", "class_name", "action", "keys", "name", "created_at"),
        convert={"created_at": _iso},
    ),
)

# Sections an app above processing adds after processing's own, at start-up: the validation's
# (``ValidationConfig.ready``), so that processing never imports the validation app.
_added: dict[str, Section] = {}


def export_sections_add(*sections: Section) -> None:
    """Add ``sections`` to every export, after those added before (adding one again is a
    no-op)."""
    own = {s.name for s in SECTIONS}
    for section in sections:
        if section.name in own:
            raise ValueError(f"The export already has a section {section.name!r}.")
        _added.setdefault(section.name, section)


def export_sections() -> tuple[Section, ...]:
    """Every section of the export, in order: processing's, then those added by other apps."""
    return (*SECTIONS, *_added.values())


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


# CSV (formula) injection, OWASP's rule: a spreadsheet reads a cell that begins with one of these
# as a formula (``=HYPERLINK(…)``, ``=cmd|…``). Such a text cell gets a leading single quote, which
# spreadsheets take as "this is text". Leading whitespace is looked through first (" =1+1" is
# neutralised too), and NUL / line feed are added to OWASP's list (ASVS 1.2.10 names NUL).
# Only strings are touched: a number (a negative score) stays a number; JSON keeps the raw text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def csv_cell_neutralise(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet evaluates (OWASP CSV-injection rule)."""
    if text[:1] in FORMULA_TRIGGERS or text.lstrip(" \t\r\n\f\v\u00a0")[:1] in FORMULA_TRIGGERS:
        return "'" + text
    return text


def _csv_value(value):
    if isinstance(value, dict | list | tuple):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_cell_neutralise(value)
    return value


def export_write(
    *, campaign: Campaign, progress: ProgressFn | None = None
) -> tuple[str, int, dict[str, int]]:
    """Write the export zip; returns (storage name, size in bytes, rows per section)."""
    progress = progress or (lambda stage, fraction: None)
    sections = export_sections()
    counts = {s.name: s.count(campaign) for s in sections}
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
                for section in sections:
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
            for section in sections:
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
