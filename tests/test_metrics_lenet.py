"""FID and IS with mnist-lenet features on real digits (needs the shipped weights)."""
import pytest
import torch

from diagnose.metrics import fidelity

lenet = pytest.importorskip("diagnose.features.mnist_lenet")
if not lenet.weights_available()[0]:
    pytest.skip("mnist-lenet weights not present", allow_module_level=True)


@pytest.fixture(scope="module")
def digits():
    from diagnose.analysis.reference import load_split
    from diagnose.features import get_extractor

    ds = load_split("mnist", "test")
    x = ds.get()[:600]
    ext = get_extractor("mnist-lenet")
    return x, ds.labels[:600], ext


def test_fid_zero_on_itself_and_monotone_in_noise(digits):
    x, _, ext = digits
    g = torch.Generator().manual_seed(0)
    a, b = x[:300], x[300:]
    fa = ext.features(a)
    stats = fidelity.fid_statistics(fa)
    assert abs(fidelity.fid(fa, stats)) < 1e-6
    vals = []
    for s in (0.0, 0.1, 0.3, 0.6):
        noisy = (b + s * torch.randn(b.shape, generator=g)).clamp(0, 1)
        vals.append(fidelity.fid(ext.features(noisy), stats))
    assert vals == sorted(vals), vals
    assert vals[-1] > 10 * vals[0]


def test_inception_score_real_near_ten_and_low_for_one_class(digits):
    x, y, ext = digits
    out = ext.extract(x.split(100), progress=False)
    is_real = fidelity.inception_score(out["logits"], splits=1)[0]
    # 10 for a fully confident classifier on balanced classes; the shipped weights (99 % held-out
    # accuracy) give about 9.4 on these digits
    assert 8.5 < is_real <= 10.0, is_real
    one = x[y == 1]
    is_one = fidelity.inception_score(ext.logits(one), splits=1)[0]
    assert is_one < 1.5 < is_real


def test_features_and_fid_do_not_depend_on_batch_size(digits):
    x, _, ext = digits
    f1 = ext.extract(x.split(50), progress=False)["features"]
    f2 = ext.extract(x.split(600), progress=False)["features"]
    assert torch.allclose(f1, f2, atol=1e-4)
    s = fidelity.fid_statistics(f1[:300])
    assert fidelity.fid(f1[300:], s) == pytest.approx(fidelity.fid(f2[300:], s), rel=1e-3, abs=1e-4)
