"""GPU check of the INV engine: CPU/GPU parity, throughput per batch size, and the engine benchmark
on both devices in one process (no Django, no database: only the engine and its model files).

    python -m benchmarks.gpu_check --out DIR [--device cuda] [--budget 420] [--quick]

Steps (``--steps``), most important first; a step that would start after ``--budget`` seconds
is skipped:
1. parity of EfficientNet-Lite0 (real weights) on 4 photos, fast and paper mode, as the engine
   computes (full float32; ``--tf32`` adds PyTorch's TF32 default for comparison);
2. scaling: 1, 4, 8, 16 worker-like processes sharing the GPU (and the CPU alone), images/s;
3. throughput of explain_batch (fast) at batch 1, 8, 32 on cpu and cuda (EfficientNet-Lite0);
4. ``run_benchmark`` (benchmarks/engine.py) of EfficientNet-Lite0 on cuda, then on cpu;
5. VGG16 (random weights: its ImageNet weights need a download): parity (fast), throughput,
   benchmark on cuda.
Each step's JSON goes to DIR; the printed lines are the report. With ``--device cpu`` it runs
the same code CPU against CPU (a smoke test of the script: parity must be exact).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from benchmarks.device_check import (  # noqa: E402
    device_parity,
    process_throughput,
    throughput,
)
from benchmarks.engine import format_report, run_benchmark  # noqa: E402

STEPS = (
    "parity_efficientnet_lite0",
    "scaling_efficientnet_lite0",
    "throughput_efficientnet_lite0",
    "bench_efficientnet_lite0_gpu",
    "bench_efficientnet_lite0_cpu",
    "parity_vgg16",
    "throughput_vgg16",
    "bench_vgg16_gpu",
)


@dataclass(frozen=True)
class Check:
    """One run's options: ``args`` as parsed, the devices compared and the sizes (quick or not)."""

    args: argparse.Namespace
    out: Path
    t_start: float
    wanted: frozenset[str]
    devices: tuple[str, ...]
    repeats: int
    batches: tuple[int, ...]

    @property
    def dev(self) -> str:
        return self.args.device


def _fmt(v) -> str:
    return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--budget", type=float, default=420.0)
    ap.add_argument("--quick", action="store_true", help="fewer repeats and images")
    ap.add_argument(
        "--steps", default=",".join(STEPS), help="comma-separated subset of: " + ", ".join(STEPS)
    )
    ap.add_argument(
        "--tf32", action="store_true", help="parity also with TF32 on (engine guard patched out)"
    )
    ap.add_argument("--processes", default="1,4,8,16", help="process counts of the scaling step")
    return ap


def _step(check: Check, name: str, fn: Callable[[], object]) -> None:
    """Run one step unless unwanted or over the budget; its JSON goes to ``check.out``."""
    if name not in check.wanted:
        return
    elapsed = time.perf_counter() - check.t_start
    if elapsed > check.args.budget:
        print(
            f"[skip] {name}: {elapsed:.0f} s spent of the {check.args.budget:.0f} s budget",
            flush=True,
        )
        return
    t0 = time.perf_counter()
    print(f"[step] {name}", flush=True)
    try:
        result = fn()
    except Exception as exc:  # report and go on with the next step
        print(f"[fail] {name}: {type(exc).__name__}: {exc}", flush=True)
        return
    (check.out / f"{name}.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"[done] {name} in {time.perf_counter() - t0:.1f} s", flush=True)


def _parity(check: Check, model: str, modes: Sequence[str], photos=None) -> Callable[[], dict]:
    def run():
        kw = {"photos": photos} if photos else {}
        tf32 = (True, False) if check.args.tf32 else (False,)
        r = device_parity(model, device=check.dev, modes=modes, allow_tf32=tf32, **kw)
        for key, run_ in r["runs"].items():
            s = run_["summary"]
            print(
                f"  parity {model} [{key}]: same prediction {s['same_prediction']}, "
                f"shares max |Δ| {_fmt(s['shares_max_abs'])} pp, kept-set Jaccard min "
                f"{_fmt(s['kept_jaccard_min'])} (identical {s['identical_kept_sets']}/{s['layer_rows']}), "
                f"ARI min {_fmt(s['ari_min'])} mean {_fmt(s['ari_mean'])} "
                f"(identical {s['identical_partitions']}/{s['layer_rows']}), "
                f"top map corr min {_fmt(s['map_corr_min'])}",
                flush=True,
            )
        return r

    return run


def _throughput(check: Check, model: str) -> Callable[[], dict]:
    return lambda: throughput(
        model,
        devices=check.devices,
        batch_sizes=check.batches,
        repeats=check.repeats,
        progress=lambda m: print("  " + m, flush=True),
    )


def _bench(
    check: Check, model: str, device: str, modes: Sequence[str], memory: int
) -> Callable[[], dict]:
    def run():
        r = run_benchmark(
            model,
            repeats=check.repeats,
            n_memory_images=memory,
            device=device,
            modes=modes,
            reveal_runs=5,
        )
        if device.startswith("cuda"):
            r["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
            print(f"  GPU peak memory {r['gpu_peak_mib']:.0f} MiB", flush=True)
        print(format_report(r), flush=True)
        return r

    return run


def _scaling(check: Check, model: str) -> Callable[[], list]:
    def run():
        rows = []
        counts = [int(n) for n in check.args.processes.split(",")]
        for device in check.devices[::-1]:
            for n in counts if device != "cpu" else sorted({1, max(counts)}):
                r = process_throughput(
                    model, device=device, processes=n, seconds=8 if check.args.quick else 15
                )
                rows.append(r)
                print(
                    f"  {model} on {device}, {n} worker processes: {r['images_per_s']:.1f} images/s "
                    f"({r['s_per_image_per_process']:.2f} s per image per process, reveal frames included)",
                    flush=True,
                )
        return rows

    return run


def main() -> int:
    ap = _parser()
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    dev = args.device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available", file=sys.stderr)
        return 2
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"GPU {torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}",
        flush=True,
    )
    wanted = frozenset(args.steps.split(","))
    unknown = wanted - set(STEPS)
    if unknown:
        ap.error(f"unknown step(s): {', '.join(sorted(unknown))}")
    check = Check(
        args=args,
        out=out,
        t_start=t_start,
        wanted=wanted,
        devices=("cpu",) if dev == "cpu" else ("cpu", dev),
        repeats=2 if args.quick else 3,
        batches=(1, 4) if args.quick else (1, 8, 32),
    )
    lite, both = "efficientnet_lite0", ("fast", "paper")
    _step(check, "parity_efficientnet_lite0", _parity(check, lite, both))
    _step(check, "scaling_efficientnet_lite0", _scaling(check, lite))
    _step(check, "throughput_efficientnet_lite0", _throughput(check, lite))
    _step(
        check,
        "bench_efficientnet_lite0_gpu",
        _bench(check, lite, dev, both, 8 if args.quick else 30),
    )
    _step(check, "bench_efficientnet_lite0_cpu", _bench(check, lite, "cpu", both, 0))
    _step(check, "parity_vgg16", _parity(check, "vgg16", ("fast",), photos=("chelsea", "coffee")))
    _step(check, "throughput_vgg16", _throughput(check, "vgg16"))
    _step(check, "bench_vgg16_gpu", _bench(check, "vgg16", dev, ("fast",), 0))
    print(f"total {time.perf_counter() - t_start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
