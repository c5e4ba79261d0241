"""Close abandoned Deep Reveal rounds (run it from cron, e.g. every 10 minutes)."""

from django.core.management.base import BaseCommand

from game.services import rounds_expire


class Command(BaseCommand):
    help = (
        "Mark expired active rounds as expired and close rounds left waiting for characteristics."
    )

    def handle(self, *args, **options):
        result = rounds_expire()
        self.stdout.write(f"expired {result['expired']} round(s), closed {result['closed']}")
