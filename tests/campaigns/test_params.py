"""Every engine parameter a campaign accepts has bounds: a 400 on the API, an error on the page
(D16)."""

from __future__ import annotations

import pytest

from explanations.models import Campaign

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tsne_iterations": 1_000_000_000}, "tsne_iterations must be an integer in 250 … 10000"),
        ({"keep_factor": 1e12}, "keep_factor must be a number in 0 … 10"),
        ({"max_clusters": 5000}, "max_clusters must be an integer in min_clusters … 32"),
        ({"pca_components": 10**9}, "pca_components must be an integer in 1 … 512"),
        ({"tsne_perplexity": 1e9}, "tsne_perplexity must be a number > 0 and ≤ 100"),
        ({"game_size": 10**6}, "game_size must be an integer in 16 … 4096"),
        (
            {"reveal_percents": [0.1 * i for i in range(1, 1000)]},
            "reveal_percents has at most 20 steps",
        ),
        ({"seed": 2**40}, "seed must be an integer in 0 … 2^32−1"),
    ],
)
def test_the_campaign_api_refuses_out_of_range_engine_parameters(
    admin_client, tiny_spec, params, message
):
    response = admin_client.post(
        "/api/manage/campaigns/",
        {"name": "Too much", "model": tiny_spec.name, "engine_params": {"mode": "fast", **params}},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == f"Invalid engine parameters: {message}"
    assert not Campaign.objects.filter(name="Too much").exists()


def test_the_campaign_form_refuses_a_keep_factor_over_its_bound(admin_client, tiny_spec):
    response = admin_client.post(
        "/manage/campaigns/new/",
        {
            "model": tiny_spec.name,
            "name": "Too strict",
            "explained_layers": tiny_spec.default_layers,
            "mode": "fast",
            "weights": "guided",
            "seed": 432,
            "keep_factor": 1e9,
            "game_size": 512,
            "target_mode": "predicted",
            "target_rounds": 5,
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["keep_factor"] == [
        "Ensure this value is less than or equal to 10.0."
    ]
    assert not Campaign.objects.filter(name="Too strict").exists()
