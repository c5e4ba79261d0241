"""How an image becomes a model's input: :class:`Preprocessing` and the ImageNet presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import PIL.Image
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = {
    "nearest": PIL.Image.Resampling.NEAREST,
    "bilinear": PIL.Image.Resampling.BILINEAR,
    "bicubic": PIL.Image.Resampling.BICUBIC,
    "lanczos": PIL.Image.Resampling.LANCZOS,
}


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
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {self.interpolation!r}"
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
            img = img.resize(size, INTERPOLATIONS[self.interpolation])
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
