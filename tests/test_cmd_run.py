"""`diagnose run` and `diagnose experiments`, in-process through diagnose.cli.main."""
from __future__ import annotations

import json

import pytest

from diagnose.cli import main
from diagnose.runs import read_run


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_run_trains_and_prints_table(tmp_path, capsys):
    out = tmp_path / "runs"
    rc = main(["run", "--exp", "mixtures", "--variants", "ring8", "--steps", "6", "--out", str(out),
               "--device", "cpu", "--no-progress", "--threads", "1"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "ring8" in text and "d_loss" in text and "verdict" in text
    run = read_run(out / "mixtures" / "ring8")
    assert run.config["experiment"] == "mixtures" and run.config["variant"] == "ring8"
    assert run.config["dataset"]["name"] == "ring8" and run.config["source"] == "benchmark"
    assert [r["step"] for r in run.metrics] == list(range(1, 7))
    # --resume continues from the last checkpoint up to the new budget
    rc = main(["run", "--exp", "mixtures", "--variants", "ring8", "--steps", "9", "--out", str(out),
               "--device", "cpu", "--no-progress", "--threads", "1", "--resume", "--json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["variants"][0]["steps"] == 9
    # each variant gets a verdict: dynamics + a sample check of its last checkpoint
    from diagnose.core.verdict import CODES

    verdict = read_run(out / "mixtures" / "ring8").verdict
    assert data["variants"][0]["verdict"] == verdict["verdict"] and verdict["verdict"] in CODES
    # 2-D points (an MLP D without BatchNorm): no batch-statistics probe
    assert verdict["evidence_used"] == {"dynamics": True, "samples": True, "discriminator": False}
    assert any(k.startswith("mixture") or k == "modes" for k in verdict["metrics"])
    assert [r["step"] for r in read_run(out / "mixtures" / "ring8").metrics] == list(range(1, 10))
    # resuming with something else to train is refused
    assert main(["run", "--exp", "mixtures", "--variants", "ring8", "--steps", "12", "--out", str(out),
                 "--device", "cpu", "--no-progress", "--resume", "--seed", "5"]) == 2
    assert "seed differ" in capsys.readouterr().err


def test_unknown_experiment_and_variant_exit_2(tmp_path, capsys):
    assert main(["run", "--exp", "nope", "--out", str(tmp_path)]) == 2
    assert "mlp_lr_imbalance" in capsys.readouterr().err
    assert main(["run", "--exp", "mixtures", "--variants", "ring9", "--out", str(tmp_path)]) == 2
    assert "ring8, grid25" in capsys.readouterr().err


def test_experiments_lists_everything(capsys):
    assert main(["experiments", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = {e["name"]: e for e in data}
    assert names["upsample_vs_convtranspose"]["source"] == "001"
    assert names["mixtures"]["source"] == "benchmark"
    assert "stacked-mnist" in names["cspup128_stabilization"]["dataset"]
    assert main(["experiments"]) == 0
    assert "c1_fixed" in capsys.readouterr().out
