"""The validation fixture shared by the validation tests and the viewer's validation pages:
five explained photos of three classes, crowd labels of "red thing" and finished rounds."""

from __future__ import annotations

import pytest

from explanations.models import ClusterMap, LayerResult
from explanations.services import campaign_image_add, explanation_job_run
from processing.models import ClusterLabelScore, GlobalLabel
from tests.conftest import photo_png
from tests.factories import make_finished_round

FAST = {"steps": 4, "percents": [20.0, 30.0], "tcav": {"n_runs": 3, "n_null_sets": 3}}
PHOTOS = [
    ("chelsea", "red thing"),
    ("coffee", "red thing"),
    ("rocket", "green thing"),
    ("astronaut", "green thing"),
    ("camera", "blue thing"),
]


@pytest.fixture
def explained(tiny_campaign):
    """Five explained images (three classes), two crowd labels of "red thing" and rounds."""
    for name, cls in PHOTOS:
        img = campaign_image_add(
            campaign=tiny_campaign,
            content=photo_png(name, size=96),
            original_name=f"{name}.png",
            true_class=cls,
            enqueue=False,
        )
        assert explanation_job_run(job_id=img.jobs.get().pk) == "done"
    red = ClusterMap.objects.filter(image__true_class="red thing").select_related("layer_result")
    layer = LayerResult.objects.filter(image__true_class="red thing").order_by("-position")[0]
    at_layer = [c for c in red if c.layer_result.layer == layer.layer]
    assert at_layer
    for rank, (label, total) in enumerate((("whiskers", 2.0), ("fur", 1.0))):
        GlobalLabel.objects.create(
            campaign=tiny_campaign,
            class_name="red thing",
            layer=layer.layer,
            layer_position=layer.position,
            label=label,
            total=total,
            mean_weight=40.0,
            n_groups=1,
            n_images=2,
            class_images=2,
            normalised=total / 3,
            rank=rank,
            rank_normalised=rank,
            examples=[],
        )
        for c in at_layer:
            ClusterLabelScore.objects.create(
                cluster_map=c,
                image=c.image,
                label=label,
                mentions=1,
                mean_step=1.0,
                correct=True,
                score=0.5,
            )
    for i, c in enumerate(red):
        make_finished_round(cluster_map=c, outcome="win" if i % 3 else "loss", step=i % 5)
    return tiny_campaign
