"""``load_model``: a :class:`ModelSource` → a :class:`LoadedModel` (module in eval mode on the
device, class names checked against the model's output size by one dummy forward, explainable
and default layers found)."""

from __future__ import annotations

import threading

import torch

from ..errors import ModelLoadError
from .layers import default_layers, probe_layers
from .loaders import LOADERS
from .registry import KINDS, LoadedModel, ModelSource
from .torchscript import ScriptProxy

_load_lock = threading.Lock()


def _check_device(device: str) -> str:
    device = str(device)
    if device == "cpu":
        return device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelLoadError(f"Device {device!r} was requested but CUDA is not available.")
        return device
    raise ModelLoadError(f"Unknown device {device!r}: use 'cpu' or 'cuda'.")


def load_model(source: ModelSource, *, device: str = "cpu") -> LoadedModel:
    """Build the model of `source` in eval mode on `device`. Raises ModelLoadError."""
    device = _check_device(device)
    if source.kind not in KINDS:
        raise ModelLoadError(f"Unknown model kind {source.kind!r}: use one of {', '.join(KINDS)}.")
    with _load_lock:
        module, class_names, prep = LOADERS[source.kind](source)
    if source.preprocessing is not None:
        prep = source.preprocessing
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    module.to(device)
    if isinstance(module, torch.jit.ScriptModule):
        module = ScriptProxy(module)
    probe = probe_layers(module, prep.crop, device)
    n_out = probe.n_outputs
    explainable, shapes = probe.explainable, probe.shapes
    defaults = default_layers(module, probe)
    if n_out is None:
        raise ModelLoadError("The model must return one (N, number of classes) tensor of scores.")
    if n_out != len(class_names):
        raise ModelLoadError(
            f"The class-names file lists {len(class_names)} classes but the model outputs "
            f"{n_out} scores."
        )
    if source.explainable_layers is not None:
        explainable = tuple(source.explainable_layers)
        defaults = tuple(n for n in defaults if n in explainable)
    if source.default_layers is not None:
        defaults = tuple(source.default_layers)
        missing = [n for n in defaults if n not in explainable]
        if missing:
            raise ModelLoadError(
                f"Default layers {missing} are not explainable layers of the model."
            )
    return LoadedModel(
        name=source.name,
        module=module,
        class_names=tuple(class_names),
        preprocessing=prep,
        explainable_layers=tuple(explainable),
        default_layers=tuple(defaults),
        device=device,
        layer_shapes=shapes,
    )
