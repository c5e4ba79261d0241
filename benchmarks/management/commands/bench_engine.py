"""Benchmark the INV engine against a plain forward+backward and pytorch-grad-cam.

python manage.py bench_engine [--model NAME] [--repeats N] [--memory-images N] --json FILE
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmarks.engine import format_report, run_benchmark
from workers.inv.errors import EngineError


class Command(BaseCommand):
    help = "Time the INV engine (tensor part, clustering, maps, reveal frames) and its memory."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model", default="vgg16")
        parser.add_argument("--repeats", type=int, default=5)
        parser.add_argument("--memory-images", type=int, default=50)
        parser.add_argument("--device", default=settings.NETVIZ_DEVICE)
        parser.add_argument(
            "--json", dest="json_path", default=None, help="Write the figures here."
        )

    def handle(self, *args, **opts) -> None:
        try:
            result = run_benchmark(
                opts["model"],
                repeats=opts["repeats"],
                n_memory_images=opts["memory_images"],
                device=opts["device"],
            )
        except EngineError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(format_report(result))
        if opts["json_path"]:
            path = Path(opts["json_path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
            self.stdout.write(f"written to {path}")
