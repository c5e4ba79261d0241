import io

import numpy as np
import PIL.Image
import pytest
import torch
import torchvision
from skimage import data
from torchvision.transforms import v2 as T

from tests.conftest import TINY_CLASSES, build_tiny_model
from workers.inv.errors import LayerError, ModelLoadError
from workers.inv.models import (
    LoadedModel,
    ModelSource,
    Preprocessing,
    builtin_model_names,
    imagenet_class_names,
    layer_shapes,
    load_model,
    resolve_layers,
)

VGG16_DEFAULTS = tuple(f"features.{i}" for i in (11, 13, 15, 18, 20, 22, 25, 27, 29))
LITE0_DEFAULTS = (
    "blocks.4.0",
    "blocks.4.1",
    "blocks.4.2",
    "blocks.5.0",
    "blocks.5.1",
    "blocks.5.2",
    "blocks.5.3",
    "blocks.6.0",
    "bn2",
)
CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat"}


def _classes_file(tmp_path, n, name="classes.txt"):
    path = tmp_path / name
    path.write_text("\n".join(f"class {i}" for i in range(n)) + "\n")
    return str(path)


def _save(obj, tmp_path, name):
    path = tmp_path / name
    torch.save(obj, path)
    return str(path)


def _predict(model: LoadedModel, array: np.ndarray) -> torch.Tensor:
    view = model.preprocessing.model_view(PIL.Image.fromarray(array))
    with torch.no_grad():
        return model.module(model.preprocessing.to_tensor(view)[None]).softmax(1)[0]


# ----------------------------------------------------------------------------- class names


def test_imagenet_class_names_are_the_standard_1000():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names == tuple(torchvision.models.ResNet50_Weights.IMAGENET1K_V2.meta["categories"])
    assert names[0] == "tench" and names[281] == "tabby" and names[967] == "espresso"


def test_builtin_model_names():
    assert "efficientnet_lite0" in builtin_model_names()


# ----------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("size", [(500, 375), (300, 600), (256, 256), (100, 80)])
@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
def test_model_view_matches_torchvision_resize_and_centre_crop(size, interp):
    rng = np.random.default_rng(1)
    img = PIL.Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    prep = Preprocessing(256, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), interp)
    view = prep.model_view(img)
    assert view.shape == (224, 224, 3) and view.dtype == np.uint8
    mode = T.InterpolationMode.BILINEAR if interp == "bilinear" else T.InterpolationMode.BICUBIC
    ref = T.Compose([T.Resize(256, interpolation=mode), T.CenterCrop(224)])(img)
    assert np.array_equal(view, np.asarray(ref))


def test_to_tensor_normalises():
    prep = Preprocessing(8, 8, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    view = np.zeros((8, 8, 3), np.uint8)
    view[0, 0] = 255
    x = prep.to_tensor(view)
    assert x.shape == (3, 8, 8) and x.dtype == torch.float32
    assert float(x[0, 0, 0]) == pytest.approx(1.0) and float(x[1, 1, 1]) == pytest.approx(-1.0)
    t = torchvision.transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    p2 = Preprocessing(8, 8, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    rnd = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    ref = t(torch.from_numpy(rnd).permute(2, 0, 1).float() / 255)
    assert torch.allclose(p2.to_tensor(rnd), ref, atol=1e-6)


def test_preprocessing_dict_round_trip_and_validation():
    prep = Preprocessing(342, 299, (0.1, 0.2, 0.3), (0.4, 0.5, 0.6), "bicubic")
    assert Preprocessing.from_dict(prep.to_dict()) == prep
    with pytest.raises(ValueError):
        Preprocessing(200, 224, (0.5,) * 3, (0.5,) * 3)
    with pytest.raises(ValueError):
        Preprocessing(256, 224, (0.5,) * 3, (0.5,) * 3, "magic")
    with pytest.raises(ValueError):
        Preprocessing.from_dict({"resize": 256})


# ----------------------------------------------------------------------------- built-in


@pytest.fixture(scope="module")
def lite0() -> LoadedModel:
    return load_model(ModelSource(kind="builtin", name="efficientnet_lite0"))


@pytest.mark.slow
def test_efficientnet_lite0_classifies_real_photos(lite0):
    assert lite0.class_names == imagenet_class_names()
    assert lite0.preprocessing.crop == 224 and lite0.preprocessing.mean == (0.5, 0.5, 0.5)
    p = _predict(lite0, data.chelsea())
    top = lite0.class_names[int(p.argmax())]
    cat_p = sum(float(p[lite0.class_names.index(c)]) for c in CAT_CLASSES)
    assert top in CAT_CLASSES and cat_p > 0.8, (top, cat_p)
    p = _predict(lite0, data.coffee())
    top = lite0.class_names[int(p.argmax())]
    assert top in {"espresso", "cup"} and float(p.max()) > 0.8, (top, float(p.max()))


@pytest.mark.slow
def test_efficientnet_lite0_default_layers(lite0):
    assert lite0.default_layers == LITE0_DEFAULTS
    shapes = layer_shapes(lite0)
    assert shapes["blocks.4.0"] == (112, 14, 14)
    assert shapes["blocks.5.3"] == (192, 7, 7)
    assert shapes["blocks.6.0"] == (320, 7, 7)
    assert shapes["bn2"] == (1280, 7, 7)
    assert set(LITE0_DEFAULTS) <= set(lite0.explainable_layers)
    assert lite0.device == "cpu" and not lite0.module.training


def test_efficientnet_lite0_wrong_file_is_rejected(tmp_path):
    sd = torchvision.models.squeezenet1_1().state_dict()
    path = _save(sd, tmp_path, "other.pth")
    with pytest.raises(ModelLoadError, match="do not fit architecture tf_efficientnet_lite0"):
        load_model(ModelSource(kind="builtin", name="efficientnet_lite0", weights_path=path))


def test_efficientnet_lite0_shape_mismatch_named(tmp_path):
    from workers.inv.models import efficientnet_lite0_weights_path

    sd = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    key = "_conv_head.weight"
    sd[key] = torch.zeros(1000, 320, 1, 1)
    path = _save(sd, tmp_path, "bad.pth")
    with pytest.raises(ModelLoadError, match=r"_conv_head\.weight"):
        load_model(ModelSource(kind="builtin", name="efficientnet_lite0", weights_path=path))


def test_unknown_names():
    with pytest.raises(ModelLoadError, match="Unknown built-in"):
        load_model(ModelSource(kind="builtin", name="nope"))
    with pytest.raises(ModelLoadError, match="Unknown torchvision"):
        load_model(ModelSource(kind="torchvision", name="resnet1800"))
    with pytest.raises(ModelLoadError, match="Unknown model kind"):
        load_model(ModelSource(kind="onnx", name="x"))


def test_cuda_unavailable_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelLoadError, match="CUDA is not available"):
        load_model(ModelSource(kind="builtin", name="efficientnet_lite0"), device="cuda")


# ----------------------------------------------------------------------------- torchvision


def test_vgg16_default_layers_are_the_papers():
    model = load_model(ModelSource(kind="torchvision", name="vgg16", random_weights=True))
    assert model.default_layers == VGG16_DEFAULTS
    shapes = layer_shapes(model)
    assert [shapes[n] for n in VGG16_DEFAULTS] == [(256, 56, 56)] * 3 + [(512, 28, 28)] * 3 + [
        (512, 14, 14)
    ] * 3
    for name in VGG16_DEFAULTS:
        assert isinstance(model.module.get_submodule(name), torch.nn.ReLU)
    assert "features.10" in model.explainable_layers  # the Conv2d itself is listed too
    assert model.class_names == imagenet_class_names()
    assert model.preprocessing == Preprocessing(
        256, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bilinear"
    )


def test_torchvision_weights_path(tmp_path):
    torch.manual_seed(3)
    ref = torchvision.models.resnet18().eval()
    path = _save(ref.state_dict(), tmp_path, "r18.pth")
    model = load_model(ModelSource(kind="torchvision", name="resnet18", weights_path=path))
    assert model.default_layers == (
        "layer2.0",
        "layer2.1",
        "layer3.0",
        "layer3.1",
        "layer4.0",
        "layer4.1",
    )
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model.module(x), ref(x))
    assert len(model.class_names) == 1000
    assert all(not p.requires_grad for p in model.module.parameters())


def test_torchvision_weights_for_another_architecture(tmp_path):
    path = _save(torchvision.models.resnet18().state_dict(), tmp_path, "r18.pth")
    with pytest.raises(ModelLoadError, match="do not fit architecture torchvision:resnet34"):
        load_model(ModelSource(kind="torchvision", name="resnet34", weights_path=path))


def test_torchvision_missing_weights_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.setenv("NETVIZ_ALLOW_DOWNLOADS", "0")
    with pytest.raises(ModelLoadError) as info:
        load_model(ModelSource(kind="torchvision", name="resnet18"))
    msg = str(info.value)
    assert "not on this machine" in msg and "NETVIZ_ALLOW_DOWNLOADS=0" in msg
    assert "weights_path" in msg and "resnet18-" in msg


# ----------------------------------------------------------------------------- state dicts


def test_state_dict_torchvision_architecture(tmp_path):
    torch.manual_seed(0)
    ref = torchvision.models.resnet18(num_classes=10).eval()
    weights = _save(ref.state_dict(), tmp_path, "r18.pth")
    classes = _classes_file(tmp_path, 10)
    src = ModelSource(
        kind="state_dict",
        name="mine",
        architecture="torchvision:resnet18",
        weights_path=weights,
        class_names_path=classes,
    )
    model = load_model(src)
    assert model.name == "mine" and model.class_names[3] == "class 3"
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model.module(x), ref(x))

    wrapped = _save(
        {"state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}}, tmp_path, "w.pth"
    )
    assert (
        load_model(
            ModelSource(
                kind="state_dict",
                name="w",
                architecture="torchvision:resnet18",
                weights_path=wrapped,
                class_names_path=classes,
            )
        ).default_layers
        == model.default_layers
    )


def test_state_dict_class_count_mismatch(tmp_path):
    weights = _save(torchvision.models.resnet18(num_classes=10).state_dict(), tmp_path, "r.pth")
    src = ModelSource(
        kind="state_dict",
        name="m",
        architecture="torchvision:resnet18",
        weights_path=weights,
        class_names_path=_classes_file(tmp_path, 5),
    )
    with pytest.raises(ModelLoadError, match="lists 5 classes but the weights have 10 outputs"):
        load_model(src)


def test_state_dict_wrong_architecture(tmp_path):
    weights = _save(torchvision.models.resnet18(num_classes=4).state_dict(), tmp_path, "r.pth")
    src = ModelSource(
        kind="state_dict",
        name="m",
        architecture="torchvision:vgg11",
        weights_path=weights,
        class_names_path=_classes_file(tmp_path, 4),
    )
    with pytest.raises(ModelLoadError, match="do not fit architecture torchvision:vgg11.*missing"):
        load_model(src)


def test_state_dict_timm_architecture(tmp_path):
    import timm

    torch.manual_seed(0)
    ref = timm.create_model("resnet18", pretrained=False, num_classes=3).eval()
    weights = _save(ref.state_dict(), tmp_path, "t.pth")
    model = load_model(
        ModelSource(
            kind="state_dict",
            name="t",
            architecture="timm:resnet18",
            weights_path=weights,
            class_names_path=_classes_file(tmp_path, 3),
        )
    )
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model.module(x), ref(x))
    assert model.default_layers[-1] == "layer4.1"


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"\x00\x01garbage" * 50, "not a valid PyTorch state dict"),
    ],
)
def test_state_dict_corrupt_file(tmp_path, content, match):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    src = ModelSource(
        kind="state_dict",
        name="m",
        architecture="torchvision:resnet18",
        weights_path=str(path),
        class_names_path=_classes_file(tmp_path, 3),
    )
    with pytest.raises(ModelLoadError, match=match):
        load_model(src)


def test_state_dict_refuses_pickled_model(tmp_path):
    path = _save(torchvision.models.squeezenet1_1(num_classes=3), tmp_path, "whole.pth")
    src = ModelSource(
        kind="state_dict",
        name="m",
        architecture="torchvision:squeezenet1_1",
        weights_path=path,
        class_names_path=_classes_file(tmp_path, 3),
    )
    with pytest.raises(ModelLoadError, match="state dict"):
        load_model(src)


def test_state_dict_bad_architecture_and_missing_files(tmp_path):
    classes = _classes_file(tmp_path, 3)
    for arch, match in [
        ("resnet18", "torchvision:NAME"),
        ("keras:vgg", "torchvision:NAME"),
        ("torchvision:resnet1800", "Unknown torchvision"),
        ("timm:no_such_net", "Unknown timm"),
    ]:
        with pytest.raises(ModelLoadError, match=match):
            load_model(
                ModelSource(
                    kind="state_dict",
                    name="m",
                    architecture=arch,
                    weights_path="x",
                    class_names_path=classes,
                )
            )
    with pytest.raises(ModelLoadError, match="class-names file"):
        load_model(ModelSource(kind="state_dict", name="m", architecture="torchvision:resnet18"))
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(
            ModelSource(
                kind="state_dict",
                name="m",
                architecture="torchvision:resnet18",
                weights_path=str(tmp_path / "missing.pth"),
                class_names_path=classes,
            )
        )
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ModelLoadError, match="lists no classes"):
        load_model(
            ModelSource(
                kind="state_dict",
                name="m",
                architecture="torchvision:resnet18",
                weights_path="x",
                class_names_path=str(empty),
            )
        )


# ----------------------------------------------------------------------------- TorchScript


def _jit_bytes(module) -> bytes:
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    return buf.getvalue()


def test_torchscript_tiny_model_is_hookable(tiny_model_files):
    weights, classes = tiny_model_files
    model = load_model(
        ModelSource(
            kind="torchscript",
            name="tiny",
            weights_path=str(weights),
            class_names_path=str(classes),
            preprocessing=Preprocessing(40, 32, (0.5,) * 3, (0.5,) * 3),
        )
    )
    assert model.class_names == TINY_CLASSES
    assert {"conv1", "act1", "conv2", "act2"} <= set(model.explainable_layers)
    assert model.default_layers == ("act1", "act2")
    assert layer_shapes(model)["act2"] == (6, 16, 16)
    seen = {}
    handle = model.module.get_submodule("act2").register_forward_hook(
        lambda m, i, o: seen.setdefault("act2", o)
    )
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model.module(x)
    handle.remove()
    assert seen["act2"].shape == (2, 6, 16, 16)
    with torch.no_grad():
        assert torch.equal(out, build_tiny_model()(x))


def test_torchscript_gradients_flow_through_the_proxy(tiny_model_files):
    weights, classes = tiny_model_files
    model = load_model(
        ModelSource(
            kind="torchscript", name="t", weights_path=str(weights), class_names_path=str(classes)
        )
    )
    eager = build_tiny_model()
    acts = {}

    def keep(m, i, o):
        acts["a"] = o

    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    h = model.module.get_submodule("act1").register_forward_hook(keep)
    out = model.module(x)
    h.remove()
    (g,) = torch.autograd.grad(out[0, 1], acts["a"])
    h = eager.act1.register_forward_hook(keep)
    out = eager(x)
    h.remove()
    (g_ref,) = torch.autograd.grad(out[0, 1], acts["a"])
    assert torch.allclose(g, g_ref, atol=1e-6)


@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_resnet_matches_eager(tmp_path, how):
    torch.manual_seed(0)
    eager = torchvision.models.resnet18(num_classes=4).eval()
    x = torch.randn(1, 3, 224, 224)
    scripted = torch.jit.script(eager) if how == "script" else torch.jit.trace(eager, x)
    path = tmp_path / "r18.pt"
    path.write_bytes(_jit_bytes(scripted))
    model = load_model(
        ModelSource(
            kind="torchscript",
            name="r",
            weights_path=str(path),
            class_names_path=_classes_file(tmp_path, 4),
        )
    )
    assert model.default_layers == (
        "layer2.0",
        "layer2.1",
        "layer3.0",
        "layer3.1",
        "layer4.0",
        "layer4.1",
    )
    with torch.no_grad():
        assert torch.allclose(model.module(x), eager(x), atol=1e-5)


def test_torchscript_class_count_mismatch(tiny_model_files, tmp_path):
    weights, _ = tiny_model_files
    with pytest.raises(ModelLoadError, match="lists 5 classes but the model outputs 3"):
        load_model(
            ModelSource(
                kind="torchscript",
                name="t",
                weights_path=str(weights),
                class_names_path=_classes_file(tmp_path, 5),
            )
        )


def test_torchscript_corrupt_file(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip archive" * 10)
    with pytest.raises(ModelLoadError, match="Cannot read bad.pt as a TorchScript model"):
        load_model(
            ModelSource(
                kind="torchscript",
                name="t",
                weights_path=str(bad),
                class_names_path=_classes_file(tmp_path, 3),
            )
        )
    with pytest.raises(ModelLoadError, match="class-names file"):
        load_model(ModelSource(kind="torchscript", name="t", weights_path=str(bad)))


# ----------------------------------------------------------------------------- resolve_layers


def test_resolve_layers(tiny_model_files):
    weights, classes = tiny_model_files
    model = load_model(
        ModelSource(
            kind="torchscript", name="t", weights_path=str(weights), class_names_path=str(classes)
        )
    )
    assert resolve_layers(model, None) == model.default_layers
    assert resolve_layers(model, ["conv2", "act1"]) == ("conv2", "act1")
    with pytest.raises(LayerError, match="Did you mean.*act1"):
        resolve_layers(model, ["actl"])
    with pytest.raises(LayerError, match="twice"):
        resolve_layers(model, ["act1", "act1"])
    with pytest.raises(LayerError, match="No layers"):
        resolve_layers(model, [])
    with pytest.raises(LayerError, match="not an explainable layer"):
        resolve_layers(model, ["fc"])  # 2-D output


def test_source_overrides_default_layers(tiny_model_files):
    weights, classes = tiny_model_files
    src = ModelSource(
        kind="torchscript",
        name="t",
        weights_path=str(weights),
        class_names_path=str(classes),
        default_layers=("conv2",),
    )
    assert load_model(src).default_layers == ("conv2",)
    bad = ModelSource(
        kind="torchscript",
        name="t",
        weights_path=str(weights),
        class_names_path=str(classes),
        default_layers=("fc",),
    )
    with pytest.raises(ModelLoadError, match="not explainable"):
        load_model(bad)
