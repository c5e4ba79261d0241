"""Fill the item tallies from the rounds there are (live: active; finished: waiting for
characteristics or done), as ``game.services.tallies.item_tallies_rebuild`` recounts them."""

from django.db import migrations
from django.db.models import Count, Min, Q

BATCH = 2000


def fill(apps, schema_editor):
    Round = apps.get_model("game", "Round")
    ItemTally = apps.get_model("game", "ItemTally")
    rows = (
        Round.objects.filter(status__in=["active", "labelling", "done"])
        .values("cluster_map_id")
        .annotate(
            first_campaign=Min("campaign_id"),
            n_live=Count("id", filter=Q(status="active")),
            n_finished=Count("id", filter=Q(status__in=["labelling", "done"])),
        )
        .order_by("cluster_map_id")
    )
    batch = []
    for row in rows.iterator(chunk_size=BATCH):
        batch.append(
            ItemTally(
                cluster_map_id=row["cluster_map_id"],
                campaign_id=row["first_campaign"],
                live=row["n_live"],
                finished=row["n_finished"],
            )
        )
        if len(batch) >= BATCH:
            ItemTally.objects.bulk_create(batch)
            batch = []
    if batch:
        ItemTally.objects.bulk_create(batch)


def empty(apps, schema_editor):
    apps.get_model("game", "ItemTally").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("game", "0006_item_tally")]

    operations = [migrations.RunPython(fill, empty)]
