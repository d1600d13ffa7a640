"""load_generator: every accepted form loads and reads its output right; every wrong form gives one
clear UserError; a pickle payload never runs without --trust-pickle."""
from __future__ import annotations

import math
import os
import textwrap

import pytest
import torch
from torch import nn

from diagnose.core.errors import UserError
from diagnose.generators.load import FORMAT, load_generator, wrap_generator

ARCH_SRC = textwrap.dedent('''
    import torch
    from torch import nn

    class MLPGen(nn.Module):
        """Flat 784 output in [0, 1]."""
        def __init__(self, nz=16):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(nz, 64), nn.ReLU(), nn.Linear(64, 784), nn.Sigmoid())
        def forward(self, z):
            return self.net(z)

    class ConvGen(nn.Module):
        """(N, z, 1, 1) latent -> 1x28x28 in [-1, 1], with BatchNorm."""
        def __init__(self, nz=8):
            super().__init__()
            self.net = nn.Sequential(nn.ConvTranspose2d(nz, 16, 7), nn.BatchNorm2d(16), nn.ReLU(),
                                     nn.ConvTranspose2d(16, 1, 4, 4, 0), nn.Tanh())
        def forward(self, z):
            return self.net(z)

    class VecConvGen(nn.Module):
        """(N, z) latent -> 1x28x28 in [-1, 1]; states its latent size as an attribute."""
        def __init__(self, z_dim=12):
            super().__init__()
            self.z_dim = z_dim
            self.fc = nn.Linear(z_dim, 16 * 7 * 7)
            self.up = nn.Sequential(nn.ConvTranspose2d(16, 1, 4, 4, 0), nn.Tanh())
        def forward(self, z):
            return self.up(self.fc(z).view(-1, 16, 7, 7))

    class Disc(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 1))
        def forward(self, x):
            return self.net(x)

    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 10)
        def forward(self, z):
            raise RuntimeError("boom inside forward")

    class Points(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(6, 2)
        def forward(self, z):
            return self.lin(z) * 3
''')


@pytest.fixture(scope="module")
def arch(tmp_path_factory):
    d = tmp_path_factory.mktemp("arch")
    f = d / "gens.py"
    f.write_text(ARCH_SRC)
    import importlib.util

    spec = importlib.util.spec_from_file_location("gens_for_tests", f)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return f, mod


def _save(obj, path):
    torch.save(obj, path)
    return path


# ----------------------------------------------------------------------------- accepted forms
def test_state_dict_with_arch_flat_01(arch, tmp_path):
    f, mod = arch
    p = _save(mod.MLPGen(16).state_dict(), tmp_path / "g.pt")
    g = load_generator(p, arch=f"{f}:MLPGen", arch_kwargs='{"nz": 16}')
    assert g.form == "state-dict" and g.latent_shape == (16,)
    assert g.describe().startswith("output (N, 784) read as 1x28x28, range [0, 1]")
    x = next(g.sample(10, batch_size=4))
    assert x.shape == (4, 1, 28, 28) and 0 <= x.min() and x.max() <= 1


def test_state_dict_wrong_shapes_and_missing_arch(arch, tmp_path):
    f, mod = arch
    p = _save(mod.MLPGen(16).state_dict(), tmp_path / "g.pt")
    with pytest.raises(UserError, match=r"is a plain state dict: pass --arch module.py:ClassName"):
        load_generator(p)
    with pytest.raises(UserError, match="do not fit"):
        load_generator(p, arch=f"{f}:MLPGen", arch_kwargs={"nz": 20})
    with pytest.raises(UserError, match="has no class 'Nope'.*MLPGen"):
        load_generator(p, arch=f"{f}:Nope")
    with pytest.raises(UserError, match="no such file"):
        load_generator(p, arch=f"{tmp_path}/missing.py:MLPGen")
    with pytest.raises(UserError, match="cannot import module"):
        load_generator(p, arch="no_such_pkg_xyz.models:MLPGen")
    with pytest.raises(UserError, match="not valid JSON"):
        load_generator(p, arch=f"{f}:MLPGen", arch_kwargs="{nz: 16")


def test_trainers_checkpoint_with_builder_conv_latent(arch, tmp_path):
    _, mod = arch
    G = mod.ConvGen(8)
    G.train()
    ckpt = {"format": FORMAT, "config": {"model": "conv", "nz": 8}, "step": 5,
            "latent_shape": [8, 1, 1], "generator": G.state_dict(),
            "discriminator": mod.Disc().state_dict(), "optimizers": {}, "rng": {"torch": torch.get_rng_state()}}
    p = _save(ckpt, tmp_path / "step_0000005.pt")
    built = []

    def builder(config):
        built.append(config)
        return mod.ConvGen(config["nz"])

    g = load_generator(p, builder=builder)
    assert built == [ckpt["config"]] and g.form == "trainers-checkpoint" and g.config["nz"] == 8
    assert g.latent_shape == (8, 1, 1) and g.latent_source == "checkpoint"
    assert g.describe().startswith("output (N, 1, 28, 28), range [-1, 1]")
    before = {k: v.clone() for k, v in g.module.state_dict().items()}
    training = g.module.training
    x = torch.cat(list(g.sample(20, batch_size=8)))
    assert x.shape == (20, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    # Sampling leaves the module as it was: same mode, same BatchNorm running stats.
    assert g.module.training == training
    assert all(torch.equal(before[k], v) for k, v in g.module.state_dict().items())
    # Deterministic latents and outputs for a seed.
    assert torch.equal(g.latents(5, seed=3), g.latents(5, seed=3))

    bad = dict(ckpt, generator=None)
    with pytest.raises(UserError, match="no generator weights"):
        load_generator(_save(bad, tmp_path / "d.pt"), builder=builder)
    with pytest.raises(UserError, match="format"):
        load_generator(_save(dict(ckpt, format="other/9"), tmp_path / "o.pt"), builder=builder)


def test_torchscript(arch, tmp_path):
    _, mod = arch
    G = mod.VecConvGen(12).eval()
    ts = tmp_path / "g_ts.pt"
    with pytest.warns(FutureWarning):  # torch marks TorchScript deprecated; users still have such files
        torch.jit.script(G).save(str(ts))
    g = load_generator(ts)
    assert g.form == "torchscript" and g.latent_shape == (12,)
    z = g.latents(6)
    assert torch.allclose(g.generate(z), (G(z) + 1) / 2, atol=1e-5)


def test_exported_program(arch, tmp_path):
    _, mod = arch
    G = mod.VecConvGen(12).eval()
    ep = torch.export.export(G, (torch.randn(4, 12),))
    pt2 = tmp_path / "g.pt2"
    torch.export.save(ep, str(pt2))
    g2 = load_generator(pt2)
    assert g2.form == "exported-program" and g2.latent_shape == (12,)
    z = g2.latents(10)  # 10 is not a multiple of the traced batch of 4: padded chunks
    assert torch.allclose(g2.generate(z), (G(z) + 1) / 2, atol=1e-5)


def test_pickled_module_needs_trust(arch, tmp_path):
    _, mod = arch
    import sys

    sys.modules["gens_for_tests"] = mod  # the class must be importable to unpickle it
    try:
        p = _save(mod.MLPGen(16), tmp_path / "whole.pt")
        with pytest.raises(UserError, match="pass --trust-pickle only if the file is trusted"):
            load_generator(p)
        g = load_generator(p, trust_pickle=True)
        assert g.form == "pickled-module" and g.latent_shape == (16,)
    finally:
        del sys.modules["gens_for_tests"]


class _Payload:
    """Unpickling this runs os.system: the loader must never do that without trust."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_payload_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    p = _save({"generator": _Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="--trust-pickle"):
        load_generator(p)
    assert not marker.exists()


# ----------------------------------------------------------------------------- wrong files
def test_bad_files(arch, tmp_path):
    _, mod = arch
    with pytest.raises(UserError, match="no such file"):
        load_generator(tmp_path / "nope.pt")
    with pytest.raises(UserError, match="is a directory"):
        load_generator(tmp_path)
    txt = tmp_path / "notes.pt"
    txt.write_text("these are my training notes\n" * 20)
    with pytest.raises(UserError, match="is a text file"):
        load_generator(txt)
    rnd = tmp_path / "random.pt"
    rnd.write_bytes(bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(1),
                                        dtype=torch.uint8).tolist()).replace(b"\x80", b"\x81").replace(b"PK", b"QK"))
    with pytest.raises(UserError, match="not a PyTorch file"):
        load_generator(rnd)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="is empty"):
        load_generator(empty)
    good = _save(mod.MLPGen(16).state_dict(), tmp_path / "good.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(UserError, match="truncated"):
        load_generator(cut, arch="x.py:MLPGen")
    tensor = _save(torch.zeros(3), tmp_path / "t.pt")
    with pytest.raises(UserError, match="single tensor"):
        load_generator(tensor)


def test_discriminator_is_refused(arch, tmp_path):
    f, mod = arch
    D = mod.Disc()
    with pytest.raises(UserError, match="discriminator"):
        load_generator(_save({"discriminator": D.state_dict(), "step": 3}, tmp_path / "d1.pt"))
    with pytest.raises(UserError, match="discriminator"):
        load_generator(_save({"netD." + k: v for k, v in D.state_dict().items()}, tmp_path / "d2.pt"))
    # Loaded as if it were a generator: one number per sample gives it away.
    with pytest.raises(UserError, match="looks like a discriminator"):
        load_generator(_save(D.state_dict(), tmp_path / "d3.pt"), arch=f"{f}:Disc",
                       latent_shape=(1, 28, 28))


def test_generator_that_raises_and_nan_output(arch):
    _, mod = arch
    with pytest.raises(UserError, match="the generator raised RuntimeError.*boom inside forward"):
        wrap_generator(mod.Broken())
    G = mod.MLPGen(16)
    g = wrap_generator(G)
    with torch.no_grad():
        G.net[2].bias.fill_(float("nan"))
    x = g.generate(g.latents(3))
    assert torch.isnan(x).all()  # returned, not an error: the verdict layer calls it diverged


# ----------------------------------------------------------------------------- latents and outputs
def test_latent_inference_and_overrides(arch):
    _, mod = arch
    assert wrap_generator(mod.MLPGen(16)).latent_source == "first layer (Linear)"
    assert wrap_generator(mod.ConvGen(8)).latent_shape == (8, 1, 1)
    v = wrap_generator(mod.VecConvGen(12))
    assert v.latent_shape == (12,) and v.latent_source == "attribute z_dim"
    # A vector generator told it has a conv latent fails with advice, not a traceback.
    with pytest.raises(UserError, match="--latent-dim"):
        wrap_generator(mod.MLPGen(16), latent_shape="conv")
    # A generator that flattens a conv latent accepts either when told.
    flat = nn.Sequential(nn.Flatten(), nn.Linear(8, 784), nn.Sigmoid())
    assert wrap_generator(flat, latent_dim=8, latent_shape="conv").latent_shape == (8, 1, 1)
    assert wrap_generator(flat, latent_shape=(2, 2, 2)).latent_shape == (2, 2, 2)
    # A generator that starts with a Conv2d reads a 4x4 latent map (C, 4, 4).
    mat = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.Upsample(size=28), nn.Conv2d(16, 1, 1), nn.Sigmoid())
    m = wrap_generator(mat)
    assert m.latent_shape == (8, 4, 4) and "Conv2d" in m.latent_source
    assert m.generate(m.latents(2)).shape == (2, 1, 28, 28)
    with pytest.raises(UserError, match="cannot tell the generator's latent size"):
        wrap_generator(nn.Sequential(nn.Tanh()))
    with pytest.raises(UserError, match="latent-shape"):
        wrap_generator(mod.MLPGen(16), latent_shape="matrix")


class _Fixed(nn.Module):
    """Outputs a fixed-format tensor for each latent; for output-reading tests."""

    def __init__(self, shape, lo=0.0, hi=1.0):
        super().__init__()
        self.shape, self.lo, self.hi = shape, lo, hi
        self.latent_dim = 4

    def forward(self, z):
        g = torch.Generator().manual_seed(0)
        return torch.rand((z.shape[0], *self.shape), generator=g) * (self.hi - self.lo) + self.lo


@pytest.mark.parametrize("shape,lo,read,kind", [
    ((784,), 0.0, "output (N, 784) read as 1x28x28, range [0, 1]", "image"),
    ((3072,), -1.0, "output (N, 3072) read as 3x32x32, range [-1, 1]", "image"),
    ((4096,), 0.0, "output (N, 4096) read as 1x64x64, range [0, 1]", "image"),
    ((12288,), -1.0, "output (N, 12288) read as 3x64x64, range [-1, 1]", "image"),
    ((256,), 0.0, "output (N, 256) read as 1x16x16, range [0, 1]", "image"),
    ((3, 32, 32), -1.0, "output (N, 3, 32, 32), range [-1, 1]", "image"),
    ((28, 28), 0.0, "output (N, 28, 28) read as 1x28x28, range [0, 1]", "image"),
    ((32, 32, 3), 0.0, "output (N, 32, 32, 3) read as 3x32x32, range [0, 1]", "image"),
    ((2,), -1.0, "output (N, 2) read as 2D points", "points"),
    ((1, 28, 28), -1.0, "output (N, 1, 28, 28), range [-1, 1]", "image"),
])
def test_output_reading(shape, lo, read, kind):
    g = wrap_generator(_Fixed(shape, lo))
    assert g.describe().startswith(read) and g.output.kind == kind
    x = g.generate(g.latents(5))
    if kind == "image":
        assert x.dim() == 4 and x.shape[1] in (1, 3) and 0 <= x.min() and x.max() <= 1
        assert x.min() < 0.05 and x.max() > 0.95  # both ends of the range were mapped to [0, 1]
    else:
        assert x.shape == (5, 2) and x.min() < -0.5  # points stay raw


@pytest.mark.parametrize("shape,msg", [((785,), "cannot be read as an image"),
                                       ((5, 8, 8), "has 5 channels"),
                                       ((1,), "discriminator")])
def test_bad_outputs(shape, msg):
    with pytest.raises(UserError, match=msg):
        wrap_generator(_Fixed(shape))


class _Span(torch.nn.Module):
    """Images whose values span [lo, hi] exactly."""

    def __init__(self, lo, hi, shape=(1, 28, 28)):
        super().__init__()
        self.lo, self.hi, self.shape = lo, hi, shape
        self.latent_dim = 4

    def forward(self, z):
        x = torch.linspace(self.lo, self.hi, math.prod(self.shape)).reshape(1, *self.shape)
        return x.expand(len(z), *self.shape) + 0 * z[:, :1, None, None]


def test_described_range_is_measured():
    from diagnose.generators.load import wrap_generator

    g = wrap_generator(_Span(-0.57, 0.72))
    d = g.describe()
    # the scale it is read on (tanh-like, [-1, 1]) AND the values it measured
    assert "range [-1, 1]" in d and "measured in [-0.57, 0.72] over 16 samples" in d


@pytest.mark.parametrize("shape,lo,hi,expect", [
    ((1, 28, 28), -1, 1, ["mnist"]), ((1, 64, 64), 0, 1, ["mnist"]),
    ((3, 32, 32), -1, 1, ["stacked-mnist"]), ((3, 64, 64), -1, 1, []),
])
def test_dataset_inferred_from_the_output(shape, lo, hi, expect):
    from diagnose.analysis.judge import dataset_candidates, infer_dataset
    from diagnose.generators.load import wrap_generator

    g = wrap_generator(_Span(lo, hi, shape))
    assert [n for n, _ in dataset_candidates(g.output)] == expect
    if expect:
        assert infer_dataset(g)[0] == expect[0]
    else:
        with pytest.raises(UserError, match="no shipped dataset fits.*--dataset"):
            infer_dataset(g)


def test_dataset_inference_for_points_names_every_candidate():
    from diagnose.analysis.judge import infer_dataset
    from diagnose.generators.load import wrap_generator

    class Pts(torch.nn.Module):
        def __init__(self, r):
            super().__init__()
            self.r, self.latent_dim = r, 2

        def forward(self, z):
            return torch.tanh(z) * self.r

    assert infer_dataset(wrap_generator(Pts(1.0)))[0] == "ring8"
    assert infer_dataset(wrap_generator(Pts(4.0)))[0] == "grid25"
    with pytest.raises(UserError, match="several datasets fit.*ring8, grid25"):
        infer_dataset(wrap_generator(Pts(1.7)))
