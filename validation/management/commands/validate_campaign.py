"""Validate a campaign in-process (TCAV, faithfulness, human metric) and write the results.

    python manage.py validate_campaign --campaign ID [--class NAME] --json OUT [--steps N]
        [--simulate-rounds N] [--max-images N]

``--simulate-rounds N`` replaces the game's rounds by N simulated rounds per cluster (for
campaigns without human data); the results are then marked ``simulated``.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.errors import ApplicationError
from explanations.models import Campaign
from validation.selectors import validation_results
from validation.services import validation_run_create, validation_run_execute


class Command(BaseCommand):
    help = "Validate a campaign (or one class): TCAV, faithfulness and the human reveal metric."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--campaign", required=True, help="Campaign id or slug.")
        parser.add_argument("--class", dest="class_name", default="", help="One class only.")
        parser.add_argument("--json", dest="json_out", required=True, help="Results file.")
        parser.add_argument("--steps", type=int, default=20, help="Deletion/insertion steps.")
        parser.add_argument(
            "--simulate-rounds",
            type=int,
            default=0,
            help="Use N SIMULATED rounds per cluster instead of the game's (labelled simulated).",
        )
        parser.add_argument("--max-images", type=int, default=None)
        parser.add_argument("--device", default=None, help="cpu or cuda (default: settings).")

    def handle(self, *args, **opts) -> None:
        key = str(opts["campaign"])
        campaign = Campaign.objects.filter(
            **({"pk": int(key)} if key.isdigit() else {"slug": key})
        ).first()
        if campaign is None:
            raise CommandError(f"No campaign {key!r}.")
        params = {"steps": opts["steps"], "simulate_rounds": opts["simulate_rounds"]}
        if opts["max_images"]:
            params["max_images"] = opts["max_images"]
        try:
            run = validation_run_create(
                campaign=campaign, class_name=opts["class_name"], params=params
            )
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        bar = tqdm(total=100, desc=f"validation {run.pk}", unit="%")

        def progress(fraction: float, stage: str) -> None:
            bar.n = round(100 * fraction)
            bar.set_postfix_str(stage[:60])
            bar.refresh()

        outcome = validation_run_execute(run_id=run.pk, progress=progress, device=opts["device"])
        bar.close()
        run.refresh_from_db()
        out = Path(opts["json_out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(validation_results(run=run), indent=1, default=str))
        if outcome != "done":
            raise CommandError(f"Validation run {run.pk} {outcome}: {run.error}")
        self.stdout.write(
            f"validation run {run.pk}: {run.summary} in {run.timings.get('total')} s → {out}"
        )
