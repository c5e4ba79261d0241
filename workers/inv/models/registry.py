"""The model registry: where a model comes from (:class:`ModelSource`, its kinds), what loading
gives (:class:`LoadedModel`), the built-in models and the ImageNet class names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from torch import nn

from ..catalog import BUILTIN_MODELS
from .preprocessing import Preprocessing

KINDS = ("builtin", "torchvision", "timm", "torchscript", "state_dict")
_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from (see the module docstring for the kinds)."""

    kind: str
    name: str
    architecture: str = ""
    weights_path: str | None = None
    class_names_path: str | None = None
    preprocessing: Preprocessing | None = None
    explainable_layers: tuple[str, ...] | None = None
    default_layers: tuple[str, ...] | None = None
    random_weights: bool = False  # benchmarks and tests only: no weights are loaded


@dataclass(frozen=True)
class LoadedModel:
    name: str
    module: nn.Module  # eval mode, on `device`
    class_names: tuple[str, ...]
    preprocessing: Preprocessing
    explainable_layers: tuple[str, ...]
    default_layers: tuple[str, ...]
    device: str
    # (C, H, W) of each explainable layer's output for one crop×crop image
    layer_shapes: Mapping[str, tuple[int, int, int]] = field(default_factory=dict, repr=False)


def builtin_model_names() -> tuple[str, ...]:
    return BUILTIN_MODELS


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, human-readable, in index order."""
    names = (_DATA_DIR / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines()
    names = [n.strip() for n in names if n.strip()]
    if len(names) != 1000:  # pragma: no cover - a broken install
        raise RuntimeError(f"imagenet_classes.txt has {len(names)} names, expected 1000")
    return tuple(names)
