"""Recount every player's agreement and recompute their trust (what celery beat's
``refresh_player_trust`` does; run it from cron where no beat runs)."""

from django.core.management.base import BaseCommand

from processing.services.trust import players_trust_refresh


class Command(BaseCommand):
    help = (
        "Recompute player trust from the evidence (step-0 wins, refusals, agreement) and "
        "enqueue a rescore of the campaigns whose label weights changed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-rescore",
            action="store_true",
            help="Only update trust; do not enqueue campaign rescores.",
        )

    def handle(self, *args, **options):
        changes = players_trust_refresh(player_ids=None, rescore=not options["no_rescore"])
        self.stdout.write(f"trust updated; label weight changed for {len(changes)} player(s)")
