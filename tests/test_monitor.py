"""Monitor writes what it was given: metrics, grids from a fixed latent, loadable checkpoints."""
import json

import torch
from torch import nn

from diagnose.monitor import FORMAT, Monitor
from diagnose.runs import read_run


class TinyG(nn.Module):
    latent_shape = (8,)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 64), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 1, 8, 8)


def test_monitor_writes_metrics_samples_checkpoints(tmp_path):
    g, d = TinyG(), nn.Linear(64, 1)
    opt = torch.optim.Adam(g.parameters())
    mon = Monitor(tmp_path / "run", config={"experiment": "e", "variant": "v"}, flush_every=7)
    for step in range(20):
        mon.log(step, d_loss=torch.tensor(1.0 + step), g_loss=0.5, d_real=torch.tensor(0.7),
                d_fake=None, epoch=0)
    mon.snapshot(19, g, d, optimizers={"g": opt})
    mon.close()
    run = read_run(tmp_path / "run")
    assert [r["step"] for r in run.metrics] == list(range(20))
    assert run.metrics[3]["d_loss"] == 4.0 and run.metrics[3]["g_loss"] == 0.5
    assert "d_fake" not in run.metrics[0] and "time" in run.metrics[0]
    assert run.config["versions"]["torch"] == torch.__version__ and "started_at" in run.config
    assert [s for s, _ in run.samples] == [19] and [s for s, _ in run.checkpoints] == [19]
    ck = torch.load(run.checkpoints[0][1], weights_only=True)
    assert ck["format"] == FORMAT and ck["step"] == 19 and ck["latent_shape"] == [8]
    g2 = TinyG()
    g2.load_state_dict(ck["generator"])
    assert "g" in ck["optimizers"]


def test_fixed_latent_is_fixed_and_snapshot_leaves_G_unchanged(tmp_path):
    g = TinyG()
    mon = Monitor(tmp_path / "r", latent_shape=(8,))
    before = {k: v.clone() for k, v in g.state_dict().items()}
    a = mon.sample_fixed(g)
    b = mon.sample_fixed(g)
    assert torch.equal(a, b)
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())   # BN buffers restored
    mon.close()
    # a resumed monitor reads the same latent batch back
    mon2 = Monitor(tmp_path / "r", resume=True, latent_shape=(8,))
    assert torch.equal(mon2.fixed_latent(), mon.fixed_latent())
    mon2.close()


def test_resume_does_not_rewrite_steps_or_config(tmp_path):
    mon = Monitor(tmp_path / "r", config={"seed": 1})
    for s in range(10):
        mon.log(s, d_loss=float(s))
    mon.close()
    mon = Monitor(tmp_path / "r", config={"seed": 2}, resume=True)
    for s in range(5, 15):
        mon.log(s, d_loss=float(s))
    mon.close()
    steps = [json.loads(x)["step"] for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(15))
    assert read_run(tmp_path / "r").config["seed"] == 1


def test_points_snapshot(tmp_path):
    g = nn.Linear(4, 2)
    g.latent_shape = (4,)
    mon = Monitor(tmp_path / "p", kind="points", centres=torch.eye(2))
    out = mon.snapshot(0, g, checkpoint=False)
    assert out["samples"].endswith("step_0000000.png")
    mon.close()


def test_log_does_not_sync_per_step(tmp_path, monkeypatch):
    """Tensors logged between flushes are converted once per flush, not once per value."""
    calls = {"n": 0}
    real_tolist = torch.Tensor.tolist

    def counting_tolist(self):
        calls["n"] += 1
        return real_tolist(self)

    monkeypatch.setattr(torch.Tensor, "tolist", counting_tolist)
    mon = Monitor(tmp_path / "s", flush_every=50)
    for s in range(100):
        mon.log(s, d_loss=torch.tensor(1.0), g_loss=torch.tensor(2.0), d_real=torch.tensor(0.5))
    assert calls["n"] == 2                         # two flushes, one conversion each
    mon.close()
