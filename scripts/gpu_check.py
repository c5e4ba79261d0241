"""GPU check of the INV engine: CPU/GPU parity, throughput per batch size, and the engine benchmark
on both devices in one process (no Django, no database: only the engine and its model files).

    python scripts/gpu_check.py --out DIR [--device cuda] [--budget 420] [--quick]

Steps (``--steps``), most important first; a step that would start after ``--budget`` seconds
is skipped:
1. parity of EfficientNet-Lite0 (real weights) on 4 photos, fast and paper mode, as the engine
   computes (full float32; ``--tf32`` adds PyTorch's TF32 default for comparison);
2. scaling: 1, 4, 8, 16 worker-like processes sharing the GPU (and the CPU alone), images/s;
3. throughput of explain_batch (fast) at batch 1, 8, 32 on cpu and cuda (EfficientNet-Lite0);
4. ``run_benchmark`` (workers/inv/bench.py) of EfficientNet-Lite0 on cuda, then on cpu;
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
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from workers.inv.bench import format_report, run_benchmark  # noqa: E402
from workers.inv.device_check import (  # noqa: E402
    device_parity,
    process_throughput,
    throughput,
)

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


def _fmt(v) -> str:
    return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def main() -> int:
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
    repeats = 2 if args.quick else 3
    batches = (1, 4) if args.quick else (1, 8, 32)
    devices = ("cpu",) if dev == "cpu" else ("cpu", dev)

    wanted = set(args.steps.split(","))
    unknown = wanted - set(STEPS)
    if unknown:
        ap.error(f"unknown step(s): {', '.join(sorted(unknown))}")

    def step(name: str, fn) -> None:
        if name not in wanted:
            return
        elapsed = time.perf_counter() - t_start
        if elapsed > args.budget:
            print(
                f"[skip] {name}: {elapsed:.0f} s spent of the {args.budget:.0f} s budget",
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
        (out / f"{name}.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
        print(f"[done] {name} in {time.perf_counter() - t0:.1f} s", flush=True)

    def parity(model: str, modes, photos=None):
        def run():
            kw = {"photos": photos} if photos else {}
            tf32 = (True, False) if args.tf32 else (False,)
            r = device_parity(model, device=dev, modes=modes, allow_tf32=tf32, **kw)
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

    def tput(model: str):
        return lambda: throughput(
            model,
            devices=devices,
            batch_sizes=batches,
            repeats=repeats,
            progress=lambda m: print("  " + m, flush=True),
        )

    def bench(model: str, device: str, modes, memory: int):
        def run():
            r = run_benchmark(
                model,
                repeats=repeats,
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

    def scaling(model: str):
        def run():
            rows = []
            counts = [int(n) for n in args.processes.split(",")]
            for device in devices[::-1]:
                for n in counts if device != "cpu" else sorted({1, max(counts)}):
                    r = process_throughput(
                        model, device=device, processes=n, seconds=8 if args.quick else 15
                    )
                    rows.append(r)
                    print(
                        f"  {model} on {device}, {n} worker processes: {r['images_per_s']:.1f} images/s "
                        f"({r['s_per_image_per_process']:.2f} s per image per process, reveal frames included)",
                        flush=True,
                    )
            return rows

        return run

    step("parity_efficientnet_lite0", parity("efficientnet_lite0", ("fast", "paper")))
    step("scaling_efficientnet_lite0", scaling("efficientnet_lite0"))
    step("throughput_efficientnet_lite0", tput("efficientnet_lite0"))
    step(
        "bench_efficientnet_lite0_gpu",
        bench("efficientnet_lite0", dev, ("fast", "paper"), 8 if args.quick else 30),
    )
    step("bench_efficientnet_lite0_cpu", bench("efficientnet_lite0", "cpu", ("fast", "paper"), 0))
    step("parity_vgg16", parity("vgg16", ("fast",), photos=("chelsea", "coffee")))
    step("throughput_vgg16", tput("vgg16"))
    step("bench_vgg16_gpu", bench("vgg16", dev, ("fast",), 0))
    print(f"total {time.perf_counter() - t_start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
