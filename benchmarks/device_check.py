"""CPU/GPU parity and GPU throughput of the INV engine (no Django; ``python -m benchmarks.gpu_check`` runs it).

Parity: the same model and photos explained on ``cpu`` and on ``cuda`` must give the same
explanation up to floating-point noise. Per image and layer it reports

- ``shares_max_abs``: max |ŵ_cpu − ŵ_gpu| in percentage points;
- ``kept_jaccard``: Jaccard index of the kept-channel sets (1.0 = same channels pass the rule);
- ``ari``: adjusted Rand index of the cluster partitions on the channels both kept
  (1.0 = same clusters; channels pruned on one side count as their own cluster);
- ``map_corr``: Pearson correlation of the top cluster's map (``nan`` if either is constant);
- ``same_prediction``: the top-1 class agrees.

``allow_tf32=(True, False)`` compares PyTorch's default (cuDNN may use TF32 for convolutions)
with full float32; the engine itself always explains in full float32 (:func:`workers.inv.capture.exact_float32`),
so ``(False,)`` (the default) checks what a worker computes, and ``True`` patches the engine's
guard out to show what TF32 would do.

Throughput: images per second of ``explain_batch`` (fast mode) at several batch sizes on each
device, with the tensor part and the CPU part (clustering + maps) per image.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any
from unittest import mock

import numpy as np
import torch

from benchmarks.engine import PHOTOS, bench_model_load, device_sync, json_safe, photo_view
from workers.inv import capture as capture_mod
from workers.inv.explain import explain_batch
from workers.inv.models import resolve_layers
from workers.inv.types import EngineParams, ImageExplanation

__all__ = ["compare_explanations", "device_parity", "process_throughput", "throughput"]


def _partition(layer, channels: Sequence[int]) -> list[int]:
    """Cluster label of each channel in ``channels`` (channels in no cluster get unique labels)."""
    label = {}
    for c in layer.clusters:
        for ch in c.channels:
            label[ch] = c.index
    out = []
    for i, ch in enumerate(channels):
        out.append(label.get(ch, 10_000 + i))
    return out


def compare_explanations(a: ImageExplanation, b: ImageExplanation) -> dict[str, Any]:
    """Parity figures of two explanations of the same image (see the module docstring)."""
    from sklearn.metrics import adjusted_rand_score

    layers = []
    for la, lb in zip(a.layers, b.layers, strict=True):
        ka, kb = set(la.kept_channels), set(lb.kept_channels)
        union = ka | kb
        common = sorted(ka & kb)
        ari = (
            float(adjusted_rand_score(_partition(la, common), _partition(lb, common)))
            if len(common) >= 2
            else float("nan")
        )
        corr = float("nan")
        if la.clusters and lb.clusters:
            ma, mb = la.clusters[0].map.ravel(), lb.clusters[0].map.ravel()
            if ma.std() > 0 and mb.std() > 0:
                corr = float(np.corrcoef(ma, mb)[0, 1])
        layers.append(
            {
                "layer": la.layer,
                "shares_max_abs": float(np.max(np.abs(la.shares - lb.shares))),
                "kept": [len(ka), len(kb)],
                "kept_jaccard": len(ka & kb) / len(union) if union else 1.0,
                "clusters": [len(la.clusters), len(lb.clusters)],
                "ari": ari,
                "map_corr": corr,
                "gradcam_max_abs": float(np.max(np.abs(la.gradcam - lb.gradcam))),
            }
        )
    return {
        "same_prediction": a.predicted_index == b.predicted_index,
        "probability_abs": abs(a.probability - b.probability),
        "layers": layers,
    }


def _summary(per_image: list[dict]) -> dict[str, Any]:
    rows = [row for img in per_image for row in img["layers"]]

    def finite(key):
        return [r[key] for r in rows if r[key] == r[key]]

    return {
        "images": len(per_image),
        "layer_rows": len(rows),
        "same_prediction": all(img["same_prediction"] for img in per_image),
        "shares_max_abs": max(finite("shares_max_abs"), default=float("nan")),
        "kept_jaccard_min": min(finite("kept_jaccard"), default=float("nan")),
        "kept_jaccard_mean": statistics.mean(finite("kept_jaccard") or [float("nan")]),
        "identical_kept_sets": sum(1 for r in rows if r["kept_jaccard"] == 1.0),
        "ari_min": min(finite("ari"), default=float("nan")),
        "ari_mean": statistics.mean(finite("ari") or [float("nan")]),
        "identical_partitions": sum(1 for r in rows if r["ari"] == 1.0),
        "map_corr_min": min(finite("map_corr"), default=float("nan")),
    }


def device_parity(
    model_name: str,
    *,
    device: str = "cuda",
    modes: Sequence[str] = ("fast", "paper"),
    layers: Sequence[str] | None = None,
    random_weights: bool | None = None,
    allow_tf32: Sequence[bool] = (False,),
    photos: Sequence[str] = PHOTOS,
) -> dict[str, Any]:
    """Explain ``photos`` on the CPU and on ``device`` and compare (see the module docstring)."""
    cpu_model, used_random = bench_model_load(
        model_name, device="cpu", random_weights=random_weights
    )
    gpu_model, _ = bench_model_load(model_name, device=device, random_weights=used_random)
    layers = resolve_layers(cpu_model, layers)
    views = [photo_view(cpu_model, name) for name in photos]
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    result: dict[str, Any] = {
        "model": model_name,
        "random_weights": used_random,
        "device": device,
        "layers": list(layers),
        "photos": list(photos),
        "runs": {},
    }
    try:
        for mode in modes:
            params = EngineParams(mode=mode)
            ref = explain_batch(cpu_model, views, layers=layers, params=params)
            for tf32 in allow_tf32:
                guard = contextlib.nullcontext if tf32 else capture_mod.exact_float32
                torch.backends.cudnn.allow_tf32 = tf32
                torch.backends.cuda.matmul.allow_tf32 = tf32
                with mock.patch.object(capture_mod, "exact_float32", guard):
                    got = explain_batch(gpu_model, views, layers=layers, params=params)
                per_image = [compare_explanations(r, g) for r, g in zip(ref, got, strict=True)]
                result["runs"][f"{mode}, tf32={'on' if tf32 else 'off'}"] = {
                    "summary": _summary(per_image),
                    "images": per_image,
                }
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old
    return json_safe(result)


def throughput(
    model_name: str,
    *,
    devices: Sequence[str] = ("cpu", "cuda"),
    batch_sizes: Sequence[int] = (1, 8, 32),
    repeats: int = 3,
    layers: Sequence[str] | None = None,
    random_weights: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Images per second of ``explain_batch`` (fast mode) per device and batch size.

    Each batch cycles through the photos; medians of ``repeats`` timed calls after one warm-up.
    ``tensor_ms`` is the tensor part per image (the batched forward/backward, weights and
    Grad-CAM); ``cpu_ms`` the clustering and maps per image, which run on the CPU on every device.
    """
    say = progress or (lambda msg: None)
    params = EngineParams(mode="fast")
    out: dict[str, Any] = {"model": model_name, "runs": []}
    for device in devices:
        model, used_random = bench_model_load(
            model_name, device=device, random_weights=random_weights
        )
        out["random_weights"] = used_random
        names = resolve_layers(model, layers)
        photos = [photo_view(model, name) for name in PHOTOS]
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        for bs in batch_sizes:
            views = [photos[i % len(photos)] for i in range(bs)]
            walls, tensor, cpu = [], [], []
            for i in range(repeats + 1):
                t0 = time.perf_counter()
                expl = explain_batch(model, views, layers=names, params=params)
                device_sync(device)
                wall = time.perf_counter() - t0
                if i == 0:
                    continue
                walls.append(wall)
                tensor.append(expl[0].timings["tensor"])
                cpu.append(
                    statistics.mean(e.timings["clustering"] + e.timings["maps"] for e in expl)
                )
            wall = statistics.median(walls)
            row = {
                "device": device,
                "batch": bs,
                "images_per_s": bs / wall,
                "ms_per_image": wall / bs * 1000,
                "tensor_ms_per_image": statistics.median(tensor) * 1000,
                "cpu_ms_per_image": statistics.median(cpu) * 1000,
            }
            if device.startswith("cuda"):
                row["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
            out["runs"].append(row)
            say(
                f"{model_name} {device} batch {bs}: {row['images_per_s']:.1f} img/s "
                f"(tensor {row['tensor_ms_per_image']:.1f} ms, cpu {row['cpu_ms_per_image']:.1f} ms per image)"
            )
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return json_safe(out)


def _process_worker(model_name, device, random_weights, seconds, with_reveal, barrier, queue):
    """One worker process: load once, warm up, wait for the others, then explain until the deadline."""
    torch.set_num_threads(1)  # as NETVIZ_TORCH_THREADS=1 on workers
    from workers.inv.render import game_image
    from workers.inv.reveal import reveal_frames

    try:
        model, _ = bench_model_load(model_name, device=device, random_weights=random_weights)
        names = resolve_layers(model, None)
        params = EngineParams(mode="fast")
        photos = [photo_view(model, name) for name in PHOTOS]
        games = [game_image(v, size=params.game_size) for v in photos]

        def one(i: int) -> None:
            (expl,) = explain_batch(model, [photos[i % 4]], layers=names, params=params)
            if with_reveal:
                for layer in expl.layers:
                    for cluster in layer.clusters:
                        reveal_frames(
                            games[i % 4],
                            cluster.map,
                            percents=params.reveal_percents,
                            method=params.reveal_method,
                            feather=params.reveal_feather,
                        )

        one(0)
        device_sync(device)
    except Exception as exc:  # reported by the parent
        barrier.abort()
        queue.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    barrier.wait()
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        one(count)
        count += 1
    device_sync(device)
    queue.put(("ok", count, time.perf_counter() - t0))


def process_throughput(
    model_name: str,
    *,
    device: str,
    processes: int,
    seconds: float = 15.0,
    random_weights: bool | None = None,
    with_reveal: bool = True,
) -> dict[str, Any]:
    """Images per second of ``processes`` worker-like processes sharing one device.

    Each process is what a Celery worker child does per image: ``explain_batch`` of one image in
    fast mode with one torch thread, then the reveal frames of every cluster. The processes are
    spawned (CUDA cannot be used after fork), load the model, warm up, start together and run
    for ``seconds``.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    queue = ctx.Queue()
    args = (model_name, device, random_weights, seconds, with_reveal, barrier, queue)
    procs = [ctx.Process(target=_process_worker, args=args) for _ in range(processes)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [r[1] for r in results if r[0] == "error"]
    if errors:
        raise RuntimeError(f"{len(errors)} worker process(es) failed: {errors[0]}")
    images = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results)
    return {
        "model": model_name,
        "device": device,
        "processes": processes,
        "cpu_count": os.cpu_count(),
        "with_reveal": with_reveal,
        "seconds": elapsed,
        "images": images,
        "images_per_s": images / elapsed,
        "s_per_image_per_process": processes * elapsed / images if images else None,
    }
