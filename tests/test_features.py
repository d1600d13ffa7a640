"""Feature extractors: registry, dims, the committed mnist-lenet accuracy, stacked-mnist modes,
inception offline message, and torch-fidelity computing metrics on our extractors."""
from __future__ import annotations

import pytest
import torch

from diagnose.core.errors import UserError
from diagnose.features import (EXTRACTORS, ExtractorSpec, default_extractor_for, get_extractor,
                               register_with_fidelity)


@pytest.fixture(scope="module")
def test_digits():
    from diagnose.data import load_dataset

    ds = load_dataset("mnist", split="test", value_range=(0, 1))
    return ds.get(), ds.labels


def test_registry_refuses_duplicates_and_unknown_names():
    spec = EXTRACTORS["identity"]
    with pytest.raises(ValueError, match="already registered"):
        EXTRACTORS.register(ExtractorSpec("identity", spec.factory, 2, None, "points", "again"))
    with pytest.raises(ValueError, match="already registered"):
        EXTRACTORS["identity"] = spec
    with pytest.raises(UserError, match="unknown feature extractor 'nope'"):
        get_extractor("nope")
    assert set(EXTRACTORS) >= {"mnist-lenet", "stacked-mnist", "inception-v3", "identity"}


def test_defaults_per_dataset():
    assert default_extractor_for("mnist") == "mnist-lenet"
    assert default_extractor_for("stacked-mnist") == "stacked-mnist"
    assert default_extractor_for("ring8") == default_extractor_for("grid25") == "identity"
    assert default_extractor_for("celeba") == default_extractor_for("folder:/x") == "inception-v3"


def test_identity_points():
    e = get_extractor("identity")
    pts = torch.randn(7, 2)
    out = e.extract([pts[:4], pts[4:]], progress=False)
    assert torch.equal(out["features"], pts) and out["logits"] is None and out["labels"] is None
    assert e.classify(pts) is None and e.dim == 2 and e.num_classes is None
    with pytest.raises(UserError, match="2-D points"):
        e.features(torch.rand(3, 1, 28, 28))


def test_committed_lenet_weights_reach_97_percent(test_digits):
    from diagnose.features.mnist_lenet import WEIGHTS

    assert WEIGHTS.stat().st_size < 1_000_000
    x, y = test_digits
    e = get_extractor("mnist-lenet")
    out = e.extract(x.split(250), progress=False)
    acc = (out["labels"] == y).float().mean().item()
    assert len(y) == 1000 and acc >= 0.97, acc
    assert out["features"].shape == (1000, e.dim) == (1000, 128)
    assert out["logits"].shape == (1000, 10) and e.num_classes == 10
    # One pass gives what the single-purpose views give.
    assert torch.allclose(out["features"][:50], e.features(x[:50]), atol=1e-5)
    assert torch.equal(out["labels"][:50], e.classify(x[:50]))


def test_lenet_accepts_rgb_and_other_resolutions(test_digits):
    x, y = test_digits
    e = get_extractor("mnist-lenet")
    x = x[:200]
    rgb = x.expand(-1, 3, -1, -1)
    assert torch.allclose(e.features(rgb), e.features(x), atol=1e-5)  # gray = mean of 3 equal channels
    big = torch.nn.functional.interpolate(x, size=64, mode="bilinear", align_corners=False)
    assert (e.classify(big) == y[:200]).float().mean() >= 0.95


def test_stacked_mnist_reads_three_digits():
    from diagnose.data import load_dataset

    ds = load_dataset("stacked-mnist", split="test", value_range=(0, 1), size=1000, seed=3)
    e = get_extractor("stacked-mnist")
    out = e.extract((ds.get(torch.arange(i, min(i + 500, len(ds)))) for i in range(0, len(ds), 500)),
                    progress=False)
    acc = (out["labels"] == ds.labels).float().mean().item()
    assert acc >= 0.90, acc
    assert out["features"].shape == (1000, 384) and out["logits"].shape == (1000, 1000)
    # The 1000-way log-probabilities are a distribution whose argmax is the label.
    assert torch.allclose(out["logits"].exp().sum(1), torch.ones(1000), atol=1e-4)
    assert torch.equal(out["logits"].argmax(1), out["labels"])
    with pytest.raises(UserError, match="3-channel"):
        e.features(torch.rand(2, 1, 28, 28))


def test_inception_offline_says_where_to_put_weights(tmp_path):
    from diagnose.features.inception import cache_path

    if cache_path().is_file():
        pytest.skip("inception weights are present on this machine")
    with pytest.raises(UserError, match=r"inception-v3 weights not found.*download https://github.com/toshas/torch-fidelity/releases/.*--inception-weights"):
        get_extractor("inception-v3")
    missing = tmp_path / "w.pth"
    with pytest.raises(UserError, match=str(missing)):
        get_extractor("inception-v3", inception_weights=missing)
    ok, where = EXTRACTORS["inception-v3"].available()
    assert not ok and "https://" in where


class _U8(torch.utils.data.Dataset):
    """uint8 images, the input torch-fidelity's datasets give."""

    def __init__(self, x):
        self.x = (x * 255).round().to(torch.uint8)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


@pytest.mark.slow  # two torch-fidelity runs of 1,000 images: ~10-25 s on a shared 2-core CPU
def test_torch_fidelity_metrics_on_our_extractor(test_digits):
    import torch_fidelity

    names = register_with_fidelity()
    assert register_with_fidelity() == names  # idempotent
    assert {"mnist-lenet", "stacked-mnist", "identity"} <= set(names)
    x, _ = test_digits
    kw = dict(feature_extractor="mnist-lenet", fid=True, isc=True, kid=True, cuda=False,
              verbose=False, cache=False, save_cpu_ram=True, kid_subset_size=500, batch_size=250)
    same = torch_fidelity.calculate_metrics(input1=_U8(x), input2=_U8(x), **kw)
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))
    far = torch_fidelity.calculate_metrics(input1=_U8(noise), input2=_U8(x), **kw)
    assert abs(same["frechet_inception_distance"]) < 1e-3
    assert far["frechet_inception_distance"] > 100 * max(1e-3, same["frechet_inception_distance"])
    assert same["kernel_inception_distance_mean"] < far["kernel_inception_distance_mean"]
    # Real digits of 10 balanced classes: IS near 10; noise falls toward 1 class.
    assert same["inception_score_mean"] > 8.0, same
    assert far["inception_score_mean"] < same["inception_score_mean"] / 2
    # torch-fidelity's features equal ours (uint8 quantisation aside).
    from torch_fidelity.utils import create_feature_extractor

    fe = create_feature_extractor("mnist-lenet", ["features"], cuda=False)
    theirs = fe(_U8(x[:64]).x)[0]
    ours = get_extractor("mnist-lenet").features(_U8(x[:64]).x.float() / 255)
    assert torch.allclose(theirs, ours, atol=1e-4)


@pytest.mark.slow  # one epoch over 4,000 digits: ~5-30 s on a shared 2-core CPU
def test_retrain_short(tmp_path, capsys):
    import json

    from diagnose.cli import main
    from diagnose.data import load_dataset
    from diagnose.features.lenet_training import accuracy
    from diagnose.features.mnist_lenet import load_lenet

    out = tmp_path / "lenet.pt"
    assert main(["features", "train", "mnist-lenet", "--epochs", "1", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    ds = load_dataset("mnist", split="test", value_range=(0, 1))
    acc = accuracy(load_lenet(out), ds.get(), ds.labels)
    assert report["held_out_accuracy"] == pytest.approx(acc) and acc > 0.5  # chance is 0.1
    assert out.stat().st_size < 1_000_000


def test_training_is_deterministic():
    from diagnose.features.lenet_training import LeNetTrainConfig, train_lenet

    cfg = LeNetTrainConfig(epochs=1, train_size=256, batch_size=64)
    a, b = train_lenet(cfg, progress=False)[0], train_lenet(cfg, progress=False)[0]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    c = train_lenet(LeNetTrainConfig(epochs=1, train_size=256, seed=1), progress=False)[0]
    assert not torch.equal(a.head.weight, c.head.weight)


def test_features_list_cli(capsys):
    import json

    from diagnose.cli import main

    assert main(["features", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mnist-lenet"]["available"] and rows["mnist-lenet"]["dim"] == 128
    assert rows["stacked-mnist"]["num_classes"] == 1000 and rows["identity"]["num_classes"] is None
    assert main(["features"]) == 0
    assert "mnist-lenet" in capsys.readouterr().out


def test_stacked_composed_extraction_equals_direct():
    """The reference shortcut (LeNet once per digit, gathered) gives the direct pass's numbers."""
    import torch

    from diagnose.data import load_dataset
    from diagnose.features import get_extractor

    ds = load_dataset("stacked-mnist", size=300, value_range=(0.0, 1.0))
    ext = get_extractor("stacked-mnist")
    idx = torch.arange(0, 300, 2)
    fast = ext.extract_composed(ds, idx)
    slow = ext.extract(ds.get(idx).split(64), progress=False)
    assert torch.allclose(fast["features"], slow["features"], atol=1e-4)
    assert torch.allclose(fast["logits"], slow["logits"], atol=1e-4)
    assert torch.equal(fast["labels"], slow["labels"])
