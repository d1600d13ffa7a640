"""`diagnose check` as users have their generators: samples as files, several inputs, --fail-on,
--out and file modes, and --arch pointing at real training scripts."""
import json
import os
import stat

import numpy as np
import pytest
import torch
from torch import nn

from diagnose.analysis.cache import StageCache
from diagnose.analysis.groundtruth import Mixture
from diagnose.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
N = 300


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return StageCache(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def here(tmp_path, monkeypatch, cache):
    """Run in an empty folder with the module's stage cache."""
    monkeypatch.setenv("GAN_DIAGNOSE_CACHE", str(cache.root))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _script(path, module):
    torch.jit.script(module).save(str(path))
    return str(path)


def test_npz_and_a_generator_in_one_comparison(here, capsys):
    gen = _script(here / "four.pt", Mixture("ring8", range(4)))
    np.savez(here / "pts.npz", samples=Mixture("ring8")(torch.randn(N, 3)).numpy())
    rc = main(["check", gen, str(here / "pts.npz"), "--n-samples", str(N), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    a, b = out["results"]
    assert a["verdict"] == "partial_collapse" and b["verdict"] == "healthy"
    assert out["dataset"]["name"] == "ring8"        # inferred once, one reference for both
    assert b["metrics"]["fid"]["n"] == N and "latent_spread" not in b["metrics"]
    assert any("latent" in s for s in b["skipped"]) and "skipped" not in a
    assert (here / "diagnose_checks" / "four_check.json").is_file()
    assert (here / "diagnose_checks" / "pts_check.json").is_file()
    # the same call as text: one table, one line per input, the reference's line last
    assert main(["check", gen, str(here / "pts.npz"), "--n-samples", str(N)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("input") and "partial_collapse" in text[1] and "healthy" in text[2]
    assert text[3].startswith("real data")


def test_fail_on_sets_the_exit_code(here, capsys):
    gen = _script(here / "four.pt", Mixture("ring8", range(4)))
    base = ["check", gen, "--dataset", "ring8", "--n-samples", str(N)]
    assert main(base + ["--fail-on", "partial_collapse"]) == 1
    assert main(base + ["--fail-on", "mode_collapse,diverged"]) == 0
    assert main(base + ["--fail-on", "warn"]) == 1
    assert main(base) == 0
    healthy = _script(here / "all.pt", Mixture("ring8"))
    assert main(["check", healthy, "--n-samples", str(N), "--fail-on", "warn"]) == 0
    capsys.readouterr()
    assert main(base + ["--fail-on", "collapse"]) == 2
    assert "--fail-on" in capsys.readouterr().err
    help_text = _help(capsys)
    assert "--fail-on" in help_text and "code 1" in help_text and "2" in help_text


def _help(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_results_go_to_out_with_mode_0644(here, capsys):
    sub = here / "models"
    sub.mkdir()
    gen = _script(sub / "g.pt", Mixture("ring8"))
    old = os.umask(0o022)
    try:
        assert main(["check", gen, "--n-samples", str(N)]) == 0
    finally:
        os.umask(old)
    assert sorted(p.name for p in sub.iterdir()) == ["g.pt"]       # nothing beside the input
    files = sorted((here / "diagnose_checks").iterdir())
    assert [p.name for p in files] == ["g_check.json", "g_check_samples.png"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files)


def test_help_says_arch_runs_code(capsys):
    text = _help(capsys)
    assert "runs FILE's code" in text and "__main__" in text


ARGPARSE_SCRIPT = '''
import argparse, os
import torch.nn as nn
os.makedirs("images", exist_ok=True)
parser = argparse.ArgumentParser()
parser.add_argument("--n_epochs", type=int, default=200)
opt = parser.parse_args()

class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(3, 2)
        self.latent_dim = 3
    def forward(self, z):
        return self.net(z)
'''

TRAINS_SCRIPT = '''
import torch, torch.nn as nn

class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(3, 2)
        self.latent_dim = 3
    def forward(self, z):
        return self.net(z)

G = Generator()
opt = torch.optim.SGD(G.parameters(), 0.1)
for _ in range(3):
    loss = G(torch.randn(4, 3)).pow(2).mean()
    loss.backward()
    opt.step()
'''

GUARDED_SCRIPT = '''
import argparse, torch, torch.nn as nn

class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(3, 2)
        self.latent_dim = 3
    def forward(self, z):
        return self.net(z)

if __name__ == "__main__":
    opt = argparse.ArgumentParser().parse_args()
    G = Generator()
    G(torch.randn(4, 3)).pow(2).mean().backward()
'''


@pytest.mark.parametrize("script,expect", [(ARGPARSE_SCRIPT, "parses its command-line arguments"),
                                           (TRAINS_SCRIPT, "trains")])
def test_arch_refuses_a_script_that_runs_at_import(here, capsys, script, expect):
    (here / "train.py").write_text(script)
    sd = here / "g_sd.pt"
    torch.save(nn.Linear(3, 2).state_dict(), sd)
    capsys.readouterr()
    rc = main(["check", str(sd), "--arch", "train.py:Generator", "--dataset", "ring8",
               "--n-samples", "50"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err
    assert expect in lines[0] and '__name__ == "__main__"' in lines[0] and "models.py" in lines[0]
    assert not (here / "images").exists()        # the script's own code never ran
    assert "usage:" not in err


def test_arch_imports_a_guarded_script(here, capsys):
    (here / "train.py").write_text(GUARDED_SCRIPT)
    sd = here / "g_sd.pt"
    lin = nn.Linear(3, 2)
    torch.save({"net." + k: v for k, v in lin.state_dict().items()}, sd)
    assert main(["check", str(sd), "--arch", "train.py:Generator", "--dataset", "ring8",
                 "--n-samples", "50", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"]


PICKLING_SCRIPT = '''
import argparse, os, torch, torch.nn as nn
os.makedirs("images", exist_ok=True)
opt = argparse.ArgumentParser().parse_args()

class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(3, 2)
        self.latent_dim = 3
    def forward(self, z):
        return torch.tanh(self.net(z))

torch.save(Generator(), "g_full.pt")
'''


def test_a_model_pickled_from_a_training_script(here, capsys):
    """torch.save(G) in a script names __main__.Generator: --arch names the script, and only its
    definitions run to find the class (no argument parsing, no folders made)."""
    import subprocess
    import sys

    (here / "train.py").write_text(PICKLING_SCRIPT)
    subprocess.run([sys.executable, "train.py"], cwd=here, check=True, timeout=120)
    (here / "images").rmdir()
    capsys.readouterr()
    assert main(["check", "g_full.pt", "--trust-pickle", "--n-samples", "50"]) == 2
    err = capsys.readouterr().err
    assert "--arch train.py:Generator" in err and "__main__" in err
    assert main(["check", "g_full.pt", "--trust-pickle", "--arch", "train.py:Generator",
                 "--dataset", "ring8", "--n-samples", "50", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loading"].startswith("output (N, 2)")
    assert not (here / "images").exists()


def test_runtime_guards_catch_what_the_scan_cannot_see(tmp_path):
    """Arguments parsed or training started through a helper function still end in one line."""
    from diagnose.generators.arch import import_arch
    from diagnose.core.errors import UserError

    f = tmp_path / "indirect.py"
    f.write_text("import argparse\ndef setup():\n    return argparse.ArgumentParser().parse_args(['--x'])\n"
                 "opt = setup()\nclass G: pass\n")
    with pytest.raises(UserError, match="exited"):
        import_arch(f"{f}:G")
    g = tmp_path / "indirect2.py"
    g.write_text("import torch\ndef fit():\n    torch.ones(1, requires_grad=True).sum().backward()\n"
                 "fit()\nclass G: pass\n")
    with pytest.raises(UserError, match="started training"):
        import_arch(f"{g}:G")


class Quantized(nn.Module):
    """Light warps of held-out digits, rounded to 8 bits so PNG files hold them exactly."""

    def __init__(self, warp):
        super().__init__()
        self.warp = warp
        self.latent_shape = warp.latent_shape

    def forward(self, z):
        return (self.warp(z) * 255).round() / 255


@pytest.mark.slow  # the MNIST reference and two torch-fidelity passes: ~30-60 s on a shared CPU
def test_png_folder_equals_generator_and_torch_fidelity(here):
    import torch_fidelity
    from PIL import Image

    import diagnose
    from diagnose.analysis.groundtruth import Warp, _digits
    from diagnose.analysis.protocols import PROTOCOLS
    from diagnose.analysis.reference import TRAIN_CAP, load_split
    from diagnose.features import register_with_fidelity
    from diagnose.generators.load import wrap_generator

    held, _ = _digits("test")
    G = Quantized(Warp(held, out_range=(0.0, 1.0), strength=0.5))
    x = torch.cat(list(wrap_generator(G).sample(N, seed=0)))
    assert torch.equal(x, (x * 255).round() / 255)                 # 8-bit exact
    folder = here / "samples"
    folder.mkdir()
    for i, img in enumerate(x):
        Image.fromarray((img[0] * 255).round().byte().numpy(), mode="L").save(folder / f"{i:05d}.png")
    from dataclasses import replace

    cfg = replace(PROTOCOLS["check"], n_samples=N, kid_subsets=20)
    a = diagnose.check(G, dataset="mnist", config=cfg)
    b = diagnose.check(str(folder), dataset="mnist", config=cfg)
    keys = ("fid", "kid", "precision", "recall")
    for k in keys:
        assert b.metrics[k]["value"] == pytest.approx(a.metrics[k]["value"], rel=1e-3, abs=1e-9), k

    # torch-fidelity reading the same folder, with our extractor, against the same real images
    register_with_fidelity()
    train = load_split("mnist", "train")
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:TRAIN_CAP]
    real = (train.get(idx) * 255).round().to(torch.uint8)
    kw = dict(feature_extractor="mnist-lenet", cuda=False, verbose=False, cache=False,
              batch_size=100, save_cpu_ram=True)
    full = torch_fidelity.calculate_metrics(input1=str(folder), input2=_U8(real), fid=True, **kw)
    part = torch_fidelity.calculate_metrics(input1=str(folder), input2=_U8(real[:N]), kid=True,
                                            prc=True, kid_subsets=20, kid_subset_size=N,
                                            prc_neighborhood=5, **kw)
    theirs = {"fid": full["frechet_inception_distance"], "kid": part["kernel_inception_distance_mean"],
              "precision": part["precision"], "recall": part["recall"]}
    for k in keys:
        assert b.metrics[k]["value"] == pytest.approx(theirs[k], rel=1e-3, abs=1e-9), k


class _U8(torch.utils.data.Dataset):
    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def test_folder_of_mixed_sizes_and_rgb_saved_gray(tmp_path):
    from PIL import Image

    from diagnose.generators.sample_sets import load_samples

    for i in range(4):
        a = np.full((28, 28, 3), 40 * i, np.uint8)              # save_image writes gray as RGB
        Image.fromarray(a).save(tmp_path / f"{i}.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "odd.jpg")
    s = load_samples(tmp_path)
    assert s.count == 5 and s.output.shape == (1, 28, 28) and "resized" in s.describe()
    batch = next(s.sample(5))
    assert batch.shape == (5, 1, 28, 28) and float(batch.max()) == pytest.approx(120 / 255)
