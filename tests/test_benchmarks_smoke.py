"""The benchmark scripts still run (tiny budgets on CPU); their numbers are in benchmarks/RESULTS.md."""
from __future__ import annotations

import re

import pytest
import torch

from benchmarks import gpu_schedules, train_throughput
from diagnose.data import load_dataset


def test_tiled_data_has_the_epoch_length_and_the_same_digits():
    ds = load_dataset("mnist", value_range=(0.0, 1.0))
    t = gpu_schedules.tiled(ds, 10_000)
    assert len(t) == 10_000 and t.base.shape[1:] == ds.base.shape[1:]
    assert torch.equal(t.base[len(ds):2 * len(ds)], ds.base) and torch.equal(t.labels[:len(ds)], ds.labels)
    assert "tiled to 10,000" in t.source


@pytest.mark.slow
def test_benchmarks_run_on_cpu(capsys):
    assert gpu_schedules.main(["--device", "cpu", "--fraction", "0.0005", "--only", "003"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"report 003 dcgan28_hparams/c1: 6 steps x batch 128 in [\d.]+ s", out), out
    assert train_throughput.main(["--device", "cpu", "--steps", "1", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"ratio: [\d.]+x \(ours / seed-style\)", out) and "ceiling:" in out, out


@pytest.mark.slow
def test_gpu_all_runs_every_item_at_tiny_sizes_on_cpu(tmp_path):
    """The GPU script, ready to run when a GPU is lent: on CPU at tiny sizes every item it can run
    there runs, and every figure lands in the one output file."""
    from benchmarks import gpu_all

    out = tmp_path / "figures.txt"
    assert gpu_all.main(["--device", "cpu", "--tiny", "--out", str(out), "--budget", "1200"]) == 0
    text = out.read_text()
    assert re.search(r"report 000 mlp_lr_imbalance/baseline: [\d,]+ steps", text), text
    assert re.search(r"report 003 dcgan28_hparams/c1: [\d,]+ steps", text), text
    assert re.search(r"check n=200 \(mnist-lenet\): exit 0.*\n.*verdict \w+; fid [\d.]+.*peak RSS [\d,]+ MB",
                     text), text
    assert re.search(r"ratio: [\d.]+x \(ours / seed-style\)", text), text
    assert "0 item(s) failed" in text
