"""The synthetic player-style generator of benchmarks/synthetic_labels.py."""

from __future__ import annotations

import random

from benchmarks.synthetic_labels import IMAGENETTE, synthetic_text


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [synthetic_text(rng.choice(list(IMAGENETTE)), rng) for _ in range(n)]


def test_synthetic_generator_is_deterministic_and_messy():
    texts = _texts(2000, seed=1)
    assert texts == _texts(2000, seed=1)
    assert len(IMAGENETTE) == 10 and all(0 < len(t) <= 200 for t in texts)
    assert any("<" in t for t in texts)  # junk with markup
    assert any(t != t.lower() for t in texts)  # case noise
    assert any("springer" in t.lower() or "church" in t.lower() for t in texts)  # leaks
