"""Reading and checking model files (uploaded or shipped): class-names files, state dicts.

Every ``torch.load`` uses ``weights_only=True`` (tensors only, no pickled code). A state dict is
checked against the architecture before loading: missing, unexpected and mis-shaped tensors are
reported in the error; a head of another size than the class-names file is named as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ModelLoadError


def read_class_names(path: str | None, *, required: bool) -> tuple[str, ...] | None:
    if path is None:
        if required:
            raise ModelLoadError(
                "A class-names file (one class per line) is required for this model."
            )
        return None
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ModelLoadError(
            f"Cannot read the class-names file {path}: {exc.strerror or exc}."
        ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ModelLoadError(f"The class-names file {path} is not UTF-8 text.") from exc
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not names:
        raise ModelLoadError(f"The class-names file {path} lists no classes.")
    return names


def read_torch_file(path: str | Path, what: str = "weights") -> Any:
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"The {what} file {path} does not exist.")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"The {what} file {path} is empty.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"Cannot read the {what} file {path.name}: it is not a valid PyTorch state dict "
            f"(only tensors are accepted; save model.state_dict()). Detail: {detail}"
        ) from exc


def as_state_dict(obj: Any, path: str | Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                obj = inner
                break
    if (
        not isinstance(obj, Mapping)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        raise ModelLoadError(
            f"The weights file {Path(path).name} does not hold a state dict "
            "(a mapping of parameter names to tensors)."
        )
    sd = dict(obj)
    if all(k.startswith("module.") for k in sd):  # saved from DataParallel
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def mismatch_report(model: nn.Module, sd: Mapping[str, torch.Tensor]) -> list[str]:
    own = model.state_dict()
    problems = []
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
    for k, v in own.items():
        if k in sd and tuple(sd[k].shape) != tuple(v.shape):
            problems.append(f"{k}: file {tuple(sd[k].shape)} vs model {tuple(v.shape)}")
    return problems


def load_checked(
    model: nn.Module, sd: Mapping[str, torch.Tensor], arch: str, n_classes: int
) -> None:
    problems = mismatch_report(model, sd)
    if problems:
        own = model.state_dict()
        shape_keys = [k for k in own if k in sd and sd[k].shape != own[k].shape]
        only_head = (
            len(problems) == len(shape_keys)
            and shape_keys
            and all(
                own[k].shape[0] == n_classes and sd[k].shape[0] != n_classes for k in shape_keys
            )
        )
        if only_head:
            n_file = int(sd[shape_keys[0]].shape[0])
            raise ModelLoadError(
                f"The class-names file lists {n_classes} classes but the weights have {n_file} "
                f"outputs ({shape_keys[0]})."
            )
        raise ModelLoadError(
            f"The weights do not fit architecture {arch}: "
            + "; ".join(problems[:6])
            + ("; …" if len(problems) > 6 else "")
        )
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:  # pragma: no cover - caught by the report above
        raise ModelLoadError(f"The weights do not fit architecture {arch}: {exc}") from exc


def map_by_position(
    model: nn.Module, sd: Mapping[str, torch.Tensor], arch: str
) -> dict[str, torch.Tensor]:
    """Rename the tensors of `sd` to `model`'s keys in order, checking count, kind and shape."""
    own = model.state_dict()
    if len(own) != len(sd):
        raise ModelLoadError(
            f"The weights do not fit architecture {arch}: the file has {len(sd)} tensors, "
            f"the model {len(own)}."
        )
    out = {}
    for i, ((mk, mv), (fk, fv)) in enumerate(zip(own.items(), sd.items(), strict=True)):
        if tuple(mv.shape) != tuple(fv.shape) or mk.rsplit(".", 1)[-1] != fk.rsplit(".", 1)[-1]:
            raise ModelLoadError(
                f"The weights do not fit architecture {arch}: tensor {i} is {fk} "
                f"{tuple(fv.shape)} in the file but {mk} {tuple(mv.shape)} in the model."
            )
        out[mk] = fv
    return out
