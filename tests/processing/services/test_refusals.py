"""Label processing with the leak and junk checks (issue 12): stored characteristics that leak
the class or are junk are refused with their reason; labels of a second accepted language are
grouped apart from the main language's, incrementally and in a rebuild."""

from __future__ import annotations

import pytest

from processing.models import LabelMention
from processing.services.rebuild import campaign_rebuild
from processing.services.rounds import round_process
from tests.factories import make_finished_round
from tests.processing.support import partition

pytestmark = pytest.mark.django_db


def test_stored_leaks_and_junk_are_refused_with_their_reason(springer_items, players, hashing):
    campaign = springer_items[0].image.campaign
    campaign.forbidden_terms = {"English springer": {"de": ["Hund"]}}
    campaign.save()
    rnd = make_finished_round(
        cluster_map=springer_items[0],
        player=players[0],
        texts=["floppy ears", "s p a n i e l", "Hunde", "idk", "asdfgh"],
    )
    round_process(round_id=rnd.pk, embedder=hashing)
    reasons = dict(LabelMention.objects.values_list("characteristic__text", "refused_reason"))
    assert reasons == {
        "floppy ears": "",
        "s p a n i e l": "class_name",  # the campaign alias, spaced out
        "Hunde": "class_name",  # a forbidden term, inflected
        "idk": "placeholder",
        "asdfgh": "mash",
    }


def test_a_second_language_is_grouped_apart(springer_items, players, hashing):
    campaign = springer_items[0].image.campaign
    campaign.languages = ["en", "fr"]
    campaign.save()
    for player, texts in zip(players, (["ears", "fenêtre rouge"], ["ear", "la fenêtre"])):
        rnd = make_finished_round(cluster_map=springer_items[0], player=player, texts=texts)
        round_process(round_id=rnd.pk, embedder=hashing)
    incremental = partition(campaign)
    assert set(incremental) == {"English springer", "English springer [fr]"}
    assert all("fenêtre" not in k for g in incremental["English springer"] for k in g)
    assert all("fenêtre" in k for g in incremental["English springer [fr]"] for k in g)
    assert set(
        LabelMention.objects.filter(refused_reason="").values_list("class_name", flat=True)
    ) == {"English springer", "English springer [fr]"}
    campaign_rebuild(campaign=campaign, embedder=hashing)
    assert set(partition(campaign)) == {"English springer", "English springer [fr]"}
