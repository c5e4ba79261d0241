"""Tiny CNNs and a LoadedModel stand-in for the engine tests (no Django, no files)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)


@dataclass(frozen=True)
class TinyPreprocessing:
    def to_tensor(self, view: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.array(view, dtype=np.float32)).permute(2, 0, 1) / 255.0
        mean = torch.tensor(MEAN).view(3, 1, 1)
        std = torch.tensor(STD).view(3, 1, 1)
        return ((x - mean) / std).contiguous()


@dataclass(frozen=True)
class TinyLoaded:
    """Duck-typed LoadedModel: only what explain_batch uses."""

    module: nn.Module
    preprocessing: TinyPreprocessing = field(default_factory=TinyPreprocessing)
    device: str = "cpu"
    class_names: tuple[str, ...] = ()


class TinyNet(nn.Module):
    """conv → ReLU → conv → ReLU (→ optional max-pool) → global average pool → linear.

    ``dtype=torch.float64`` makes the forward pass independent of the batch size in practice
    (oneDNN's float32 results for small convolutions depend on the batch size at ~1e-7; the
    engine casts captured maps to float32, which rounds float64 differences away).

    features.1 and features.3 are the ReLUs (in place, as in torchvision's VGG, unless
    ``inplace=False``); with ``pool`` the head sees a max-pooled map.
    """

    def __init__(
        self, c1=6, c2=12, n_classes=3, *, inplace=True, pool=False, seed=0, dtype=torch.float32
    ):
        super().__init__()
        torch.manual_seed(seed)
        layers = [
            nn.Conv2d(3, c1, 3, padding=1),
            nn.ReLU(inplace=inplace),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(inplace=inplace),
        ]
        if pool:
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c2, n_classes)
        self.to(dtype).eval()

    def forward(self, x):
        x = x.to(self.fc.weight.dtype)
        return self.fc(self.pool(self.features(x)).flatten(1))


def copy_net(net: TinyNet, *, inplace: bool) -> TinyNet:
    other = TinyNet(
        net.features[0].out_channels,
        net.features[2].out_channels,
        net.fc.out_features,
        inplace=inplace,
        pool=len(net.features) > 4,
        dtype=net.fc.weight.dtype,
    )
    other.load_state_dict(net.state_dict())
    return other.eval()


def views(n: int, size: int = 8, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def reference_capture(net: TinyNet, vs, layers, targets=None):
    """Plain autograd on a copy without in-place ReLUs: activations, gradients (numpy), logits.

    Gradients of Σ_i y_i^{t_i} w.r.t. each layer output via retain_grad; the input requires grad,
    so this back-propagates the whole network (independent of the engine's tricks).
    """
    ref = copy_net(net, inplace=False)
    mods = dict(ref.named_modules())
    outs = {}
    hooks = []
    for name in layers:

        def hook(m, i, o, name=name):
            o.retain_grad()
            outs[name] = o

        hooks.append(mods[name].register_forward_hook(hook))
    x = torch.stack([TinyPreprocessing().to_tensor(v) for v in vs]).requires_grad_(True)
    try:
        logits = ref(x)
        if targets is None:
            targets = logits.argmax(1).tolist()
        logits[torch.arange(len(vs)), torch.tensor(targets)].sum().backward()
    finally:
        for h in hooks:
            h.remove()
    acts = {k: v.detach().numpy().copy() for k, v in outs.items()}
    grads = {k: v.grad.detach().numpy().copy() for k, v in outs.items()}
    return acts, grads, logits.detach().numpy(), targets


def no_hooks_left(module: nn.Module) -> bool:
    return all(
        not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
        for m in module.modules()
    )
