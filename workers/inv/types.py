"""Parameters and results of the INV engine (frozen dataclasses, numpy arrays inside).

Shapes: K = number of channels of a layer, (H, W) = the layer's native spatial size.
Result dataclasses holding arrays use ``eq=False`` (identity comparison): numpy arrays have no
scalar truth value, so a field-wise ``==`` would raise.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

ENGINE_VERSION = "2"

WEIGHT_METHODS = ("guided", "gradcam")
CLUSTER_MODES = ("paper", "fast")
REVEAL_METHODS = ("exact", "legacy")
FEATHER_MODES = ("outward", "centred")
GAME_SOURCES = ("original", "view")
# Parameters that engine version 1 did not have, with the behaviour it had: parameters stored
# by version 1 (``versions.engine == "1"``) mean these values, so their results stay
# reproducible; anything else gets the dataclass defaults.
ENGINE_1_BEHAVIOUR = {"reveal_feather": "centred", "game_source": "view"}


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour shapes a result (t-SNE changed across releases)."""
    import scipy
    import sklearn
    import torch

    return {
        "engine": ENGINE_VERSION,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
    }


# Accepted range of every numeric engine parameter (inclusive; tsne_perplexity must be > 0).
# The defaults reproduce the paper; the upper bounds keep one image's work bounded.
PARAM_LIMITS: dict[str, tuple[float, float]] = {
    "keep_factor": (0.0, 10.0),
    "seed": (0, 2**32 - 1),
    "min_clusters": (2, 32),
    "max_clusters": (2, 32),
    "pca_components": (1, 512),
    "tsne_perplexity": (0.0, 100.0),
    "tsne_iterations": (250, 10_000),
    "game_size": (16, 4096),
}
MAX_REVEAL_STEPS = 20


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


@dataclass(frozen=True)
class EngineParams:
    """Every setting of METHOD §1–§5 (defaults reproduce the paper; see METHOD.md).

    weights: "guided" (paper) or "gradcam" (α_k = max(0, mean gradient)).
    mode: "paper" (PCA → t-SNE → Ward) or "fast" (Ward on PCA coordinates, deterministic).
    keep_factor: keep map k iff ŵ_k > keep_factor · 100 / K.
    seed: random_state of PCA and t-SNE.
    min_clusters, max_clusters: the silhouette search range min_clusters..min(max_clusters, n−1).
    pca_components: PCA dimension cap (min(pca_components, n_kept, H·W)).
    tsne_perplexity: cap of the perplexity (min(tsne_perplexity, (n−1)/3)).
    tsne_iterations: t-SNE iterations (scikit-learn ``max_iter``, at least 250).
    reveal_percents: percent of pixels revealed at each game step.
    game_size: long side of the game image in pixels.
    reveal_method: "exact" (top ⌈r·N/100⌉ pixels) or "legacy" (paper's block-tiled percentile).
    reveal_feather: "outward" (NetViz: the soft edge moved outward by half its width, so the
        revealed pixels keep their brightness) or "centred" (METHOD §5: the binary mask
        blurred; dims small regions).
    game_source: "original" (the game image is the model's field of view taken from the
        original upload at its own resolution, METHOD §5) or "view" (the model's 224-px view
        upscaled: engine version 1).

    Every number has an upper bound too (:data:`PARAM_LIMITS`), so a request cannot ask a worker
    for a billion t-SNE iterations or a 10 000-step game.
    """

    weights: str = "guided"
    mode: str = "paper"
    keep_factor: float = 0.896
    seed: int = 432
    min_clusters: int = 3
    max_clusters: int = 8
    pca_components: int = 50
    tsne_perplexity: float = 30.0
    tsne_iterations: int = 1000
    reveal_percents: tuple[float, ...] = (2.0, 4.5, 8.0, 13.0, 20.0, 30.0)
    game_size: int = 512
    reveal_method: str = "exact"
    reveal_feather: str = "outward"
    game_source: str = "original"

    def __post_init__(self) -> None:
        # Normalise the percents to a tuple of floats, then validate everything.
        if isinstance(self.reveal_percents, list | tuple):
            object.__setattr__(
                self,
                "reveal_percents",
                tuple(float(p) if _is_number(p) else p for p in self.reveal_percents),
            )
        _validate(self)

    def to_dict(self) -> dict:
        """JSON-safe dict of every parameter plus the library versions (key ``versions``)."""
        d = asdict(self)
        d["reveal_percents"] = list(self.reveal_percents)
        d["versions"] = library_versions()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> EngineParams:
        """Build from a dict (``versions`` is ignored); raises ValueError with a message."""
        if not isinstance(d, dict):
            raise ValueError("engine parameters must be a JSON object")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names - {"versions"})
        if unknown:
            raise ValueError(f"unknown engine parameter(s): {', '.join(unknown)}")
        kwargs = {k: v for k, v in d.items() if k in names}
        versions = d.get("versions")
        if isinstance(versions, dict) and str(versions.get("engine")) == "1":
            for key, value in ENGINE_1_BEHAVIOUR.items():
                kwargs.setdefault(key, value)
        if "reveal_percents" in kwargs and not isinstance(kwargs["reveal_percents"], list | tuple):
            raise ValueError("reveal_percents must be a list of numbers")
        try:
            return cls(**kwargs)
        except TypeError as exc:  # pragma: no cover - defensive
            raise ValueError(str(exc)) from exc

    def hash(self) -> str:
        """sha256 hex of the canonical JSON of :meth:`to_dict` (sorted keys, no spaces)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _validate(p: EngineParams) -> None:
    def bad(msg: str) -> None:
        raise ValueError(msg)

    if p.weights not in WEIGHT_METHODS:
        bad(f"weights must be one of {', '.join(WEIGHT_METHODS)} (got {p.weights!r})")
    if p.mode not in CLUSTER_MODES:
        bad(f"mode must be one of {', '.join(CLUSTER_MODES)} (got {p.mode!r})")
    if p.reveal_method not in REVEAL_METHODS:
        bad(f"reveal_method must be one of {', '.join(REVEAL_METHODS)} (got {p.reveal_method!r})")
    if p.reveal_feather not in FEATHER_MODES:
        bad(f"reveal_feather must be one of {', '.join(FEATHER_MODES)} (got {p.reveal_feather!r})")
    if p.game_source not in GAME_SOURCES:
        bad(f"game_source must be one of {', '.join(GAME_SOURCES)} (got {p.game_source!r})")
    lim = PARAM_LIMITS
    high = lim["keep_factor"][1]
    if not _is_number(p.keep_factor) or not 0 <= p.keep_factor <= high:
        bad(f"keep_factor must be a number in 0 … {high:g}")
    if not _is_int(p.seed) or not 0 <= p.seed < 2**32:
        bad("seed must be an integer in 0 … 2^32−1")
    low, high = lim["min_clusters"]
    if not _is_int(p.min_clusters) or not low <= p.min_clusters <= high:
        bad(f"min_clusters must be an integer in {low} … {high}")
    low, high = lim["max_clusters"]
    if not _is_int(p.max_clusters) or not p.min_clusters <= p.max_clusters <= high:
        bad(f"max_clusters must be an integer in min_clusters … {high}")
    low, high = lim["pca_components"]
    if not _is_int(p.pca_components) or not low <= p.pca_components <= high:
        bad(f"pca_components must be an integer in {low} … {high}")
    high = lim["tsne_perplexity"][1]
    if not _is_number(p.tsne_perplexity) or not 0 < p.tsne_perplexity <= high:
        bad(f"tsne_perplexity must be a number > 0 and ≤ {high:g}")
    low, high = lim["tsne_iterations"]
    if not _is_int(p.tsne_iterations) or not low <= p.tsne_iterations <= high:
        bad(f"tsne_iterations must be an integer in {low} … {high}")
    if not isinstance(p.reveal_percents, tuple) or not p.reveal_percents:
        bad("reveal_percents must be a non-empty list of numbers")
    if len(p.reveal_percents) > MAX_REVEAL_STEPS:
        bad(f"reveal_percents has at most {MAX_REVEAL_STEPS} steps")
    for r in p.reveal_percents:
        if not _is_number(r) or not 0 < r <= 100:
            bad("each reveal percent must be a number in (0, 100]")
    if any(b <= a for a, b in zip(p.reveal_percents, p.reveal_percents[1:])):
        bad("reveal_percents must be strictly increasing")
    low, high = lim["game_size"]
    if not _is_int(p.game_size) or not low <= p.game_size <= high:
        bad(f"game_size must be an integer in {low} … {high}")


@dataclass(frozen=True, eq=False)
class ClusterExplanation:
    """One cluster of feature maps of one layer of one image.

    index: 0-based, in order of decreasing weight.
    channels: member channel indices (sorted).
    weight: W_C = Σ_{k∈C} ŵ_k, percent of the layer's total importance.
    map: (H, W) float32 in [0, 1], native resolution, min-max normalised (constant → zeros).
    raw_map: (H, W) float32, ŵ-weighted mean of the member maps before min-max.
    """

    index: int
    channels: tuple[int, ...]
    weight: float
    map: np.ndarray
    raw_map: np.ndarray

    @property
    def n_maps(self) -> int:
        return len(self.channels)


@dataclass(frozen=True, eq=False)
class LayerExplanation:
    """The explanation of one layer for one image.

    shares: (K,) float64 ŵ_k in percent (zeros if no positive evidence).
    kept_channels: channels that pass the discard rule (sorted).
    gradcam: (H, W) float32 in [0, 1], standard Grad-CAM ReLU(Σ g_k A^k), min-max.
    clusters: after pruning, sorted by decreasing weight.
    retained_weight: Σ W_C over the kept clusters (percent).
    """

    layer: str
    n_channels: int
    height: int
    width: int
    shares: np.ndarray
    kept_channels: tuple[int, ...]
    gradcam: np.ndarray
    clusters: tuple[ClusterExplanation, ...]
    n_clusters_before_prune: int
    retained_weight: float
    no_positive_evidence: bool


@dataclass(frozen=True, eq=False)
class ImageExplanation:
    """The explanation of one image; ``timings`` in seconds ("tensor", "clustering", "maps")."""

    target_index: int
    predicted_index: int
    probability: float
    target_probability: float
    layers: tuple[LayerExplanation, ...]
    timings: dict[str, float] = field(default_factory=dict)
