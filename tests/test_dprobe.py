"""The batch-statistics probe of a discriminator (report 003's separate BatchNorm batches)."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from diagnose.analysis.dprobe import batch_statistics_flags, probe_batch_statistics
from diagnose.data import load_dataset


class MeanBND(nn.Module):
    """Logit = 5 * BatchNorm(mean pixel): in a batch of its own every image looks average, in a
    mixed batch the brighter images stand out. A D built to judge batches, not samples."""

    def __init__(self, norm: bool = True):
        super().__init__()
        self.bn = nn.BatchNorm1d(1, affine=False) if norm else nn.Identity()
        self.w = 5.0

    def forward(self, x):
        return (self.w * self.bn(x.flatten(1).mean(1, keepdim=True))).view(-1)


def _digits(n):
    ds = load_dataset("mnist", value_range=(-1.0, 1.0))
    return ds.get(torch.arange(n))


def test_probe_fires_on_a_d_that_judges_batches():
    real = _digits(256)
    fake = real.flip(0) * 0.3 - 0.7          # darker images: brightness separates them in a mixed batch
    D = MeanBND()
    state = {k: v.clone() for k, v in D.state_dict().items()}
    m = probe_batch_statistics(D, real, fake, batch=64)
    assert m["batches"] == 4
    assert abs(m["separate"]["d_real"] - 0.5) < 0.1 and abs(m["separate"]["d_fake"] - 0.5) < 0.1
    assert m["mixed"]["d_real"] > 0.75 and m["mixed"]["d_fake"] < 0.25
    assert m["shift_real"] > 0.3 and m["control_shift"] < 0.1
    flags = batch_statistics_flags(m)
    assert [f.code for f in flags] == ["batch_stat_leak"] and "BatchNorm" in flags[0].summary
    # the probe works on a copy: D's running statistics did not move
    assert all(torch.equal(v, D.state_dict()[k]) for k, v in state.items())


def test_probe_is_quiet_when_fakes_look_like_real_data():
    real = _digits(512)
    m = probe_batch_statistics(MeanBND(), real[:256], real[256:], batch=64)
    assert m["shift_real"] < 0.1 and batch_statistics_flags(m) == []


def test_probe_skips_a_d_without_batchnorm_and_too_few_samples():
    real = _digits(256)
    assert probe_batch_statistics(MeanBND(norm=False), real, real * 0.5, batch=64) is None
    assert probe_batch_statistics(MeanBND(), real[:100], real[:100], batch=64) is None


@pytest.fixture(scope="module")
def tiny_c1(tmp_path_factory):
    """Three steps of report 003's c1 at batch 8: a gan-diagnose run with a BatchNorm D."""
    from trainers import train
    from trainers.experiments import get_experiment
    from trainers.options import LoopOptions

    cfg = get_experiment("dcgan28_hparams").variants["c1"].config.replace(batch_size=8, snapshot_every=3,
                                                                          epochs=None)
    run_dir = tmp_path_factory.mktemp("runs") / "c1"
    train(cfg, run_dir, experiment="dcgan28_hparams", variant="c1", device="cpu", steps=3,
          options=LoopOptions(progress=False))
    return run_dir


def test_run_verdict_carries_the_probe(tiny_c1):
    from diagnose.analysis.run_verdict import judge_run
    from trainers import build_generator
    from trainers.build import build_discriminator

    v = judge_run(tiny_c1, builder=build_generator, d_builder=build_discriminator, n_samples=200, write=False)
    assert v["evidence_used"]["discriminator"] is True
    assert v["d_probe"]["batch"] == 8 and v["d_probe"]["batches"] == 4
    assert {"separate", "mixed", "eval_mode", "shift_real", "shift_fake", "control_shift"} <= set(v["d_probe"])
    without = judge_run(tiny_c1, builder=build_generator, n_samples=200, write=False)
    assert without["evidence_used"]["discriminator"] is False and "d_probe" not in without


def test_check_cli_probes_a_checkpoint_with_a_discriminator(tiny_c1, tmp_path, capsys):
    import json

    from diagnose.cli import main

    ckpt = tiny_c1 / "checkpoints" / "step_0000003.pt"
    assert main(["check", str(ckpt), "--n-samples", "50", "--json", "--out", str(tmp_path)]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["d_probe"]["batch"] == 8 and v["verdict"] in {f["code"] for f in v["flags"]} | {"healthy"}
    assert json.loads((tmp_path / "step_0000003_check.json").read_text())["d_probe"] == v["d_probe"]


def test_a_run_trained_on_joint_batches_is_not_probed(tiny_c1):
    import json

    from diagnose.analysis.dprobe import probe_checkpoint
    from trainers import build_generator
    from trainers.build import build_discriminator

    cfg = json.loads((tiny_c1 / "config.json").read_text())
    ckpt = tiny_c1 / "checkpoints" / "step_0000003.pt"
    assert probe_checkpoint(ckpt, cfg, build_generator, build_discriminator) is not None
    cfg["data"]["joint_batch"] = True
    assert probe_checkpoint(ckpt, cfg, build_generator, build_discriminator) is None
