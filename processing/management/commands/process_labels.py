"""process_labels --campaign ID [--rebuild]: regroup or catch up a campaign's labels."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from explanations.models import Campaign
from processing.services import rebuild


class Command(BaseCommand):
    help = (
        "Process a campaign's characteristics (METHOD §6–§8). With --rebuild, regroup every "
        "label from scratch (curation re-applied); without, process what is missing and "
        "recompute every score, merged group and global explanation."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--campaign", required=True, help="Campaign id or slug.")
        parser.add_argument("--rebuild", action="store_true", help="Full regroup.")
        parser.add_argument("--json", dest="json_out", help="Write the result (counts, timings).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **opts) -> None:
        ref = str(opts["campaign"])
        campaign = (
            Campaign.objects.filter(pk=int(ref)).first()
            if ref.isdigit()
            else Campaign.objects.filter(slug=ref).first()
        )
        if campaign is None:
            raise CommandError(f"No campaign {ref!r}.")
        bar = tqdm(
            total=100,
            desc="reading",
            unit="%",
            disable=opts["no_progress"],
            file=self.stderr._out,
            bar_format="{desc:<14} {percentage:3.0f}%|{bar}| {elapsed}",
        )

        def progress(stage: str, fraction: float) -> None:
            bar.set_description_str(stage)
            bar.update(max(0, round(100 * fraction) - bar.n))

        try:
            if opts["rebuild"]:
                result = rebuild.campaign_rebuild(campaign=campaign, progress=progress)
            else:
                result = rebuild.campaign_catch_up(campaign=campaign, progress=progress)
        finally:
            bar.close()
        summary = {
            "campaign": campaign.pk,
            "rebuild": bool(opts["rebuild"]),
            "characteristics": result.characteristics,
            "mentions": result.mentions,
            "refused": result.refused,
            "groups": result.groups,
            "clusters": result.clusters,
            "caught_up": result.caught_up,
            "embedded": result.embedded,
            "timings": {k: round(v, 3) for k, v in result.timings.items()},
        }
        if opts["json_out"]:
            with open(opts["json_out"], "w", encoding="utf-8") as fh:
                json.dump(summary, fh, indent=2)
        self.stdout.write(
            f"{campaign.name}: {result.characteristics} characteristics, {result.mentions} used, "
            f"{result.refused} refused, {result.groups} groups, {result.clusters} clusters scored "
            f"in {result.timings.get('total_s', 0.0):.1f} s"
        )
