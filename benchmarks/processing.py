"""Acceptance figures of label processing on a synthetic campaign (run on PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netviz_bench \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netviz_bench \\
        .venv/bin/python manage.py bench_processing --json var/bench/processing.json

Steps (each reported with its wall time):

1. seed: a synthetic campaign of N characteristics (default 10,000) in the style of players —
   plurals, typos, modifiers, class-name leaks, case and punctuation noise, 5% junk — over the
   ten Imagenette classes (10 images each, 3 layers × 4 clusters, real 7×7 maps); 80% right
   guesses, 8% resigns, 4% rounds closed without characteristics; 1–5 characteristics per round.
2. rebuild (cold): ``manage.py process_labels --campaign ID --rebuild`` in a fresh process with
   the embedding store emptied: end-to-end wall time (process start, model load, everything) and
   the command's own total.
3. rebuild (warm): the same again (stored embeddings reused, as after any earlier processing).
4. incremental: every round, in finishing order, through :func:`processing.services.round_process`
   (the ``process_round`` task's body) with the embedder loaded, from an empty state and an empty
   embedding store (new strings are embedded by the model in the task that meets them); the task
   times' p50 / p95 / max overall and over the last quarter. Twice: pure incremental (automatic
   regroup off), and with the automatic regroup (NETVIZ_PROCESSING_REGROUP_GROWTH 0.25, MIN 200)
   run after the round that asks for it, as the worker would (timed apart).
5. incremental vs rebuild, for both runs: the final groups against a rebuild of the same data:
   pairwise precision and recall of "same group" over distinct keys and over mentions, the share
   of mentions whose label is the same, identical groups, and the largest complete-link
   distance inside a group vs the threshold.
6. export: the ``export_campaign`` task's body on the campaign; time and size.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from benchmarks.synthetic_labels import IMAGENETTE, synthetic_text
from explanations.arrays import array_to_bytes
from explanations.models import (
    Campaign,
    CampaignImage,
    ClusterMap,
    ExplanationJob,
    LayerResult,
    ModelSpec,
)
from game.models import Characteristic, Player, Round

LAYERS = ("layer1", "layer2", "layer3")
WEIGHTS = (40.0, 30.0, 20.0, 10.0)


def seed_campaign(
    *, n_characteristics: int = 10_000, images_per_class: int = 10, seed: int = 2024
) -> Campaign:
    """Create the synthetic campaign (bulk inserts; no files are written)."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    classes = list(IMAGENETTE)
    tag = secrets.token_hex(4)
    campaign = _seed_campaign_row(classes=classes, tag=tag)
    images = _seed_images(
        campaign=campaign, classes=classes, tag=tag, images_per_class=images_per_class
    )
    layers, clusters = _seed_explanations(campaign=campaign, images=images, tag=tag, np_rng=np_rng)
    by_image: dict[int, list[ClusterMap]] = defaultdict(list)
    for c in clusters:
        by_image[c.image_id].append(c)
    players = Player.objects.bulk_create(
        [Player(nickname=f"bench{tag}{i}") for i in range(max(50, n_characteristics // 30))]
    )
    rounds, texts = _seed_rounds(
        campaign=campaign,
        images=images,
        players=players,
        by_image=by_image,
        n_characteristics=n_characteristics,
        rng=rng,
    )
    position_of = {lr.pk: lr.position for lr in layers}
    for rnd in rounds:
        rnd.layer_position = position_of[rnd.cluster_map.layer_result_id]
    Round.objects.bulk_create(rounds, batch_size=2000)
    Characteristic.objects.bulk_create(
        [
            Characteristic(round=rnd, player=rnd.player, position=i, text=text)
            for rnd, items in zip(rounds, texts)
            for i, text in enumerate(items)
        ],
        batch_size=5000,
    )
    return campaign


def _seed_campaign_row(*, classes: list[str], tag: str) -> Campaign:
    spec, _ = ModelSpec.objects.get_or_create(
        name="bench-synthetic",
        defaults={"kind": ModelSpec.Kind.BUILTIN, "class_names": classes},
    )
    return Campaign.objects.create(
        name=f"bench {tag}",
        slug=f"bench-{tag}",
        model=spec,
        classes=classes,
        aliases={"English springer, English springer spaniel": ["spaniel"]},
        explained_layers=list(LAYERS),
        params_hash=secrets.token_hex(32),
        status=Campaign.Status.PUBLISHED,
    )


def _seed_images(
    *, campaign: Campaign, classes: list[str], tag: str, images_per_class: int
) -> list[CampaignImage]:
    return CampaignImage.objects.bulk_create(
        [
            CampaignImage(
                campaign=campaign,
                file=f"bench/{tag}-{i}.png",
                sha256=f"{tag}{i:056x}",
                original_name=f"{cls.split(',')[0]}-{k}.png",
                width=224,
                height=224,
                true_class=cls,
                target_class=cls,
                predicted_class=cls,
                probability=0.9,
            )
            for i, (cls, k) in enumerate(
                (cls, k) for cls in classes for k in range(images_per_class)
            )
        ]
    )


def _seed_explanations(
    *, campaign: Campaign, images: list[CampaignImage], tag: str, np_rng: np.random.Generator
) -> tuple[list[LayerResult], list[ClusterMap]]:
    """A finished job per image, its layers and their cluster maps (random 7×7 maps)."""
    jobs = ExplanationJob.objects.bulk_create(
        [
            ExplanationJob(
                image=im,
                params_hash=campaign.params_hash,
                status=ExplanationJob.Status.DONE,
                progress=1.0,
                finished_at=timezone.now(),
            )
            for im in images
        ]
    )
    layers = LayerResult.objects.bulk_create(
        [
            LayerResult(
                job=job,
                image=job.image,
                layer=name,
                position=p,
                n_channels=64,
                height=7,
                width=7,
                retained_weight=100.0,
                shares=b"",
                gradcam=b"",
            )
            for job in jobs
            for p, name in enumerate(LAYERS)
        ]
    )
    clusters = ClusterMap.objects.bulk_create(
        [
            ClusterMap(
                layer_result=lr,
                image=lr.image,
                index=k,
                channels=[k],
                weight=w,
                n_maps=16,
                map=array_to_bytes(np_rng.random((7, 7))),
                overlay=f"bench/{tag}.jpg",
                frames=[f"bench/{tag}-{s}.jpg" for s in range(6)],
            )
            for lr in layers
            for k, w in enumerate(WEIGHTS)
        ]
    )
    return layers, clusters


def _seed_rounds(
    *,
    campaign: Campaign,
    images: list[CampaignImage],
    players: list[Player],
    by_image: dict[int, list[ClusterMap]],
    n_characteristics: int,
    rng: random.Random,
) -> tuple[list[Round], list[list[str]]]:
    """Finished rounds (not saved; ``layer_position`` set by the caller) and their texts."""
    classes = list(campaign.classes)
    played: set[tuple[int, int]] = set()
    rounds: list[Round] = []
    texts: list[list[str]] = []
    remaining = n_characteristics
    t = timezone.now() - timezone.timedelta(days=1)
    while remaining > 0:
        image = rng.choice(images)
        player = rng.choice(players)
        if (player.pk, image.pk) in played:
            continue
        played.add((player.pk, image.pk))
        cluster = rng.choice(by_image[image.pk])
        r = rng.random()
        n = 0
        if r < 0.08:
            outcome, guess, step = Round.Outcome.RESIGN, "", 5
        else:
            right = rng.random() < 0.8
            guess = image.true_class if right else rng.choice(classes)
            outcome = Round.Outcome.WIN if guess == image.true_class else Round.Outcome.LOSS
            step = rng.randrange(6)
            n = 0 if r < 0.12 else min(rng.randint(1, 5), remaining)
        t += timezone.timedelta(seconds=5)
        rounds.append(
            Round(
                token=secrets.token_urlsafe(24),
                player=player,
                campaign=campaign,
                image=image,
                cluster_map=cluster,
                layer_position=0,  # set by the caller
                answer=image.true_class,
                status=Round.Status.DONE,
                outcome=outcome,
                step=step,
                guess=guess,
                started_at=t - timezone.timedelta(seconds=30),
                expires_at=t + timezone.timedelta(minutes=15),
                guessed_at=t,
                finished_at=t,
            )
        )
        texts.append([synthetic_text(image.true_class, rng) for _ in range(n)])
        remaining -= n
    return rounds, texts


def _clear_processing(campaign: Campaign) -> None:
    from processing.models import CurationRule
    from processing.services.rebuild import campaign_records_delete

    with transaction.atomic():
        campaign_records_delete(campaign)
        CurationRule.objects.filter(campaign=campaign).delete()


def _clear_embeddings() -> None:
    from processing.embeddings import embedding_memo_clear
    from processing.models import LabelEmbedding

    LabelEmbedding.objects.all().delete()
    embedding_memo_clear()


def _command_rebuild(campaign: Campaign, out: Path) -> dict:
    """Run ``manage.py process_labels --rebuild`` in a fresh process; returns its summary."""
    root = Path(settings.BASE_DIR)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.setdefault("DJANGO_SETTINGS_MODULE", os.environ.get("DJANGO_SETTINGS_MODULE", ""))
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(root / "manage.py"),
            "process_labels",
            "--campaign",
            str(campaign.pk),
            "--rebuild",
            "--no-progress",
            "--json",
            str(out),
        ],
        check=True,
        cwd=root,
        env=env,
    )
    wall = time.perf_counter() - start
    summary = json.loads(out.read_text())
    summary["process_wall_s"] = round(wall, 2)
    return summary


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def _partition(campaign: Campaign) -> dict[str, dict[str, int]]:
    """class -> key -> group id."""
    from processing.models import LabelGroup

    out: dict[str, dict[str, int]] = defaultdict(dict)
    for g in LabelGroup.objects.filter(campaign=campaign):
        for k in g.members:
            out[g.class_name][k] = g.pk
    return out


def _mention_labels(campaign: Campaign) -> dict[int, str]:
    from processing.models import LabelMention

    return {
        cid: name or canonical
        for cid, name, canonical in LabelMention.objects.filter(
            campaign=campaign, group__isnull=False
        ).values_list("characteristic_id", "group__name", "group__canonical")
    }


def _key_counts(campaign: Campaign) -> dict[str, dict[str, int]]:
    from processing.models import LabelMention

    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for cls, key in LabelMention.objects.filter(campaign=campaign, refused_reason="").values_list(
        "class_name", "key"
    ):
        out[cls][key] += 1
    return out


def compare_partitions(
    a: dict[str, dict[str, int]],
    b: dict[str, dict[str, int]],
    counts: dict[str, dict[str, int]] | None = None,
) -> dict:
    """Pairwise precision/recall of partition ``a`` against reference ``b`` (same keys).

    Over distinct keys, and (with ``counts``) over mentions: a pair of mentions is "together"
    when their keys are in one group (mentions of one key are always together in both).
    """
    tp = fp = fn = 0
    wtp = wfp = wfn = 0
    identical = total_groups = 0
    for cls in sorted(set(a) | set(b)):
        ka, kb = a.get(cls, {}), b.get(cls, {})
        keys = sorted(set(ka) & set(kb))
        for x, y in combinations(keys, 2):
            sa, sb = ka[x] == ka[y], kb[x] == kb[y]
            w = counts[cls][x] * counts[cls][y] if counts else 1
            if sa and sb:
                tp += 1
                wtp += w
            elif sa:
                fp += 1
                wfp += w
            elif sb:
                fn += 1
                wfn += w
        ga: dict[int, set[str]] = defaultdict(set)
        gb: dict[int, set[str]] = defaultdict(set)
        for k in keys:
            ga[ka[k]].add(k)
            gb[kb[k]].add(k)
        sets_b = {frozenset(s) for s in gb.values()}
        identical += sum(frozenset(s) in sets_b for s in ga.values())
        total_groups += len(gb)

    def ratio(x: int, y: int) -> float:
        return round(x / y, 4) if y else 1.0

    out = {
        "key_pairs_precision": ratio(tp, tp + fp),
        "key_pairs_recall": ratio(tp, tp + fn),
        "key_pairs_disagreeing": fp + fn,
        "key_pairs_together_reference": tp + fn,
        "identical_groups": identical,
        "reference_groups": total_groups,
    }
    if counts:
        out["mention_pairs_precision"] = ratio(wtp, wtp + wfp)
        out["mention_pairs_recall"] = ratio(wtp, wtp + wfn)
    return out


def _diameters(campaign: Campaign, embedder) -> dict:
    """Largest complete-link distance inside each group (the bound of incremental joining)."""
    from processing.models import LabelGroup
    from processing.nlp.embed import TemplatedEmbedder
    from processing.nlp.grouping import head_word, pairwise_distances
    from processing.services.common import grouping_settings_get

    gs = grouping_settings_get()
    embed = TemplatedEmbedder(embedder, gs.template)
    worst = []
    for g in LabelGroup.objects.filter(campaign=campaign):
        if len(g.members) < 2:
            continue
        e = embed.embed(g.members)
        h = embed.embed([head_word(m) for m in g.members])
        worst.append(float(pairwise_distances(e, h, gs.head_weight).max()))
    over = [d for d in worst if d > gs.threshold + 1e-6]
    return {
        "threshold": gs.threshold,
        "groups_with_2plus_members": len(worst),
        "max_diameter": round(max(worst), 4) if worst else 0.0,
        "groups_over_threshold": len(over),
        "note": "over the threshold only through derivation links (distance 0) or unification",
    }


def _dump_groups(path: Path, part: dict[str, dict[str, int]]) -> None:
    groups: dict[str, list[list[str]]] = {}
    for cls, key_group in part.items():
        by_group: dict[int, list[str]] = defaultdict(list)
        for key, gid in key_group.items():
            by_group[gid].append(key)
        groups[cls] = sorted(sorted(keys) for keys in by_group.values())
    path.write_text(json.dumps(groups, indent=1))


def _incremental_run(campaign: Campaign, *, regroup: bool, log=print):
    """Every round through ``round_process`` from an empty state and embedding store.

    With ``regroup``, the automatic full regroup (NETVIZ_PROCESSING_REGROUP_*) runs where the
    worker would run it: after the round that asked for it (timed apart, not in round times).
    """
    from django.test import override_settings

    from processing import services
    from processing.embeddings import StoredEmbedder
    from processing.services import enqueue
    from workers.runtime import embedder_get

    _clear_processing(campaign)
    _clear_embeddings()
    embedder = embedder_get()
    embedder.embed(["warm up"])
    services.processing_warm_up()
    stored = StoredEmbedder(embedder)
    round_ids = list(
        Round.objects.filter(campaign=campaign, status=Round.Status.DONE)
        .order_by("finished_at", "id")
        .values_list("pk", flat=True)
    )
    # Rounds finish one by one: until its turn a round is not done (expired, which no path
    # processes), so a regroup only sees the rounds finished before it, as in production.
    Round.objects.filter(pk__in=round_ids).update(status=Round.Status.EXPIRED)
    requested: list[bool] = []
    original = enqueue.campaign_process_enqueue
    enqueue.campaign_process_enqueue = lambda *, campaign, rebuild=False: requested.append(rebuild)
    times, with_chars, regroups = [], [], []
    growth = 0.25 if regroup else 0.0
    try:
        with override_settings(NETVIZ_PROCESSING_REGROUP_GROWTH=growth):
            t = time.perf_counter()
            for i, rid in enumerate(round_ids):
                Round.objects.filter(pk=rid).update(status=Round.Status.DONE)
                t0 = time.perf_counter()
                res = services.round_process(round_id=rid, embedder=stored)
                dt = time.perf_counter() - t0
                times.append(dt)
                if res.mentions + res.refused:
                    with_chars.append(dt)
                if requested:
                    requested.clear()
                    t1 = time.perf_counter()
                    services.campaign_rebuild(campaign=campaign, embedder=stored)
                    regroups.append(round(time.perf_counter() - t1, 2))
                if (i + 1) % 1000 == 0:
                    log(f"  {i + 1}/{len(round_ids)}: p95 {_percentile(times, 95):.3f} s")
            total = time.perf_counter() - t
    finally:
        enqueue.campaign_process_enqueue = original
        Round.objects.filter(pk__in=round_ids).update(status=Round.Status.DONE)
    last = times[-len(times) // 4 :]
    timing = {
        "rounds": len(times),
        "total_s": round(total, 2),
        "p50_ms": round(1000 * _percentile(times, 50), 1),
        "p95_ms": round(1000 * _percentile(times, 95), 1),
        "p99_ms": round(1000 * _percentile(times, 99), 1),
        "max_ms": round(1000 * max(times), 1),
        "mean_ms": round(1000 * statistics.fmean(times), 1),
        "with_characteristics_p95_ms": round(1000 * _percentile(with_chars, 95), 1),
        "last_quarter_p95_ms": round(1000 * _percentile(last, 95), 1),
        "embedded": dict(stored.stats),
    }
    if regroup:
        timing["regroups"] = len(regroups)
        timing["regroup_seconds"] = regroups
    return _partition(campaign), _mention_labels(campaign), timing


def run(
    *,
    n_characteristics: int = 10_000,
    incremental: bool = True,
    export: bool = True,
    keep: bool = False,
    out_dir: Path | None = None,
    log=print,
) -> dict:
    """Seed, measure every step of the module docstring, delete the campaign (unless ``keep``)."""
    out_dir = out_dir or Path(settings.BASE_DIR) / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        report["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
    t = time.perf_counter()
    campaign = seed_campaign(n_characteristics=n_characteristics)
    report["seed_s"] = round(time.perf_counter() - t, 2)
    report["campaign"] = {
        "id": campaign.pk,
        "characteristics": Characteristic.objects.filter(round__campaign=campaign).count(),
        "rounds": Round.objects.filter(campaign=campaign).count(),
        "images": campaign.images.count(),
        "clusters": ClusterMap.objects.filter(image__campaign=campaign).count(),
    }
    log(f"seeded {report['campaign']} in {report['seed_s']} s")
    try:
        _clear_embeddings()
        report["rebuild_cold"] = _command_rebuild(campaign, out_dir / "rebuild_cold.json")
        log(f"rebuild (cold): {report['rebuild_cold']['process_wall_s']} s wall")
        report["rebuild_warm"] = _command_rebuild(campaign, out_dir / "rebuild_warm.json")
        log(f"rebuild (warm): {report['rebuild_warm']['process_wall_s']} s wall")
        if incremental:
            report.update(_incremental_reports(campaign, out_dir=out_dir, log=log))
        if export:
            report["export"] = _export_report(campaign, keep=keep)
            log(f"export: {report['export']}")
    finally:
        if not keep:
            campaign.delete()
    with contextlib.suppress(OSError):
        report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def _incremental_reports(campaign: Campaign, *, out_dir: Path, log) -> dict:
    """Both incremental runs (without and with the automatic regroup) against the rebuild."""
    from processing import services
    from processing.embeddings import StoredEmbedder
    from workers.runtime import embedder_get

    rebuilt = _partition(campaign)
    rebuilt_labels = _mention_labels(campaign)
    counts = _key_counts(campaign)
    report: dict = {}
    for regroup in (False, True):
        name = "incremental_regroup" if regroup else "incremental"
        part, labels, timing = _incremental_run(campaign, regroup=regroup, log=log)
        report[name] = timing
        log(f"{name}: {timing}")
        same = sum(1 for cid, lab in rebuilt_labels.items() if labels.get(cid) == lab)
        report[f"{name}_vs_rebuild"] = {
            **compare_partitions(part, rebuilt, counts),
            "mentions_same_label": round(same / max(len(rebuilt_labels), 1), 4),
            "groups_incremental": sum(len(set(v.values())) for v in part.values()),
            "groups_rebuild": sum(len(set(v.values())) for v in rebuilt.values()),
            "bound": _diameters(campaign, StoredEmbedder(embedder_get())),
        }
        log(f"{name} vs rebuild: {report[f'{name}_vs_rebuild']}")
        _dump_groups(out_dir / f"groups_{name}.json", part)
    _dump_groups(out_dir / "groups_rebuild.json", rebuilt)
    services.campaign_rebuild(campaign=campaign)  # back to the rebuilt state
    return report


def _export_report(campaign: Campaign, *, keep: bool) -> dict:
    """The ``export_campaign`` task's body on the campaign: time, size and counts."""
    from processing import services

    exp = services.campaign_export_create(campaign=campaign, enqueue=False)
    t = time.perf_counter()
    services.campaign_export_run(export_id=exp.pk)
    exp.refresh_from_db()
    report = {
        "status": exp.status,
        "seconds": round(time.perf_counter() - t, 2),
        "size_bytes": exp.size,
        "counts": exp.counts,
    }
    if not keep and exp.file:
        exp.file.delete(save=False)
    return report
