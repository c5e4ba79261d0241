"""Recount the item tallies from the rounds (after rounds were written around the game's
services, e.g. imported in bulk or edited in the database)."""

import time

from django.core.management.base import BaseCommand

from game.services import item_tallies_rebuild


class Command(BaseCommand):
    help = "Recount every item's live and finished rounds (game.models.ItemTally) from the rounds."

    def handle(self, *args, **options):
        started = time.perf_counter()
        wrong = item_tallies_rebuild()
        seconds = time.perf_counter() - started
        self.stdout.write(f"item tallies recounted in {seconds:.1f} s: {wrong} row(s) written")
