"""Our FID/IS/KID formulas against torch-fidelity's own functions, and the fast feature path
against the plain network: the speed work must not move a number."""
import numpy as np
import pytest
import torch

from diagnose.metrics import fidelity


def _feats(n, shift=0.0, seed=0, dim=64):
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(n, dim, generator=g) + shift) * 2


def test_fid_equals_torch_fidelity():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    a, b = _feats(900, seed=1), _feats(700, 0.2, seed=2)
    s1, s2 = fid_features_to_statistics(a.double()), fid_features_to_statistics(b.double())
    theirs = fid_statistics_to_metric(s1, s2, verbose=False)["frechet_inception_distance"]
    ours = fidelity.fid_statistics(a)
    assert np.abs(ours["sigma"] - s1["sigma"]).max() < 1e-12
    assert np.abs(ours["mu"] - s1["mu"]).max() < 1e-12
    assert fidelity.fid(a, b) == pytest.approx(theirs, rel=1e-9)
    assert fidelity.fid(a, a) == pytest.approx(0.0, abs=1e-6)


def test_fid_statistics_do_not_depend_on_the_chunk(monkeypatch):
    a = _feats(1000, seed=3)
    whole = fidelity.fid_statistics(a)
    monkeypatch.setattr(fidelity, "STAT_CHUNK", 97)
    parts = fidelity.fid_statistics(a)
    assert np.abs(whole["sigma"] - parts["sigma"]).max() < 1e-12


def test_inception_score_equals_torch_fidelity():
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = torch.randn(1000, 10, generator=torch.Generator().manual_seed(4)) * 3
    theirs = isc_features_to_metric(logits.double(), splits=10, shuffle=True, rng_seed=2020)
    mean, std = fidelity.inception_score(logits)
    assert mean == theirs["inception_score_mean"]
    assert std == theirs["inception_score_std"]


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_kid_equals_torch_fidelity(shift):
    """Same subsets, same unbiased estimator: equal to float32 rounding, near zero and shifted."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    a, b = _feats(1500, seed=5), _feats(1200, shift, seed=6)
    theirs = kid_features_to_metric(a, b, kid_subsets=12, kid_subset_size=500, rng_seed=2020,
                                    verbose=False)
    mean, std = fidelity.kid(a, b, subsets=12, subset_size=500)
    assert mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4, abs=1e-5)
    assert std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-3, abs=1e-5)
    if shift:
        assert mean > 0.01       # the shifted set is measurably far, the same one is not
    else:
        assert abs(mean) < 0.01


def test_kid_batching_does_not_change_the_value(monkeypatch):
    a, b = _feats(800, seed=7), _feats(800, 0.1, seed=8)
    one = fidelity.kid_mmds(a, b, subsets=9, subset_size=300)
    monkeypatch.setattr(fidelity, "KID_BLOCK_ELEMENTS", 300 * 300)   # one subset per product
    each = fidelity.kid_mmds(a, b, subsets=9, subset_size=300)
    assert torch.allclose(one, each, rtol=1e-6, atol=1e-9)


def test_kid_never_builds_an_n_by_n_matrix(monkeypatch):
    """Memory is bounded by the block size, not by n: every kernel block is at most the cap."""
    seen = []
    real = torch.baddbmm

    def spy(inp, a, b, **kw):
        seen.append(a.shape[0] * a.shape[1] * b.shape[2])
        return real(inp, a, b, **kw)

    monkeypatch.setattr(torch, "baddbmm", spy)
    monkeypatch.setattr(fidelity, "KID_BLOCK_ELEMENTS", 4 * 200 * 200)
    fidelity.kid(_feats(3000, seed=9), _feats(3000, seed=10), subsets=10, subset_size=200)
    assert seen and max(seen) <= 4 * 200 * 200


def test_fast_lenet_equals_the_plain_network():
    from diagnose.features.mnist_lenet import (inference_copy, load_lenet, standardise,
                                               weights_available)

    if not weights_available()[0]:
        pytest.skip("mnist-lenet weights missing")
    net = load_lenet()
    fast = inference_copy(net)
    x = torch.rand(37, 1, 28, 28, generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        ref = net.embed(standardise(x))
        got = fast.embed(standardise(x).contiguous(memory_format=torch.channels_last))
    assert torch.allclose(ref, got, atol=1e-4, rtol=1e-4)
    # The cache key (weights hash) sees the original weights only.
    from diagnose.analysis.cache import module_hash
    from diagnose.features import get_extractor

    ext = get_extractor("mnist-lenet")
    assert module_hash(ext) == module_hash(net)
    out = ext.extract([x[:20], x[20:]], progress=False)
    assert torch.allclose(out["features"], ref, atol=1e-4, rtol=1e-4)
    out["features"].add_(1.0)       # callers may modify what they get (no inference tensors)


def test_extract_with_and_without_a_total_gives_the_same_rows():
    """Preallocated outputs (total known, also when it is too small or too large) equal the
    concatenated ones."""
    from diagnose.features import get_extractor
    from diagnose.features.weights import lenet_available

    if not lenet_available()[0]:
        pytest.skip("mnist-lenet weights missing")
    ext = get_extractor("mnist-lenet")
    x = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(12))
    plain = ext.extract(x.split(16), progress=False)
    for total in (50, 30, 80):
        got = ext.extract(x.split(16), progress=False, total=total)
        for k in ("features", "logits", "labels"):
            assert got[k].shape[0] == 50 and torch.allclose(got[k].float(), plain[k].float())
