"""Capture (hooks, in-place ReLU, partial backward), weights, shares, discard, Grad-CAM."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from tests.workers.inv.engine_helpers import (
    TinyLoaded,
    TinyNet,
    TinyPreprocessing,
    no_hooks_left,
    reference_capture,
    views,
)
from workers.inv.capture import capture
from workers.inv.errors import LayerError
from workers.inv.explain import explain_batch
from workers.inv.types import EngineParams
from workers.inv.weights import discard, keep_threshold, layer_weights, shares_from_alpha

LAYERS = ("features.1", "features.3")


def _batch(vs):
    return torch.stack([TinyPreprocessing().to_tensor(v) for v in vs])


def _engine_capture(net, vs, layers=LAYERS, targets=None):
    with capture(net, layers) as cap:
        logits = cap.forward(net, _batch(vs))
        t = logits.detach().argmax(1) if targets is None else torch.tensor(targets)
        acts, grads = cap.gradients(logits, t)
    return acts, grads, logits.detach()


def test_inplace_relu_capture_matches_plain_autograd():
    net = TinyNet(inplace=True)
    vs = views(3)
    acts, grads, logits = _engine_capture(net, vs)
    ref_a, ref_g, ref_logits, _ = reference_capture(net, vs, LAYERS)
    np.testing.assert_allclose(logits.numpy(), ref_logits, rtol=1e-5, atol=1e-6)
    for name, a, g in zip(LAYERS, acts, grads):
        assert a.min() >= 0  # post-ReLU, although the ReLU overwrote the conv output in place
        np.testing.assert_allclose(a.numpy(), ref_a[name], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(g.numpy(), ref_g[name], rtol=1e-5, atol=1e-8)
    assert all(p.grad is None for p in net.parameters())  # no parameter gradients
    assert no_hooks_left(net)


def test_nothing_before_the_earliest_layer_is_recorded():
    net = TinyNet()
    seen = {}
    h = net.features[0].register_forward_hook(lambda m, i, o: seen.update(rg=o.requires_grad))
    try:
        with capture(net, ["features.3"]) as cap:  # earliest explained layer is features.3
            logits = cap.forward(net, _batch(views(1)))
            # the graph starts at the captured leaf: the first conv ran without autograd
            assert seen["rg"] is False
            leaf = cap.activations["features.3"]
            assert leaf.is_leaf and leaf.requires_grad
            cap.gradients(logits, logits.argmax(1))
    finally:
        h.remove()
    assert torch.is_grad_enabled()


def test_hooks_removed_after_exception_inside_context():
    net = TinyNet()
    with pytest.raises(RuntimeError, match="boom"), capture(net, LAYERS):
        assert not no_hooks_left(net)
        raise RuntimeError("boom")
    assert no_hooks_left(net)
    assert torch.is_grad_enabled()


def test_hooks_removed_when_the_forward_fails():
    class Broken(TinyNet):
        def forward(self, x):
            self.features(x)
            raise ValueError("head failed")

    net = Broken()
    with pytest.raises(ValueError, match="head failed"):
        explain_batch(TinyLoaded(net), views(2), layers=LAYERS, params=EngineParams(mode="fast"))
    assert no_hooks_left(net)
    assert torch.is_grad_enabled()


def test_unknown_and_unexplainable_layers():
    net = TinyNet()
    with pytest.raises(LayerError, match="unknown layer"):
        explain_batch(TinyLoaded(net), views(1), layers=["nope"], params=EngineParams())
    with pytest.raises(LayerError, match="4-D"):  # the linear head is not a feature map
        explain_batch(TinyLoaded(net), views(1), layers=["fc"], params=EngineParams())
    assert no_hooks_left(net)


def _scripted_roundtrip(net):
    """A TorchScript round trip, wrapped as load_model does (hooks need the proxy)."""
    from workers.inv.models import ScriptProxy

    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(net), buf)
    return ScriptProxy(torch.jit.load(io.BytesIO(buf.getvalue())).eval())


@pytest.mark.parametrize("mode", ["fast", "paper"])
def test_torchscript_model_gives_the_same_explanation(mode):
    net = TinyNet(c2=12, inplace=True)
    scripted = _scripted_roundtrip(net)
    vs = views(2)
    params = EngineParams(mode=mode, tsne_iterations=250)
    eager = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    script = explain_batch(TinyLoaded(scripted), vs, layers=LAYERS, params=params)
    for e, s in zip(eager, script):
        assert (e.target_index, e.predicted_index) == (s.target_index, s.predicted_index)
        for le, ls in zip(e.layers, s.layers):
            np.testing.assert_allclose(le.shares, ls.shares, rtol=1e-5, atol=1e-9)
            np.testing.assert_allclose(le.gradcam, ls.gradcam, rtol=1e-5, atol=1e-6)
            assert [c.channels for c in le.clusters] == [c.channels for c in ls.clusters]
    # twice: same result, the scripted model itself is untouched
    again = explain_batch(TinyLoaded(scripted), vs, layers=LAYERS, params=params)
    assert [c.channels for c in again[0].layers[1].clusters] == [
        c.channels for c in script[0].layers[1].clusters
    ]
    ref_a, ref_g, _, _ = reference_capture(net, vs, LAYERS)
    with capture(scripted, LAYERS) as cap:
        logits = cap.forward(scripted, _batch(vs))
        acts, grads = cap.gradients(logits, logits.detach().argmax(1))
    for name, a, g in zip(LAYERS, acts, grads):
        np.testing.assert_allclose(a.numpy(), ref_a[name], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(g.numpy(), ref_g[name], rtol=1e-5, atol=1e-8)
    assert all(p.grad is None for p in scripted.parameters())


def test_frozen_parameters_eager_and_torchscript():
    """Loaded models have requires_grad=False parameters: capture must not depend on them."""
    net = TinyNet(c2=12)
    vs = views(2)
    ref_a, ref_g, _, _ = reference_capture(net, vs, LAYERS)
    for model in (net, _scripted_roundtrip(net)):
        for p in model.parameters():
            p.requires_grad_(False)
        acts, grads, _ = _engine_capture(model, vs)
        for name, a, g in zip(LAYERS, acts, grads):
            np.testing.assert_allclose(a.numpy(), ref_a[name], rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(g.numpy(), ref_g[name], rtol=1e-5, atol=1e-8)


def test_weights_equal_hand_computation_linear_head():
    """Last layer → global average pool → linear: ∂y^c/∂A^k_ij = W[c, k] / (H·W) exactly."""
    net = TinyNet(c2=12)
    vs = views(2)
    with torch.no_grad():
        net.fc.weight[0] = torch.linspace(-1, 1, 12)
    targets = [0, 0]
    acts, _, _, _ = reference_capture(net, vs, ["features.3"], targets)
    a = acts["features.3"]  # (N, K, H, W)
    hw = a.shape[2] * a.shape[3]
    wc = net.fc.weight[0].detach().numpy().astype(np.float64)
    grad = wc / hw  # per channel, the same at every position
    frac_pos = (a > 0).mean(axis=(2, 3))
    guided = np.where(grad > 0, grad, 0.0)[None, :] * frac_pos
    gradcam = np.maximum(grad, 0.0)[None, :].repeat(2, 0)

    for method, alpha in (("guided", guided), ("gradcam", gradcam)):
        res = explain_batch(
            TinyLoaded(net),
            vs,
            layers=["features.3"],
            params=EngineParams(weights=method, mode="fast"),
            targets=targets,
        )
        for i, r in enumerate(res):
            expected = 100 * alpha[i] / alpha[i].sum()
            np.testing.assert_allclose(r.layers[0].shares, expected, rtol=1e-5, atol=1e-9)
            assert r.layers[0].shares.dtype == np.float64

    # layer_weights itself on the captured tensors: g = mean gradient
    e_acts, e_grads, _ = _engine_capture(net, vs, ["features.3"], targets)
    lw = layer_weights(e_acts[0], e_grads[0], "guided")
    np.testing.assert_allclose(lw.g.numpy(), np.tile(grad, (2, 1)), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(lw.alpha.numpy(), guided, rtol=1e-5, atol=1e-9)


def test_layer_weights_formulas_on_random_tensors():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)
    g = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)
    lw = layer_weights(torch.from_numpy(a), torch.from_numpy(g), "guided")
    guided = (g * (a > 0) * (g > 0)).mean(axis=(2, 3))
    np.testing.assert_allclose(lw.alpha.numpy(), guided, rtol=1e-5, atol=1e-7)
    lw2 = layer_weights(torch.from_numpy(a), torch.from_numpy(g), "gradcam")
    gm = g.mean(axis=(2, 3))
    np.testing.assert_allclose(lw2.g.numpy(), gm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(lw2.alpha.numpy(), np.maximum(gm, 0), rtol=1e-5, atol=1e-7)
    cam = np.maximum(np.einsum("nk,nkhw->nhw", gm, a), 0)
    cam = (cam - cam.min(axis=(1, 2), keepdims=True)) / np.ptp(cam, axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(lw2.gradcam.numpy(), cam, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        layer_weights(torch.from_numpy(a), torch.from_numpy(g), "other")


def test_shares_and_discard_boundaries():
    assert shares_from_alpha(np.zeros(4)) is None
    s = shares_from_alpha(np.array([2.0, 1.0, 1.0, 0.0]))
    assert s.tolist() == [50.0, 25.0, 25.0, 0.0]
    # keep iff ŵ > keep_factor · 100 / K (strict): exactly at the threshold is discarded
    assert keep_threshold(4, 1.0) == 25.0
    assert discard(s, 1.0).tolist() == [0]
    assert discard(np.full(4, 25.0), 1.0).tolist() == []
    assert discard(s, 0.0).tolist() == [0, 1, 2]  # zero share never kept
    assert discard(s, 0.896).tolist() == [0, 1, 2]  # 25 > 22.4
    assert discard(np.array([22.4, 77.6, 0.0, 0.0]), 0.896).tolist() == [1]  # 22.4 is not > 22.4


@pytest.mark.parametrize("layer", ["features.1", "features.3"])
def test_layer_gradcam_matches_pytorch_grad_cam(layer):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    net = TinyNet(pool=True)
    vs = views(3, size=8)
    res = explain_batch(TinyLoaded(net), vs, layers=[layer], params=EngineParams(mode="fast"))
    x = _batch(vs)
    targets = [r.target_index for r in res]
    module = dict(net.named_modules())[layer]
    with GradCAM(model=net, target_layers=[module]) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(t) for t in targets])
    net.zero_grad(set_to_none=True)
    for i, r in enumerate(res):
        ours = r.layers[0].gradcam
        assert ours.dtype == np.float32 and ours.min() >= 0 and ours.max() <= 1
        # pytorch-grad-cam min-max normalises at native size, then resizes to the input size
        ours_resized = cv2.resize(ours, (x.shape[-1], x.shape[-2]))
        np.testing.assert_allclose(ours_resized, theirs[i], rtol=1e-4, atol=1e-5)


def test_layer_not_on_the_logit_path_gets_zero_gradients():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
            self.b = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            self.b(x)  # computed but unused
            return self.fc(self.a(x).mean(dim=(2, 3)))

    net = TwoHeads().eval()
    res = explain_batch(TinyLoaded(net), views(1), layers=["a.1", "b.1"], params=EngineParams())
    assert res[0].layers[1].no_positive_evidence
    assert no_hooks_left(net)
