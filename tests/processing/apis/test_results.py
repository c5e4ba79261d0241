"""Researcher API of processing results (processing/apis/results.py): scores, merged groups,
globals."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_scores_merged_groups_and_globals(played, researcher_api, springer_items):
    image = springer_items[0].image
    base = f"/api/processing/campaigns/{played.slug}/"
    rows = researcher_api.get(base + f"images/{image.pk}/scores/").json()
    assert len(rows) == 4
    labelled = [r for r in rows if r["labelled"]]
    assert len(labelled) == 1 and labelled[0]["rounds"] == 4
    assert labelled[0]["scores"][0]["label"] == "ears" and labelled[0]["scores"][0]["groups"]
    unlabelled = [r for r in rows if not r["labelled"]]
    assert sorted(r["weight"] for r in unlabelled) == [40.0, 40.0, 60.0]
    assert all(r["scores"] == [] for r in unlabelled)
    merged = researcher_api.get(base + f"images/{image.pk}/merged-groups/?kind=full").json()
    assert len(merged) == 2 and merged[0]["best"] == ["ears"]
    data = researcher_api.get(base + "globals/?class=English springer").json()
    assert data["labels"][0]["label"] == "ears" and data["labels"][0]["n_images"] == 1
    assert researcher_api.get(base + "globals/?top=x").status_code == 400
