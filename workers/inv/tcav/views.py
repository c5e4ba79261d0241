"""The model side of TCAV: layer activations and gradients of model views, and concept examples
(the revealed region of a cluster map, :func:`masked_views`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..capture import capture
from ..errors import EngineError
from ..models import LoadedModel
from ..render import game_image
from ..reveal import reveal_masks


def _views_tensor(model: LoadedModel, views: Sequence[np.ndarray]) -> torch.Tensor:
    shapes = {np.asarray(v).shape for v in views}
    if len(shapes) != 1:
        raise EngineError(f"all images must have the same size, got {sorted(shapes)}")
    x = torch.stack([model.preprocessing.to_tensor(np.asarray(v)) for v in views])
    return x.to(model.device)


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(n, start + size)


def layer_activations(
    model: LoadedModel, views: Sequence[np.ndarray], layer: str, *, batch_size: int = 32
) -> np.ndarray:
    """Activations of ``layer`` for model views (each (h, w, 3) uint8, all one size).

    Returns (N, K, H, W) float32 (the capture site of METHOD §1: after the nonlinearity, cloned).
    """
    n = len(views)
    if n == 0:
        raise EngineError("no images to compute activations for")
    out: np.ndarray | None = None
    with capture(model.module, [layer]) as cap:
        for a, b in _chunks(n, batch_size):
            cap.forward(model.module, _views_tensor(model, views[a:b]))
            act = cap.activations[layer].detach().float().cpu().numpy()
            cap.activations.clear()
            if out is None:
                out = np.empty((n, *act.shape[1:]), dtype=np.float32)
            out[a:b] = act
    assert out is not None
    return out


def layer_gradients(
    model: LoadedModel,
    views: Sequence[np.ndarray],
    layer: str,
    target: int,
    *,
    batch_size: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Activations and gradients ∂y^target/∂A (the target logit) at ``layer``.

    Returns (acts, grads), each (N, K, H, W) float32; one forward + one partial backward per batch.
    """
    n = len(views)
    if n == 0:
        raise EngineError("no images to compute gradients for")
    acts: np.ndarray | None = None
    grads: np.ndarray | None = None
    with capture(model.module, [layer]) as cap:
        for a, b in _chunks(n, batch_size):
            x = _views_tensor(model, views[a:b])
            logits = cap.forward(model.module, x)
            if not 0 <= int(target) < logits.shape[1]:
                raise EngineError(f"target class {target} is out of range")
            t = torch.full((b - a,), int(target), dtype=torch.long, device=logits.device)
            (act,), (grad,) = cap.gradients(logits, t)
            if acts is None:
                acts = np.empty((n, *act.shape[1:]), dtype=np.float32)
                grads = np.empty((n, *act.shape[1:]), dtype=np.float32)
            acts[a:b] = act.float().cpu().numpy()
            grads[a:b] = grad.float().cpu().numpy()
    assert acts is not None and grads is not None
    return acts, grads


def masked_views(
    view: np.ndarray,
    cluster_map: np.ndarray,
    percent: float | Sequence[float],
    *,
    method: str = "exact",
    game_size: int | None = None,
    feather: str = "outward",
) -> np.ndarray:
    """The revealed region of a cluster map as the model would see it: concept examples for TCAV.

    view: (h, w, 3) uint8 model view; cluster_map: (H, W) in [0, 1] (native resolution);
    percent: one reveal percent or several. Returns (P, h, w, 3) uint8 = view × soft Deep Reveal
    mask (:func:`reveal.reveal_masks`, hidden pixels black, feathered as ``feather`` says: the
    campaign's ``reveal_feather``), one per percent.

    With ``game_size`` None the masks are built directly at the view's size (feathering σ by the
    factor h/H). Pass ``EngineParams.game_size`` to reproduce the player's frame exactly: the soft
    masks are built at the game size (σ as in the game) and area-resampled (antialiased bilinear)
    to the view size.
    """
    img = np.asarray(view)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError("view must be an (h, w, 3) uint8 array")
    percents = (float(percent),) if np.isscalar(percent) else tuple(float(p) for p in percent)
    h, w = img.shape[:2]
    if game_size is None:
        masks = torch.from_numpy(
            reveal_masks(cluster_map, (h, w), percents=percents, method=method, feather=feather)
        )
    else:
        gh, gw = game_image(img, size=int(game_size)).shape[:2]
        big = torch.from_numpy(
            reveal_masks(cluster_map, (gh, gw), percents=percents, method=method, feather=feather)
        )
        masks = F.interpolate(
            big[:, None], size=(h, w), mode="bilinear", align_corners=False, antialias=True
        )[:, 0].clamp_(0.0, 1.0)
    frames = torch.from_numpy(np.array(img, dtype=np.float32))[None] * masks[..., None]
    return frames.round_().to(torch.uint8).numpy()
