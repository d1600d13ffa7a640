"""`diagnose verdict RUN_DIR`, and the README's own Monitor loop checked with no extra flag."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from diagnose.analysis.cache import StageCache
from diagnose.analysis.groundtruth import Mixture
from diagnose.cli import main
from toy_generators import RingModes

ROOT = Path(__file__).resolve().parents[1]

# The README's loop ("Where runs go"), made tiny: a user's G and D defined in the script itself,
# three steps on random images, one snapshot at step 0. Nothing in it names gan-diagnose's models.
README_LOOP = '''
import torch
import torch.nn as nn

from diagnose import Monitor


class Generator(nn.Module):
    def __init__(self, nz=100, hidden=32):
        super().__init__()
        self.nz, self.hidden = nz, hidden
        self.net = nn.Sequential(nn.Linear(nz, hidden), nn.ReLU(), nn.Linear(hidden, 784), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

    def forward(self, x):
        return self.net(x)


torch.manual_seed(0)
G, D = Generator(), Discriminator()
opt_g = torch.optim.Adam(G.parameters(), 2e-4)
opt_d = torch.optim.Adam(D.parameters(), 2e-4)
bce = nn.BCEWithLogitsLoss()
loader = [(torch.rand(16, 1, 28, 28) * 2 - 1, None) for _ in range(3)]
mon = Monitor("runs/mine", config={"lr": 2e-4}, latent_shape=(100,))
for step, (x, _) in enumerate(loader):
    fake = G(torch.randn(16, 100))
    d_x, d_gz = D(x), D(fake.detach())
    d_loss = bce(d_x, torch.ones_like(d_x)) + bce(d_gz, torch.zeros_like(d_gz))
    opt_d.zero_grad(); d_loss.backward(); opt_d.step()
    out = D(fake)
    g_loss = bce(out, torch.ones_like(out))
    opt_g.zero_grad(); g_loss.backward(); opt_g.step()
    mon.log(step, d_loss=d_loss, g_loss=g_loss, d_real=torch.sigmoid(d_x).mean(),
            d_fake=torch.sigmoid(d_gz).mean())
    if step % 500 == 0:
        mon.snapshot(step, G, D, optimizers={"g": opt_g, "d": opt_d})
mon.close()
'''


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return StageCache(tmp_path_factory.mktemp("cache"))


@pytest.mark.slow  # the MNIST reference once, then two checks of 200 samples: ~30-90 s loaded
def test_readme_monitor_loop_then_check_and_verdict(tmp_path, monkeypatch, capsys, cache):
    monkeypatch.setenv("GAN_DIAGNOSE_CACHE", str(cache.root))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(README_LOOP)
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env, check=True, timeout=300)
    ckpt = "runs/mine/checkpoints/step_0000000.pt"
    assert main(["check", ckpt, "--n-samples", "200", "--json"]) == 0
    out = capsys.readouterr()
    v = json.loads(out.out)
    # Rebuilt from what Monitor recorded (the class lives in train.py's __main__: only its
    # definitions ran, not the loop), judged against the one dataset that fits 1x28x28.
    assert v["verdict"] == "not_converged" and v["dataset_summary"]["name"] == "mnist"
    assert "inferred" in out.err and "1x28x28" in v["dataset_inferred"]
    assert not (tmp_path / "runs" / "mine" / "checkpoints" / "step_0000000_check.json").exists()
    assert main(["verdict", "runs/mine", "--n-samples", "200"]) == 0
    text = capsys.readouterr().out
    assert "looked at: training dynamics" in text and "samples of the last generator" in text
    run_v = json.loads((tmp_path / "runs/mine/verdict.json").read_text())
    assert run_v["evidence_used"] == {"dynamics": True, "samples": True, "discriminator": False}
    assert "not_converged" in {f["code"] for f in run_v["flags"]}


def test_monitor_with_dataset_writes_the_verdict_at_close(tmp_path, monkeypatch, cache):
    from diagnose import Monitor

    monkeypatch.setenv("GAN_DIAGNOSE_CACHE", str(cache.root))
    G = Mixture("ring8", range(3))
    mon = Monitor(tmp_path / "run", dataset="ring8", kind="points", quiet=True)
    for step in range(30):
        mon.log(step, d_loss=1.0 + 0.01 * (step % 3), g_loss=0.9, d_real=0.6, d_fake=0.4)
    mon.snapshot(29, G)
    mon.close()
    v = json.loads((tmp_path / "run" / "verdict.json").read_text())
    assert v["verdict"] == "partial_collapse" and v["evidence_used"]["samples"] is True
    assert json.loads((tmp_path / "run" / "config.json").read_text())["dataset"] == {"name": "ring8"}
    # and without dataset= no verdict is written (the command makes one later)
    mon = Monitor(tmp_path / "run2", kind="points", quiet=True)
    mon.log(0, d_loss=1.0)
    mon.snapshot(0, RingModes(3))
    mon.close()
    assert not (tmp_path / "run2" / "verdict.json").exists()
    assert main(["verdict", str(tmp_path / "run2"), "--n-samples", "300", "--json"]) == 0
    assert json.loads((tmp_path / "run2" / "verdict.json").read_text())["verdict"] == "partial_collapse"
    # `check` on the run directory itself checks its last checkpoint, rebuilt from the record
    monkeypatch.chdir(tmp_path)
    assert main(["check", str(tmp_path / "run2"), "--n-samples", "300", "--json"]) == 0


def test_verdict_of_a_folder_that_is_no_run(tmp_path, capsys):
    assert main(["verdict", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["verdict", str(tmp_path / "nope")]) == 2


class PointG(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.width = width
        self.net = nn.Sequential(nn.Linear(3, width), nn.Tanh(), nn.Linear(width, 2))
        self.latent_dim = 3

    def forward(self, z):
        return self.net(z)


def test_monitor_records_the_architecture_and_check_honours_arch(tmp_path):
    from diagnose import Monitor
    from diagnose.generators.load import load_generator

    mon = Monitor(tmp_path / "run", kind="points", quiet=True)
    G = PointG(width=5)
    rng = torch.get_rng_state()
    mon.snapshot(0, G)
    assert torch.equal(rng, torch.get_rng_state())       # recording did not draw random numbers
    mon.close()
    ck = tmp_path / "run" / "checkpoints" / "step_0000000.pt"
    rec = torch.load(ck, weights_only=True)["arch"]["generator"]
    assert rec["qualname"] == "PointG" and rec["kwargs"] == {"width": 5} and rec["verified"]
    g = load_generator(ck)
    assert g.form == "monitor-checkpoint" and g.latent_shape == (3,)
    z = torch.randn(4, 3)
    assert torch.allclose(g.module(z), G(z))
    # --arch always wins over the record
    arch = tmp_path / "other.py"
    arch.write_text("import torch.nn as nn\nclass Wide(nn.Module):\n    def __init__(self):\n"
                    "        super().__init__()\n        self.net = nn.Sequential(nn.Linear(3, 9), "
                    "nn.Tanh(), nn.Linear(9, 2))\n    def forward(self, z):\n        return self.net(z)\n")
    from diagnose.core.errors import UserError

    with pytest.raises(UserError, match="do not fit"):
        load_generator(ck, arch=f"{arch}:Wide")
