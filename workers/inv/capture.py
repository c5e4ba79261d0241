"""Capture activations and gradients of named layers in one forward and one partial backward.

Usage::

    with capture(module, ["features.11", "features.13"]) as cap:
        logits = cap.forward(module, x)                  # records the activations
        acts, grads = cap.gradients(logits, targets)     # one backward for the whole batch

Eager modules (METHOD §1):

* A forward hook on each named module takes the module's output (after its nonlinearity when the
  module is the nonlinearity, e.g. VGG's in-place ReLU) and **clones** it, so later in-place
  operations cannot change it, and returns a second copy as the module's output, so downstream
  in-place operations act on that copy.
* The forward pass runs under ``torch.no_grad()``. The first hook whose output is not part of an
  autograd graph (normally the earliest explained layer in execution order) turns its clone into a
  leaf that requires grad and switches grad mode on: nothing before the earliest explained layer is
  recorded, and the backward pass ends there. Parameters never get ``.grad``: the backward is
  ``torch.autograd.grad(Σ_i y_i^{c_i}, captured)``, i.e. only gradients w.r.t. the captured
  activations are computed (no full backward module hooks).
* Summing the per-image target logits gives independent per-image gradients (the model must be in
  eval mode: no batch statistics).
* Hooks are always removed when the context exits, also after an exception.
* Inside the context, CUDA runs float32 convolutions and matrix products in full float32
  (:func:`exact_float32`): with PyTorch's default, cuDNN uses TF32 (10-bit mantissa) for
  convolutions, which changed which channels pass the discard rule and which clusters form on an
  H100 (``benchmarks/gpu_check.py``: kept-set Jaccard down to 0.91, cluster ARI down to 0.13 against
  the CPU; with TF32 off 0.99 and a mean ARI of 0.97). See docs/gpu.md.

TorchScript modules accept no Python hooks: :func:`workers.inv.models.load_model` wraps them in
an equivalent ``nn.Module`` (``ScriptProxy``) whose submodules take hooks like eager ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch

from .errors import EngineError, LayerError


def _not_a_feature_map(name: str) -> LayerError:
    return LayerError(
        f"layer {name!r} cannot be explained: its output is not a 4-D feature map "
        "(batch, channels, height, width)"
    )


class Capture:
    """Holds the activations captured during one forward pass (see :func:`capture`)."""

    def __init__(self, layers: Sequence[str]) -> None:
        self.layers = tuple(layers)
        self.activations: dict[str, torch.Tensor] = {}
        self.order: list[str] = []  # execution order of the captured layers

    def _make_hook(self, name: str):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor) or output.dim() != 4:
                raise _not_a_feature_map(name)
            if name in self.activations:
                raise LayerError(
                    f"layer {name!r} cannot be explained: it runs more than once per forward pass"
                )
            if output.requires_grad:
                a = output.clone()
            else:
                # Earliest explained layer (or one not connected to the graph yet): start the
                # graph here; nothing before it is recorded or back-propagated.
                a = output.detach().clone().requires_grad_(True)
                torch.set_grad_enabled(True)
            self.activations[name] = a
            self.order.append(name)
            return a.clone()

        return hook

    def forward(self, module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Run the model; returns the logits (N, C) with grad history from the earliest layer."""
        with torch.no_grad():
            out = module(x)
        if isinstance(out, list | tuple):
            out = out[0]
        if not isinstance(out, torch.Tensor) or out.dim() != 2:
            raise EngineError("the model must return logits of shape (batch, classes)")
        missing = [name for name in self.layers if name not in self.activations]
        if missing:
            raise LayerError(
                f"layer(s) {', '.join(repr(m) for m in missing)} did not run in the forward pass"
            )
        return out

    def gradients(
        self, logits: torch.Tensor, targets: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """One backward of Σ_i logits[i, targets[i]] to the captured activations.

        Returns (activations, gradients), each a list of detached (N, K, H, W) float tensors in
        the order of ``layers``. A layer the target does not depend on gets zero gradients.
        """
        acts = [self.activations[name] for name in self.layers]
        needs = [a.requires_grad for a in acts]
        grads: list[torch.Tensor | None] = [None] * len(acts)
        if logits.requires_grad and any(needs):
            picked = logits.gather(1, targets.view(-1, 1).to(logits.device)).sum()
            got = torch.autograd.grad(
                picked, [a for a, nd in zip(acts, needs) if nd], allow_unused=True
            )
            it = iter(got)
            grads = [next(it) if nd else None for nd in needs]
        out_g = [
            torch.zeros_like(a).detach() if g is None else g.detach() for a, g in zip(acts, grads)
        ]
        out_a = [a.detach() for a in acts]
        self.activations.clear()
        return out_a, out_g


# ---------------------------------------------------------------------------------- the context


@contextmanager
def exact_float32() -> Iterator[None]:
    """Disable TF32 for cuDNN convolutions and CUDA matrix products; restore the flags on exit.

    The flags are process-wide; a worker process explains one batch at a time. No effect on CPU.
    """
    old = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@contextmanager
def capture(module: torch.nn.Module, layers: Sequence[str]) -> Iterator[Capture]:
    """Prepare capturing the named submodules of ``module``; always removes what it installed."""
    names = tuple(layers)
    if not names:
        raise LayerError("no layer to explain")
    if len(set(names)) != len(names):
        raise LayerError("a layer is listed twice")
    modules = dict(module.named_modules())
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        raise LayerError(f"unknown layer(s): {', '.join(repr(u) for u in unknown)}")
    cap = Capture(names)
    handles = []
    try:
        for name in names:
            try:
                handles.append(modules[name].register_forward_hook(cap._make_hook(name)))
            except RuntimeError as exc:  # e.g. a scripted submodule inside an eager model
                raise LayerError(
                    f"layer {name!r} cannot be explained: its activations cannot be captured "
                    "(forward hooks are not supported on it)"
                ) from exc
        with exact_float32():
            yield cap
    finally:
        for h in handles:
            h.remove()
        cap.activations.clear()
