"""The PyTorch Lightning callback: a LightningModule GAN logs through Monitor and is warned live.
Skipped when Lightning is not installed (it is in the ``dev`` extra)."""
import json

import pytest
import torch
from torch import nn

L = pytest.importorskip("lightning.pytorch", reason="PyTorch Lightning is not installed")


class TinyGAN(L.LightningModule):
    """A 2D GAN with manual optimisation; ``lr_d=0`` freezes D at its initial guesses."""

    def __init__(self, lr_d=1e-3, lr_g=1e-3):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
        self.discriminator = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
        nn.init.zeros_(self.discriminator[2].weight)       # D starts at exactly 0.5
        nn.init.zeros_(self.discriminator[2].bias)
        self.generator.latent_shape = (3,)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        opt_g, opt_d = self.optimizers()
        bce = nn.functional.binary_cross_entropy_with_logits
        fake = self.generator(torch.randn(len(x), 3))
        d_x, d_gz = self.discriminator(x), self.discriminator(fake.detach())
        d_loss = bce(d_x, torch.ones_like(d_x)) + bce(d_gz, torch.zeros_like(d_gz))
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        out = self.discriminator(fake)
        g_loss = bce(out, torch.ones_like(out))
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.log_dict({"loss_D": d_loss, "loss_G": g_loss, "D(x)": torch.sigmoid(d_x).mean(),
                       "D(G(z))": torch.sigmoid(d_gz).mean()}, on_step=True, on_epoch=True)

    def configure_optimizers(self):
        return [torch.optim.Adam(self.generator.parameters(), self.hparams.lr_g),
                torch.optim.Adam(self.discriminator.parameters(), self.hparams.lr_d)]


def _fit(tmp_path, name, **kw):
    from diagnose.data import load_dataset
    from diagnose.integrations.lightning import DiagnoseCallback

    torch.manual_seed(0)
    pts = load_dataset("ring8", size=4000).get()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(pts), batch_size=16)
    cb = DiagnoseCallback(tmp_path / name, snapshot_every=100, detect_every=50, kind="points",
                          quiet=True)
    trainer = L.Trainer(max_steps=2 * 250, callbacks=[cb], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(TinyGAN(**kw), loader)
    return tmp_path / name


def _warned(run):
    p = run / "warnings.jsonl"
    return {json.loads(line)["code"] for line in p.read_text().splitlines() if line.strip()}


def test_callback_logs_through_monitor_and_warns_live(tmp_path):
    run = _fit(tmp_path, "frozen_d", lr_d=0.0)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 250 and rows[0]["step"] == 0
    assert {"loss_D", "loss_G", "D(x)", "D(G(z))"} <= set(rows[-1])     # _step suffix dropped
    assert not any(k.endswith("_epoch") for k in rows[-1])
    assert (run / "checkpoints").is_dir() and len(list((run / "samples").glob("*.png"))) >= 3
    assert json.loads((run / "config.json").read_text())["lr_d"] == 0.0
    assert "d_not_learning" in _warned(run)       # D never moves from 0.5: warned during training


def test_callback_is_quiet_when_d_learns(tmp_path):
    run = _fit(tmp_path, "learning_d", lr_d=1e-2, lr_g=0.0)    # D learns, against a fixed G
    assert "d_not_learning" not in _warned(run)
