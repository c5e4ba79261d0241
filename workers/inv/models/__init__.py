"""The model registry: build a classifier, its preprocessing, class names and explainable layers.

- :mod:`.registry`: :class:`ModelSource` (where a model comes from; its ``kind``),
  :class:`LoadedModel` (what loading gives), the built-in models, the ImageNet class names;
- :mod:`.preprocessing`: :class:`Preprocessing` (resize, centre crop, normalisation) and presets;
- :mod:`.loaders`: one loader per kind (builtin, torchvision, timm, torchscript, state_dict);
- :mod:`.files`: reading and checking model files (class names, state dicts; ``weights_only``);
- :mod:`.layers`: explainable layers, the default ones (METHOD §1), choosing layers;
- :mod:`.torchscript`: :class:`ScriptProxy`, a hookable stand-in for a TorchScript module;
- :mod:`.load`: :func:`load_model`, which ties them together.
"""

from .layers import layer_shapes, resolve_layers
from .load import load_model
from .loaders import (
    efficientnet_lite0_weights_path,
    torchvision_cached_weights_path,
    torchvision_names,
)
from .preprocessing import (
    EFFICIENTNET_LITE0_PREPROCESSING,
    IMAGENET_MEAN,
    IMAGENET_PREPROCESSING,
    IMAGENET_STD,
    Preprocessing,
)
from .registry import LoadedModel, ModelSource, builtin_model_names, imagenet_class_names
from .torchscript import ScriptProxy

__all__ = [
    "EFFICIENTNET_LITE0_PREPROCESSING",
    "IMAGENET_MEAN",
    "IMAGENET_PREPROCESSING",
    "IMAGENET_STD",
    "LoadedModel",
    "ModelSource",
    "Preprocessing",
    "ScriptProxy",
    "builtin_model_names",
    "efficientnet_lite0_weights_path",
    "imagenet_class_names",
    "layer_shapes",
    "load_model",
    "resolve_layers",
    "torchvision_cached_weights_path",
    "torchvision_names",
]
