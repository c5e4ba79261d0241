"""Benchmark of the INV engine on one model, in one process (``manage.py bench_engine`` wraps it).

On one real photo (scikit-image's ``chelsea``), medians over ``repeats`` runs after one warm-up:

(a) **plain**: one forward + backward of the top-1 logit down to the input, as PyTorch does it
    by default (parameters require grad, so every weight gradient is computed too): the baseline
    of the tensor-part target; also reported with frozen parameters (input gradient only), a
    stricter baseline the target is not defined on;
(b) **INV** on the layers (default: the model's default layers) per clustering mode (``fast``,
    ``paper``), split as ``explain_batch`` reports it: tensor part (capture, weights, Grad-CAM),
    clustering, cluster maps; and the whole call's wall time (= INV without reveal);
(c) **grad-cam loop**: pytorch-grad-cam's ``GradCAM`` called once per explained layer;
(d) **reveal**: the 6 reveal frames of one cluster map at game size (ms);
(e) **memory**: RSS after each of ``n_memory_images`` consecutive images (fast mode, with the reveal
    frames of every cluster, as a worker does), cycling through chelsea, coffee, astronaut, rocket;
    growth from image 5 to the last one, in percent.

Targets (2-core CPU): tensor ≤ 0.6 × plain; fast mode without reveal ≤ 0.3 × grad-cam loop;
6 reveal frames ≤ 15 ms; memory growth after image 5 < 10 %.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import PIL.Image
import torch

from workers.inv.errors import ModelLoadError
from workers.inv.models import (
    LoadedModel,
    ModelSource,
    builtin_model_names,
    layer_shapes,
    load_model,
    resolve_layers,
    torchvision_cached_weights_path,
    torchvision_names,
)

__all__ = ["format_report", "run_benchmark", "TARGETS"]

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")
TARGETS = {
    "tensor_over_plain": ("≤", 0.6),
    "fast_no_reveal_over_gradcam_loop": ("≤", 0.3),
    "reveal_6_frames_ms": ("≤", 15.0),
    "memory_growth_after_5_pct": ("<", 10.0),
}


def run_benchmark(
    model_name: str,
    *,
    repeats: int = 5,
    n_memory_images: int = 50,
    device: str = "cpu",
    layers: Sequence[str] | None = None,
    random_weights: bool | None = None,
    modes: Sequence[str] = ("fast", "paper"),
    reveal_runs: int | None = None,
    memory_reveal: bool = True,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run the benchmark; returns a JSON-safe dict (see the module docstring).

    ``model_name``: a built-in name (``efficientnet_lite0``), a torchvision classification
    architecture (``vgg16``) or ``timm:NAME``. ``random_weights=None``: random weights for a
    torchvision model whose ImageNet weights are not on this machine (and for timm models whose
    pretrained weights cannot be loaded), real weights otherwise. ``reveal_runs``: timed reveal
    runs (default max(repeats, 10)); ``memory_reveal``: render every cluster's reveal frames in
    the memory run; ``threads``: torch intra-op threads for the run (default: unchanged; on a
    busy machine 1 thread gives far steadier timings); ``progress``: called with one line per
    finished step.
    """
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return _run(
            model_name,
            repeats=repeats,
            n_memory_images=n_memory_images,
            device=device,
            layers=layers,
            random_weights=random_weights,
            modes=modes,
            reveal_runs=reveal_runs,
            memory_reveal=memory_reveal,
            progress=progress,
        )
    finally:
        torch.set_num_threads(old_threads)


def _run(
    model_name: str,
    *,
    repeats: int,
    n_memory_images: int,
    device: str,
    layers: Sequence[str] | None,
    random_weights: bool | None,
    modes: Sequence[str],
    reveal_runs: int | None,
    memory_reveal: bool,
    progress: Callable[[str], None] | None,
) -> dict:
    from workers.inv.types import EngineParams

    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    say = progress or (lambda msg: None)
    t_load = time.perf_counter()
    model, used_random = bench_model_load(model_name, device=device, random_weights=random_weights)
    load_s = time.perf_counter() - t_load
    layers = resolve_layers(model, layers)
    say(f"loaded {model_name} in {load_s:.1f} s; {len(layers)} layers")
    views = {name: photo_view(model, name) for name in PHOTOS}
    view = views["chelsea"]
    shapes = layer_shapes(model)

    result: dict[str, Any] = {
        "model": model_name,
        "device": device,
        "random_weights": used_random,
        "layers": list(layers),
        "layer_shapes": {n: list(shapes.get(n, ())) for n in layers},
        "repeats": repeats,
        "image": "chelsea",
        "crop": model.preprocessing.crop,
        "load_s": load_s,
        "environment": _environment(),
    }

    # (a) plain forward + backward to the input
    x = model.preprocessing.to_tensor(view)[None].to(device)
    result["plain_input_only_s"], result["plain_fwd_bwd_s"] = _plain_times(
        model, x, repeats, device
    )
    say(f"plain forward+backward (input grad only): {result['plain_input_only_s'] * 1000:.0f} ms")
    say(
        f"plain forward+backward (default, with weight grads): {result['plain_fwd_bwd_s'] * 1000:.0f} ms"
    )

    # (b) INV per mode
    result["inv"], first_fast = _inv_times(model, view, layers, modes, repeats, device, say)

    # (c) pytorch-grad-cam, once per layer
    result["gradcam_loop_s"] = _gradcam_loop_time(model, x, layers, repeats, device)
    say(f"grad-cam loop: {result['gradcam_loop_s']:.2f} s")

    # (d) reveal frames of one cluster map at game size
    params = EngineParams(mode="fast")
    runs = reveal_runs if reveal_runs is not None else max(repeats, 10)
    result["reveal"] = _reveal_time(view, first_fast, params, max(1, runs))
    say(f"reveal: {result['reveal']['ms']:.1f} ms")

    # (e) memory over consecutive images
    if n_memory_images > 0:
        result["memory"] = _memory_run(
            model, views, layers, params, n_memory_images, say, with_reveal=memory_reveal
        )

    if hasattr(os, "getloadavg"):
        result["environment"]["load_average_end"] = list(os.getloadavg())
    result["ratios"] = _ratios(result)
    result["targets"] = _targets(result)
    return json_safe(result)


def json_safe(obj: Any) -> Any:
    """NaN → None, tuples → lists, numpy scalars → Python numbers."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if obj != obj else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# ----------------------------------------------------------------------------- parts


def bench_model_load(
    name: str, *, device: str, random_weights: bool | None
) -> tuple[LoadedModel, bool]:
    if name in builtin_model_names():
        rw = bool(random_weights)
        return load_model(
            ModelSource(kind="builtin", name=name, random_weights=rw), device=device
        ), rw
    if name.startswith("timm:"):
        timm_name = name.split(":", 1)[1]
        if random_weights is None:
            try:
                src = ModelSource(kind="timm", name=timm_name)
                return load_model(src, device=device), False
            except ModelLoadError:
                random_weights = True
        src = ModelSource(kind="timm", name=timm_name, random_weights=bool(random_weights))
        return load_model(src, device=device), bool(random_weights)
    if name in torchvision_names():
        if random_weights is None:
            random_weights = not torchvision_cached_weights_path(name).is_file()
        src = ModelSource(kind="torchvision", name=name, random_weights=random_weights)
        return load_model(src, device=device), random_weights
    raise ModelLoadError(
        f"Unknown model {name!r}: use {', '.join(builtin_model_names())}, a torchvision "
        "classification architecture (e.g. vgg16) or timm:NAME."
    )


def photo_view(model: LoadedModel, name: str) -> np.ndarray:
    from skimage import data

    arr = getattr(data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return model.preprocessing.model_view(PIL.Image.fromarray(arr[..., :3]))


def device_sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _median_time(fn: Callable[[], Any], repeats: int, *, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _plain_times(
    model: LoadedModel, x: torch.Tensor, repeats: int, device: str
) -> tuple[float, float]:
    """Median seconds of one forward + backward of the top-1 logit down to the input: with the
    parameters frozen (input gradient only), then as PyTorch does it by default (parameters
    require grad, so backward() also computes every weight gradient: the baseline of the
    ≤ 0.6× target)."""

    def plain() -> None:
        xi = x.clone().requires_grad_(True)
        out = model.module(xi)
        out = out[0] if isinstance(out, (tuple, list)) else out
        out[0, int(out[0].argmax())].backward()
        device_sync(device)

    input_only = _median_time(plain, repeats, warmup=1)
    params = [p for p in model.module.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)
    try:
        with_weights = _median_time(plain, repeats, warmup=1)
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.grad = None
            p.requires_grad_(flag)
    return input_only, with_weights


def _inv_times(
    model: LoadedModel,
    view: np.ndarray,
    layers: Sequence[str],
    modes: Sequence[str],
    repeats: int,
    device: str,
    say: Callable[[str], None],
) -> tuple[dict, Any]:
    """Median timings of ``explain_batch`` per clustering mode, and the first explanation in
    fast mode (the warm-up run's; else the last run's of the first mode)."""
    from workers.inv.explain import explain_batch
    from workers.inv.types import EngineParams

    out: dict[str, dict] = {}
    first_fast = None
    for mode in modes:
        params = EngineParams(mode=mode)
        runs = []
        for i in range(repeats + (1 if mode == "fast" else 0)):
            t0 = time.perf_counter()
            (expl,) = explain_batch(model, [view], layers=layers, params=params)
            device_sync(device)
            wall = time.perf_counter() - t0
            if mode == "fast" and i == 0:
                first_fast = expl
                continue  # warm-up
            runs.append((wall, dict(expl.timings), expl))
        last = runs[-1][2]
        entry = {
            "total_s": statistics.median(r[0] for r in runs),
            "tensor_s": statistics.median(r[1]["tensor"] for r in runs),
            "clustering_s": statistics.median(r[1]["clustering"] for r in runs),
            "maps_s": statistics.median(r[1]["maps"] for r in runs),
            "n_clusters": sum(len(layer.clusters) for layer in last.layers),
            "clusters_per_layer": {layer.layer: len(layer.clusters) for layer in last.layers},
            "predicted": model.class_names[last.predicted_index],
            "probability": last.probability,
        }
        out[mode] = entry
        if first_fast is None:
            first_fast = last
        say(f"INV {mode}: {entry['total_s']:.2f} s ({entry['n_clusters']} clusters)")
    return out, first_fast


def _gradcam_loop_time(
    model: LoadedModel, x: torch.Tensor, layers: Sequence[str], repeats: int, device: str
) -> float:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    module = model.module
    with torch.no_grad():
        out = module(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
    target = [ClassifierOutputTarget(int(out[0].argmax()))]

    def loop() -> None:
        for name in layers:
            xi = x.clone().requires_grad_(True)  # parameters are frozen: gradients via the input
            with GradCAM(model=module, target_layers=[module.get_submodule(name)]) as cam:
                cam(input_tensor=xi, targets=target)
        device_sync(device)

    return _median_time(loop, repeats, warmup=1)


def _reveal_time(view: np.ndarray, expl, params, runs: int) -> dict:
    from workers.inv.render import game_image
    from workers.inv.reveal import reveal_frames

    game = game_image(view, size=params.game_size)
    layer = next((lay for lay in expl.layers if lay.clusters), None)
    if layer is None:
        return {
            "ms": float("nan"),
            "layer": None,
            "map_shape": None,
            "game_shape": list(game.shape),
        }
    cmap = layer.clusters[0].map

    def once() -> None:
        reveal_frames(
            game,
            cmap,
            percents=params.reveal_percents,
            method=params.reveal_method,
            feather=params.reveal_feather,
        )

    seconds = _median_time(once, runs, warmup=1)
    return {
        "ms": seconds * 1000.0,
        "layer": layer.layer,
        "map_shape": list(cmap.shape),
        "game_shape": list(game.shape),
        "frames": len(params.reveal_percents),
    }


def _rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB."""
    cur = peak = float("nan")
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    cur = int(line.split()[1]) / 1024.0
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024.0
    except OSError:
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = ru / (1024.0 * 1024.0) if sys.platform == "darwin" else ru / 1024.0
        cur = peak
    return cur, peak


def _memory_run(model, views: dict, layers, params, n: int, say, *, with_reveal: bool) -> dict:
    from workers.inv.explain import explain_batch
    from workers.inv.render import game_image
    from workers.inv.reveal import reveal_frames

    gc.collect()
    start_rss, _ = _rss_mb()
    rss = []
    t0 = time.perf_counter()
    names = list(views)
    for i in range(n):
        view = views[names[i % len(names)]]
        (expl,) = explain_batch(model, [view], layers=layers, params=params)
        game = game_image(view, size=params.game_size)
        for layer in expl.layers if with_reveal else ():
            for cluster in layer.clusters:
                reveal_frames(
                    game,
                    cluster.map,
                    percents=params.reveal_percents,
                    method=params.reveal_method,
                    feather=params.reveal_feather,
                )
        del expl, game
        rss.append(_rss_mb()[0])
        if (i + 1) % 10 == 0:
            say(f"memory: image {i + 1}/{n}, RSS {rss[-1]:.0f} MiB")
    elapsed = time.perf_counter() - t0
    _, peak = _rss_mb()
    ref = rss[min(4, len(rss) - 1)]
    growth = (rss[-1] - ref) / ref * 100.0 if len(rss) > 5 else float("nan")
    return {
        "mode": params.mode,
        "with_reveal": with_reveal,
        "images": n,
        "rss_start_mb": start_rss,
        "rss_after_image_5_mb": ref,
        "rss_final_mb": rss[-1],
        "rss_max_in_run_mb": max(rss),
        "peak_rss_mb": peak,
        "growth_after_5_pct": growth,
        "seconds_per_image": elapsed / n,
        "rss_mb": rss,
    }


def _ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or not b or a != a or b != b:
        return float("nan")
    return a / b


def _ratios(r: dict) -> dict:
    fast = r["inv"].get("fast", {})
    return {
        "tensor_over_plain": _ratio(fast.get("tensor_s"), r["plain_fwd_bwd_s"]),
        "tensor_over_plain_input_only": _ratio(fast.get("tensor_s"), r["plain_input_only_s"]),
        "fast_no_reveal_over_gradcam_loop": _ratio(fast.get("total_s"), r["gradcam_loop_s"]),
        "paper_no_reveal_over_gradcam_loop": _ratio(
            r["inv"].get("paper", {}).get("total_s"), r["gradcam_loop_s"]
        ),
    }


def _targets(r: dict) -> dict:
    values = {
        "tensor_over_plain": r["ratios"]["tensor_over_plain"],
        "fast_no_reveal_over_gradcam_loop": r["ratios"]["fast_no_reveal_over_gradcam_loop"],
        "reveal_6_frames_ms": r["reveal"]["ms"],
        "memory_growth_after_5_pct": r.get("memory", {}).get("growth_after_5_pct", float("nan")),
    }
    out = {}
    for key, (op, target) in TARGETS.items():
        v = values[key]
        ok = None if v != v else (v <= target if op == "≤" else v < target)
        out[key] = {"value": v, "target": target, "op": op, "ok": ok}
    return out


def _environment() -> dict:
    import sklearn

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


# ----------------------------------------------------------------------------- report


def _ms(seconds: float | None) -> str:
    return "     n/a   " if seconds is None else f"{seconds * 1000:8.1f} ms"


def _num(v: float | None, fmt: str = "9.3f") -> str:
    return f"{'n/a':>9}" if v is None else format(v, fmt)


def _load_avg(env: dict) -> str:
    la = env.get("load_average")
    return "n/a" if not la else f"{la[0]:.1f}"


def format_report(result: dict) -> str:
    """A plain-text report of :func:`run_benchmark`'s result."""
    env = result.get("environment", {})
    lines = [
        f"INV engine benchmark: {result['model']}"
        + (" (random weights)" if result.get("random_weights") else "")
        + f" on {result['device']}",
        f"  torch {env.get('torch')}, {env.get('cpu_count')} CPUs, {env.get('torch_threads')} "
        f"torch threads, load avg {_load_avg(env)}, image {result['image']} at {result['crop']}×{result['crop']}, "
        f"medians of {result['repeats']} runs",
        f"  layers ({len(result['layers'])}): "
        + ", ".join(
            f"{n} {'×'.join(map(str, result['layer_shapes'].get(n, [])))}" for n in result["layers"]
        ),
        "",
        f"  plain forward+backward        {_ms(result['plain_fwd_bwd_s'])}   (default: with weight grads)",
        f"  plain, input grad only        {_ms(result['plain_input_only_s'])}",
    ]
    for mode, e in result["inv"].items():
        lines += [
            f"  INV {mode:<5} total (no reveal)   {_ms(e['total_s'])}   "
            f"{e['n_clusters']} clusters, predicted {e['predicted']!r} ({e['probability']:.2f})",
            f"    tensor (capture+weights+CAM){_ms(e['tensor_s'])}",
            f"    clustering                  {_ms(e['clustering_s'])}",
            f"    cluster maps                {_ms(e['maps_s'])}",
        ]
    lines.append(f"  grad-cam loop (1 call/layer)  {_ms(result['gradcam_loop_s'])}")
    rv = result["reveal"]
    lines.append(
        f"  reveal {rv.get('frames', 6)} frames               {_num(rv['ms'], '8.1f')} ms   "
        f"(map {rv.get('map_shape')} of {rv.get('layer')} → game {rv.get('game_shape')})"
    )
    mem = result.get("memory")
    if mem:
        lines.append(
            f"  memory ({mem['images']} images, {mem['mode']}"
            f"{' + reveal' if mem.get('with_reveal') else ''}): RSS after image 5 "
            f"{mem['rss_after_image_5_mb']:.0f} MiB (growth {_num(mem['growth_after_5_pct'], '.1f')} %), final {mem['rss_final_mb']:.0f} MiB, "
            f"max {mem['rss_max_in_run_mb']:.0f} MiB, process peak {mem['peak_rss_mb']:.0f} MiB, "
            f"{mem['seconds_per_image']:.2f} s/image"
        )
    if "paper_no_reveal_over_gradcam_loop" in result.get("ratios", {}):
        v = result["ratios"]["paper_no_reveal_over_gradcam_loop"]
        if v is not None:
            lines.append(f"  (paper mode / grad-cam loop = {v:.2f})")
    lines += ["", "  target                                value      target   verdict"]
    for key, t in result["targets"].items():
        verdict = "n/a" if t["ok"] is None else ("PASS" if t["ok"] else "MISS")
        lines.append(f"  {key:<36} {_num(t['value'])}   {t['op']} {t['target']:<7} {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-images", type=int, default=50)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--random-weights", action="store_true", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", help="write the result as JSON to this file")
    args = parser.parse_args(argv)
    result = run_benchmark(
        args.model,
        repeats=args.repeats,
        n_memory_images=args.memory_images,
        device=args.device,
        random_weights=args.random_weights,
        threads=args.threads,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(format_report(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":  # python -m benchmarks.engine --model vgg16
    raise SystemExit(main())
