"""The demo's photos: real photos that ship with installed packages, each with its TRUE ImageNet
class (the class a person would give it), grouped into the demo campaigns with their guess
choices (no Django here: the reveal benchmark uses it too).

Sources, all offline: scikit-image (``skimage.data``), scikit-learn (``load_sample_images``) and
matplotlib's sample data (matplotlib is a runtime requirement for them; an install without it
leaves its two photos out). Photos whose subject has no ImageNet
class are not used as they are (the astronaut, the motorcycle, the dahlia, the rocket: the
network's "football helmet", "moped", "daisy" and "missile" were wrong to a human eye and
ImageNet has no right class for them); several give a *detail* with a class of its own instead
(the space shuttle model beside the astronaut, the motorcycle's disk brake, ...). A detail is its
own picture: a player may play the full photo and a detail of it.

Each campaign's choices are its answers plus plausible confusers that a person can still tell
apart once enough is revealed (no near-synonyms such as "tiger cat" for a tabby or "analog
clock" for a wall clock, which would make a right answer look wrong).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DemoPhoto:
    """One demo picture: ``name`` (the stored original name), its source loader, an optional
    crop box (left, top, right, bottom) of the source, and its true class."""

    name: str
    source: str
    true_class: str
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class DemoCampaign:
    name: str
    description: str
    photos: tuple[DemoPhoto, ...]
    confusers: tuple[str, ...]

    @property
    def classes(self) -> list[str]:
        """The guess choices: every answer, then the confusers."""
        answers = [p.true_class for p in self.photos]
        return list(dict.fromkeys([*answers, *self.confusers]))


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        if name == "stereo_motorcycle":
            return data.stereo_motorcycle()[0]
        return getattr(data, name)()

    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)

    return load


def _matplotlib(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.cbook
        from PIL import Image

        with matplotlib.cbook.get_sample_data(name) as fh:
            return np.asarray(Image.open(fh).convert("RGB"))

    return load


SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "camera": _skimage("camera"),
    "clock": _skimage("clock"),
    "astronaut": _skimage("astronaut"),
    "motorcycle": _skimage("stereo_motorcycle"),
    "china": _sklearn("china.jpg"),
    "grace_hopper": _matplotlib("grace_hopper.jpg"),
}

EVERYDAY = DemoCampaign(
    name="Demo: everyday photos",
    description="Real photos shipped with scikit-image, scikit-learn and matplotlib.",
    photos=(
        DemoPhoto("chelsea.png", "chelsea", "tabby"),
        DemoPhoto("coffee.png", "coffee", "espresso"),
        DemoPhoto("cameraman.png", "camera", "tripod"),
        DemoPhoto("clock.png", "clock", "wall clock"),
        DemoPhoto("china.png", "china", "palace"),
        DemoPhoto("grace_hopper.png", "grace_hopper", "military uniform"),
    ),
    confusers=("lynx", "coffee mug", "binoculars", "digital clock", "castle", "academic gown"),
)

DETAILS = DemoCampaign(
    name="Demo: details",
    description="Details of the same photos: a shuttle model, a brake, a roof, a lake, ...",
    photos=(
        DemoPhoto("shuttle_model.png", "astronaut", "space shuttle", (360, 0, 512, 190)),
        DemoPhoto("front_wheel.png", "motorcycle", "disk brake", (500, 255, 700, 465)),
        DemoPhoto("garage_shelves.png", "motorcycle", "carton", (560, 25, 741, 200)),
        DemoPhoto("roof.png", "china", "tile roof", (85, 15, 335, 215)),
        DemoPhoto("lake.png", "china", "lakeside", (360, 170, 590, 360)),
        DemoPhoto("uniform_tie.png", "grace_hopper", "bow tie", (180, 360, 330, 500)),
    ),
    confusers=("missile", "car wheel", "crate", "thatch", "valley", "Windsor tie"),
)

CAMPAIGNS: tuple[DemoCampaign, ...] = (EVERYDAY, DETAILS)


def source_available(source: str) -> bool:
    """False when the package holding the photo is not installed (matplotlib is optional)."""
    try:
        SOURCES[source]()
    except ImportError:
        return False
    return True


def photo_array(photo: DemoPhoto) -> np.ndarray:
    """The picture as an (h, w, 3) uint8 RGB array (grey photos are repeated on 3 channels)."""
    array = np.asarray(SOURCES[photo.source]())
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    array = np.ascontiguousarray(array[..., :3]).astype(np.uint8)
    if photo.box is not None:
        left, top, right, bottom = photo.box
        array = np.ascontiguousarray(array[top:bottom, left:right])
    return array


def campaign_photos(campaign: DemoCampaign) -> list[tuple[DemoPhoto, np.ndarray]]:
    """The campaign's photos whose source is installed, with their pixels."""
    available: dict[str, bool] = {}
    out = []
    for photo in campaign.photos:
        if photo.source not in available:
            available[photo.source] = source_available(photo.source)
        if available[photo.source]:
            out.append((photo, photo_array(photo)))
    return out
