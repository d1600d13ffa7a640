"""The documented Python API: diagnose.check, diagnose.judge_logs, diagnose.verdict_for_run and
the Verdict they return; the same verdicts as the command line."""
import json

import pytest
import torch

import diagnose
from diagnose.analysis.cache import StageCache
from diagnose.analysis.groundtruth import Mixture
from diagnose.cli import main
from toy_generators import RingModes

N = 300
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


@pytest.fixture
def cached(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GAN_DIAGNOSE_CACHE", str(StageCache(tmp_path_factory.mktemp("c")).root))


def test_check_returns_the_cli_verdict(tmp_path, monkeypatch, capsys, cached):
    G = Mixture("ring8", range(4))
    v = diagnose.check(G, dataset="ring8", n_samples=N)
    assert isinstance(v, diagnose.Verdict) and v.code == "partial_collapse" and not v.healthy
    assert repr(v).startswith("<Verdict partial_collapse (") and "partial_collapse[" in repr(v)
    assert json.loads(v.to_json())["verdict"] == "partial_collapse" == v["verdict"]
    assert v.metrics["modes_captured"]["value"] == 4 and "partial_collapse" in str(v)
    # The same generator through the CLI: the same verdict and the same numbers.
    path = tmp_path / "g.pt"
    torch.jit.script(G).save(str(path))
    monkeypatch.chdir(tmp_path)
    assert main(["check", str(path), "--dataset", "ring8", "--n-samples", str(N), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["verdict"] == v.code
    assert cli["metrics"]["fid"]["value"] == pytest.approx(v.metrics["fid"]["value"])
    # A checkpoint path, and samples in memory, go through the same call.
    assert diagnose.check(str(path), n_samples=N).code == "partial_collapse"   # dataset inferred
    pts = Mixture("ring8")(torch.randn(N, 3))
    s = diagnose.check(pts, dataset="ring8")
    assert s.code == "healthy" and s.get("skipped")


def test_judge_logs_looks_at_losses_only(tmp_path):
    log = tmp_path / "train.log"
    lines = [f"[{e}/5][{i}/100] Loss_D: {1.386 + 0.001 * (i % 3):.4f} Loss_G: 0.6931 D(x): 0.50 "
             f"D(G(z)): 0.50 / 0.50" for e in range(5) for i in range(0, 100, 2)]
    log.write_text("\n".join(lines) + "\n")
    v = diagnose.judge_logs(log)
    assert isinstance(v, diagnose.Verdict) and v.code == "d_not_learning"
    assert v.get("dynamics") and not v.metrics


def test_verdict_for_run_writes_verdict_json(tmp_path, cached):
    from diagnose import Monitor

    mon = Monitor(tmp_path / "run", kind="points", quiet=True)
    for step in range(20):
        mon.log(step, d_loss=1.2, g_loss=0.9, d_real=0.6, d_fake=0.4)
    mon.snapshot(19, RingModes(2))
    mon.close()
    v = diagnose.verdict_for_run(tmp_path / "run", n_samples=N)
    assert v.code == "mode_collapse" or v.code == "partial_collapse"
    assert v["evidence_used"] == {"dynamics": True, "samples": True, "discriminator": False}
    on_disk = json.loads((tmp_path / "run" / "verdict.json").read_text())
    assert on_disk == json.loads(v.to_json())
    with pytest.raises(diagnose.UserError):
        diagnose.verdict_for_run(tmp_path / "missing")


def test_verdict_object_keeps_the_dict_unchanged():
    d = {"subject": "x", "verdict": "healthy", "confidence": 0.7, "flags": [], "metrics": {},
         "extra": float("nan")}
    v = diagnose.Verdict(d)
    assert v.to_dict() is not d and v.to_dict() == d
    assert json.loads(v.to_json())["extra"] is None and v.healthy
    assert repr(v) == "<Verdict healthy (0.70) for 'x': no flags>"
