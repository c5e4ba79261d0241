"""Explainable layers of a model and the default ones (METHOD §1); choosing layers to explain.

Explainable layers (``LoadedModel.explainable_layers``, in ``named_modules`` order): found by one
dummy forward pass of a 1×3×crop×crop zero image with a hook on every sub-module. A module is
explainable when it runs exactly once and outputs a 4-D tensor (N, C, H, W) with H·W > 1, and it is
a ``Conv2d``, an activation module (torch or timm), a timm norm+activation module (e.g.
``BatchNormAct2d`` with a real activation: its output is post-activation) or a block (a module with
children).

Default explained layers (METHOD §1), the first rule that gives any:

1. VGG (torchvision): the ReLU modules right after the last 9 ``Conv2d`` of ``features`` (VGG16:
   ``features.11, 13, 15, 18, 20, 22, 25, 27, 29``).
2. timm EfficientNet (incl. EfficientNet-Lite0): the blocks of the last 3 stages of ``blocks`` and
   the head activation ``bn2`` (a ``BatchNormAct2d``), at most 9 (the last 8 blocks + ``bn2``).
   Lite0: ``blocks.4.0-2, blocks.5.0-3, blocks.6.0, bn2``.
3. Stages: a stage is an ``nn.Sequential``/``nn.ModuleList`` whose children are explainable blocks
   (not themselves Sequential) of one class (with 4+ children: all but the first and the last),
   that holds no other stage and is not a parallel branch (no enclosing block returns a different
   tensor). The blocks of the last 3 stages in execution order, the last 9 of them. ResNet:
   ``layer2.*, layer3.*, layer4.*`` → the last 9 blocks; also ConvNeXt, RegNet, ShuffleNet,
   MobileNet, MNASNet, torchvision EfficientNet, MaxViT.
4. Trunk: descend from the root through containers that are the only explainable child; the last 9
   explainable children there (only the blocks when there are 3 or more, else no ``Conv2d`` when
   there is anything else); modules returning the same tensor count once. GoogLeNet/Inception:
   the inception blocks; DenseNet: dense blocks and transitions; AlexNet: its ReLUs.
5. Fallback: the last 9 explainable non-``Conv2d`` modules by completion order whose outputs are
   distinct tensors (the outermost module of a shared output is kept); ``Conv2d`` if nothing else.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import LayerError, ModelLoadError
from .registry import LoadedModel
from .torchscript import ScriptProxy

MAX_DEFAULT_LAYERS = 9
_ACTIVATION_NAMES = frozenset(
    {
        "ReLU",
        "ReLU6",
        "SiLU",
        "Swish",
        "GELU",
        "Hardswish",
        "HardSwish",
        "HardSwishMe",
        "SwishMe",
        "Mish",
        "MishMe",
        "LeakyReLU",
        "ELU",
        "SELU",
        "CELU",
        "PReLU",
        "Softplus",
        "Hardtanh",
        "Tanh",
        "GELUTanh",
        "QuickGELU",
    }
)


def layer_shapes(model: LoadedModel) -> dict[str, tuple[int, int, int]]:
    """(C, H, W) of every explainable layer's output for one crop×crop input."""
    return dict(model.layer_shapes)


def resolve_layers(model: LoadedModel, layers: Sequence[str] | None) -> tuple[str, ...]:
    """The layers to explain: `layers` checked against the explainable ones, or the defaults."""
    if layers is None:
        if not model.default_layers:
            raise LayerError(
                f"Model {model.name!r} has no explainable convolutional layers "
                "(no module outputs an N×C×H×W feature map)."
            )
        return tuple(model.default_layers)
    if isinstance(layers, str):
        layers = [layers]
    layers = [str(name).strip() for name in layers]
    if not layers:
        raise LayerError("No layers were chosen.")
    known = set(model.explainable_layers)
    seen: set[str] = set()
    for name in layers:
        if name in seen:
            raise LayerError(f"Layer {name!r} is listed twice.")
        seen.add(name)
        if name not in known:
            close = difflib.get_close_matches(name, model.explainable_layers, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise LayerError(
                f"Layer {name!r} is not an explainable layer of model {model.name!r}.{hint}"
            )
    return tuple(layers)


def _is_activation(module: nn.Module) -> bool:
    name = type(module).__name__
    mod = type(module).__module__
    if mod.startswith("torch.nn.modules.activation") or mod.startswith("timm.layers.activations"):
        return name not in ("Sigmoid", "Softmax", "LogSoftmax", "Hardsigmoid", "Softmax2d")
    return name in _ACTIVATION_NAMES


def _is_norm_act(module: nn.Module) -> bool:
    act = getattr(module, "act", None)
    return (
        type(module).__name__.endswith("Act2d")
        and isinstance(act, nn.Module)
        and not isinstance(act, nn.Identity)
    )


def _is_container(module: nn.Module) -> bool:
    if isinstance(module, ScriptProxy):
        return module.original_name in ("Sequential", "ModuleList")
    return isinstance(module, (nn.Sequential, nn.ModuleList))


def _has_children(module: nn.Module) -> bool:
    return next(module.children(), None) is not None


def _kind(module: nn.Module) -> str | None:
    if isinstance(module, ScriptProxy):
        if module.original_name in ("Conv2d", "Conv2dSame"):
            return "conv"
        if module.original_name in _ACTIVATION_NAMES:
            return "act"
        return "block" if _has_children(module) else None
    if isinstance(module, nn.Conv2d):
        return "conv"
    if _is_activation(module) or _is_norm_act(module):
        return "act"
    if _has_children(module):
        return "block"
    return None


@dataclass
class LayerProbe:
    explainable: tuple[str, ...]
    shapes: dict[str, tuple[int, int, int]]
    order: list[str]  # explainable modules by completion order in the forward pass
    output_ids: dict[str, int]
    kinds: dict[str, str]
    n_outputs: int | None


def probe_layers(module: nn.Module, crop: int, device: str) -> LayerProbe:
    """One dummy forward with hooks: which modules give a 4-D feature map, of what shape."""
    calls: dict[str, int] = {}
    shapes: dict[str, tuple[int, int, int]] = {}
    out_ids: dict[str, int] = {}
    order: list[str] = []
    keep_alive: list[torch.Tensor] = []
    handles = []
    for name, sub in module.named_modules():
        if not name:
            continue

        def hook(mod, inputs, output, name=name):
            calls[name] = calls.get(name, 0) + 1
            if (
                isinstance(output, torch.Tensor)
                and output.dim() == 4
                and output.is_floating_point()
                and output.shape[2] * output.shape[3] > 1
            ):
                shapes[name] = tuple(int(s) for s in output.shape[1:])
                out_ids[name] = id(output)
                keep_alive.append(output)
                order.append(name)

        handles.append(sub.register_forward_hook(hook))
    try:
        x = torch.zeros(1, 3, crop, crop, device=device)
        with torch.no_grad():
            out = module(x)
    except Exception as exc:
        raise ModelLoadError(
            f"The model fails on a 1×3×{crop}×{crop} input ({type(exc).__name__}: "
            f"{str(exc)[:200]})."
        ) from exc
    finally:
        for h in handles:
            h.remove()
    n_outputs = _output_size(out)
    kinds = {}
    explainable = []
    for name, sub in module.named_modules():
        if name in shapes and calls.get(name) == 1:
            k = _kind(sub)
            if k is not None:
                kinds[name] = k
                explainable.append(name)
    keep_alive.clear()
    return LayerProbe(
        explainable=tuple(explainable),
        shapes={n: shapes[n] for n in explainable},
        order=[n for n in order if n in kinds],
        output_ids={n: out_ids[n] for n in explainable},
        kinds=kinds,
        n_outputs=n_outputs,
    )


def _output_size(out: Any) -> int | None:
    if isinstance(out, (tuple, list)) and out:
        out = out[0]
    if hasattr(out, "logits"):
        out = out.logits
    if isinstance(out, torch.Tensor) and out.dim() == 2:
        return int(out.shape[1])
    return None


def default_layers(module: nn.Module, probe: LayerProbe) -> tuple[str, ...]:
    rules = (
        _vgg_defaults,
        _timm_efficientnet_defaults,
        _stage_defaults,
        _trunk_defaults,
        _fallback_defaults,
    )
    for rule in rules:
        layers = rule(module, probe)
        if layers:
            return tuple(layers)
    return ()


def _class_name(module: nn.Module) -> str:
    return module.original_name if isinstance(module, ScriptProxy) else type(module).__name__


def _vgg_defaults(module: nn.Module, probe: LayerProbe) -> list[str]:
    import torchvision

    is_vgg = isinstance(module, torchvision.models.VGG) or _class_name(module) == "VGG"
    features = getattr(module, "features", None)
    if not is_vgg or features is None:
        return []
    feats = list(features.named_children())
    relus = []
    for i, (_, sub) in enumerate(feats):
        if _class_name(sub) == "Conv2d":
            j = i + 1
            while j < len(feats) and _class_name(feats[j][1]) != "ReLU":
                j += 1  # skip BatchNorm in vgg*_bn
            if j < len(feats):
                relus.append(f"features.{feats[j][0]}")
    relus = [n for n in relus if n in probe.kinds]
    return relus[-MAX_DEFAULT_LAYERS:]


def _timm_efficientnet_defaults(module: nn.Module, probe: LayerProbe) -> list[str]:
    try:
        from timm.models.efficientnet import EfficientNet
    except ImportError:  # pragma: no cover
        return []
    if not isinstance(module, EfficientNet):
        return []
    stages = [f"blocks.{name}" for name, _ in module.blocks.named_children()]
    blocks = []
    for stage in stages[-3:]:
        blocks += [f"{stage}.{name}" for name, _ in module.get_submodule(stage).named_children()]
    blocks = [b for b in blocks if b in probe.kinds]
    head = [n for n in ("bn2", "act2") if probe.kinds.get(n) == "act"][:1]
    return blocks[-(MAX_DEFAULT_LAYERS - len(head)) :] + head


def _is_stage_block(name: str, sub: nn.Module, probe: LayerProbe) -> bool:
    """A residual/inception-style block: explainable, has children, not a plain Sequential."""
    return probe.kinds.get(name) == "block" and not _is_container(sub)


def _is_branch(module: nn.Module, stage: str, last: str, probe: LayerProbe) -> bool:
    """True when `stage` is a parallel branch: an enclosing block outputs another tensor."""
    parts = stage.split(".")
    for i in range(1, len(parts)):
        anc = ".".join(parts[:i])
        sub = module.get_submodule(anc)
        if (
            anc in probe.kinds
            and not _is_container(sub)
            and probe.output_ids[anc] != probe.output_ids[last]
        ):
            return True
    return False


def _stage_defaults(module: nn.Module, probe: LayerProbe) -> list[str]:
    first_seen = {n: i for i, n in enumerate(probe.order)}
    stages = []
    for name, sub in module.named_modules():
        if not name or not _is_container(sub):
            continue
        children = [(f"{name}.{c}", m) for c, m in sub.named_children()]
        if not children:
            continue
        core = children[1:-1] if len(children) >= 4 else children
        edges = [children[0], children[-1]] if len(children) >= 4 else []
        if not all(_is_stage_block(n, m, probe) for n, m in core):
            continue
        if len({getattr(m, "original_name", type(m)) for _, m in core}) != 1:
            continue
        if not all(n in probe.kinds for n, _ in edges):
            continue
        if _is_branch(module, name, children[-1][0], probe):
            continue
        stages.append((name, [n for n, _ in children]))
    names = [s for s, _ in stages]
    inner = [
        (s, blocks)
        for s, blocks in stages
        if not any(o != s and o.startswith(s + ".") for o in names)
    ]
    if not inner:
        return []
    inner.sort(key=lambda sb: min(first_seen[b] for b in sb[1]))
    blocks = [b for _, bl in inner[-3:] for b in bl]
    return blocks[-MAX_DEFAULT_LAYERS:]


def _trunk_defaults(module: nn.Module, probe: LayerProbe) -> list[str]:
    """Descend through single explainable containers; take the last 9 children of the trunk."""
    node, prefix = module, ""
    while True:
        children = [(prefix + c, m) for c, m in node.named_children() if prefix + c in probe.kinds]
        if len(children) == 1 and _has_children(children[0][1]):
            node, prefix = children[0][1], children[0][0] + "."
            continue
        break
    blocks = [n for n, _ in children if probe.kinds[n] == "block"]
    not_conv = [n for n, _ in children if probe.kinds[n] != "conv"]
    names = blocks if len(blocks) >= 3 else (not_conv or [n for n, _ in children])
    if len(names) < 3:
        return []
    picked, seen_ids = [], set()
    for name in sorted(names, key=probe.order.index, reverse=True):
        if probe.output_ids[name] not in seen_ids:
            seen_ids.add(probe.output_ids[name])
            picked.append(name)
    return sorted(picked, key=probe.order.index)[-MAX_DEFAULT_LAYERS:]


def _fallback_defaults(module: nn.Module, probe: LayerProbe) -> list[str]:
    for allowed in (("act", "block"), ("conv",)):
        picked: list[str] = []
        seen_ids: set[int] = set()
        for name in reversed(probe.order):  # outermost module of a shared output completes last
            if probe.kinds[name] not in allowed:
                continue
            oid = probe.output_ids[name]
            if oid in seen_ids:
                continue
            seen_ids.add(oid)
            picked.append(name)
            if len(picked) == MAX_DEFAULT_LAYERS:
                break
        if picked:
            return picked[::-1]
    return []
