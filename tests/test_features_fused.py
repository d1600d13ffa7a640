"""The fused Conv+ReLU path of the mnist-lenet inference copy gives the plain layers' features."""
import pytest
import torch

from diagnose.features import mnist_lenet as ml


def test_fused_conv_relu_equals_plain_layers():
    if not ml.weights_available()[0]:
        pytest.skip("mnist-lenet weights missing")
    fast = ml.inference_copy(ml.load_lenet())
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        used = fast.fused_relu
        fused = ml.fast_embed(fast, x)
        fast.fused_relu = False
        plain = ml.fast_embed(fast, x)
        fast.fused_relu = used
    assert torch.allclose(fused, plain, atol=1e-5, rtol=1e-5)
    assert (fused >= 0).all()            # the features are post-ReLU either way


def test_no_fusion_off_the_cpu_or_without_the_op(monkeypatch):
    if not ml.weights_available()[0]:
        pytest.skip("mnist-lenet weights missing")
    monkeypatch.setattr(ml, "_conv_relu_op", lambda: None)
    fast = ml.inference_copy(ml.load_lenet())
    assert fast.fused_relu is False
    x = torch.rand(4, 1, 28, 28)
    with torch.inference_mode():
        assert ml.fast_embed(fast, x).shape == (4, ml.FEATURE_DIM)
