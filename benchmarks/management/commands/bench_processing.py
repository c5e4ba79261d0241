"""bench_processing: the acceptance figures of label processing (see benchmarks/processing.py)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Seed a synthetic campaign, time process_labels --rebuild (cold and warm), the "
        "incremental task (p95), compare incremental with rebuild, time the export; then "
        "delete the campaign. Run on PostgreSQL, on a database of its own."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--characteristics", type=int, default=10_000)
        parser.add_argument("--skip-incremental", action="store_true")
        parser.add_argument("--skip-export", action="store_true")
        parser.add_argument("--keep", action="store_true", help="Keep the campaign.")
        parser.add_argument("--json", dest="json_out", default="var/bench/processing.json")

    def handle(self, *args, **opts) -> None:
        from benchmarks.processing import run

        out = Path(opts["json_out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        report = run(
            n_characteristics=opts["characteristics"],
            incremental=not opts["skip_incremental"],
            export=not opts["skip_export"],
            keep=opts["keep"],
            out_dir=out.parent,
            log=lambda msg: self.stdout.write(str(msg)),
        )
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        self.stdout.write(json.dumps(report, indent=2))
