"""`diagnose logs` in-process: readable report, --json verdict, exit 2 on unreadable input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnose.cli import main
from diagnose.dynamics import synthetic as S

DATA = Path(__file__).parent / "data" / "logs"


def _write_000(path: Path) -> Path:
    with open(path, "w") as f:
        for i, r in enumerate(S.not_learning(n=60)):
            f.write(f"[01:{i // 60:02d}:{i % 60:02d}] | Epoch [{i + 1}/60] | Discriminator Loss: "
                    f"{r['d_loss']:.4f}, Generator Loss: {r['g_loss']:.4f}\n")
            if i % 20 == 0:
                f.write("\r 33%|███▎      | 20/60 [00:01<00:02, 19.9it/s]\rsaving samples...\n")
    return path


def test_text_report(tmp_path, capsys):
    assert main(["logs", str(_write_000(tmp_path / "train.log"))]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("verdict: d_not_learning")
    assert "4 ln 2" in out and "d_loss" in out and any(c in out for c in "▁▂▃▄▅▆▇█")
    assert "[fail] d_not_learning" in out and "skipped" in out


def test_json_verdict_schema(tmp_path, capsys):
    assert main(["logs", str(_write_000(tmp_path / "train.log")), "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert {"subject", "verdict", "confidence", "flags", "metrics"} <= set(v)
    assert v["verdict"] == "d_not_learning"
    f = v["flags"][0]
    assert {"code", "severity", "summary", "evidence", "steps", "advice"} <= set(f)
    assert v["dynamics"]["points"] == 60
    assert v["dynamics"]["conventions"]["d_multiple"] == 4
    assert v["ingestion"]["skipped"]["progress_bar"] >= 1


def test_healthy_log_exits_zero(tmp_path, capsys):
    p = tmp_path / "h.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in S.healthy()) + "\n")
    assert main(["logs", str(p), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "healthy"


def test_format_and_pattern_flags(tmp_path, capsys):
    p = tmp_path / "odd.log"
    p.write_text("".join(f"#{i}: {r['d_loss']:.4f} {r['g_loss']:.4f}\n"
                         for i, r in enumerate(S.inconsistent(n=50))))
    assert main(["logs", str(p), "--format", "text", "--json",
                 "--pattern", r"#(?P<step>\d+): (?P<d_loss>\S+) (?P<g_loss>\S+)"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "inconsistent_losses"


def _garbage(tmp_path: Path, kind: str) -> Path:
    p = tmp_path / kind
    if kind == "missing":
        return p
    if kind == "empty":
        p.write_text("")
    elif kind == "binary":
        p.write_bytes(bytes(range(256)) * 40)
    elif kind == "no_numbers":
        p.write_text("hello\nthis log has words only\nno losses here\n")
    elif kind == "numbers_no_series":
        p.write_text("accuracy 0.5\nfoo=3 bar=4\n")
    elif kind == "tb_no_scalars":
        from torch.utils.tensorboard import SummaryWriter

        w = SummaryWriter(str(p))
        w.add_text("t", "x", 0)
        w.close()
    elif kind == "run_corrupt":
        p.mkdir()
        (p / "config.json").write_text("{not json")
        (p / "metrics.jsonl").write_text("{broken\n")
    elif kind == "empty_dir":
        p.mkdir()
    return p


@pytest.mark.parametrize("kind", ["missing", "empty", "binary", "no_numbers", "numbers_no_series",
                                  "tb_no_scalars", "run_corrupt", "empty_dir"])
def test_unreadable_input_exits_2_with_one_line(tmp_path, capsys, kind):
    assert main(["logs", str(_garbage(tmp_path, kind))]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_bad_pattern_exits_2(tmp_path, capsys):
    p = DATA / "pipe_colon.txt"
    assert main(["logs", str(p), "--pattern", "(unclosed"]) == 2
    assert main(["logs", str(p), "--pattern", r"(?P<foo>\d+)"]) == 2


def test_sparkline_draws_shape_and_keeps_rounding_flat():
    from diagnose.dynamics.report import sparkline
    rising = sparkline(list(range(16)), width=8)
    assert rising == "▁▂▃▄▅▆▇█"
    # a constant 2e-4 whose float32 values differ by one ulp here and there (the last digits only)
    import numpy as np
    ulps = np.random.default_rng(0).integers(-1, 2, 100).astype(np.float32)
    lr = (np.float32(2e-4) + ulps * np.spacing(np.float32(2e-4))).astype(float)
    assert lr.max() > lr.min()
    assert set(sparkline(lr, width=10)) == {"▁"}
    assert sparkline([1.0, float("nan"), 2.0], width=3)[1] == "×"


# ---------------------------------------------------------------- folders, stored verdicts, --map
def _run(tmp_path, name, rows, verdict=None):
    from diagnose.monitor import Monitor

    d = tmp_path / name
    with Monitor(d, {"experiment": "x"}, quiet=True) as m:
        for r in rows:
            m.log(r["step"], **{k: v for k, v in r.items() if k != "step"})
    if verdict is not None:
        (d / "verdict.json").write_text(json.dumps(verdict))
    return d


def test_run_dir_shows_the_stored_full_verdict_beside_the_dynamics(tmp_path, capsys):
    stored = {"subject": "x", "verdict": "not_converged", "confidence": 0.9,
              "evidence_used": {"dynamics": True, "samples": True},
              "flags": [{"code": "not_converged", "severity": "fail", "summary": "FID 801",
                         "evidence": {}, "steps": None, "advice": []}],
              "metrics": {"fid": {"value": 801.0, "features": "mnist-lenet", "n": 1000}}}
    d = _run(tmp_path, "run", S.healthy(n=120), verdict=stored)
    assert main(["logs", str(d), "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["verdict"] == "healthy" and v["dynamics"]["looked_at"].startswith("losses only")
    assert v["stored_verdict"]["verdict"] == "not_converged"
    assert v["stored_verdict"]["looked_at"].startswith("samples")
    assert main(["logs", str(d)]) == 0
    out = capsys.readouterr().out
    assert "stored verdict (verdict.json): not_converged" in out and "looked at the losses only" in out
    # no verdict.json: the dynamics verdict alone, still labelled
    d2 = _run(tmp_path, "run2", S.healthy(n=120))
    assert main(["logs", str(d2), "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert "stored_verdict" not in v and v["dynamics"]["looked_at"].startswith("losses only")


def test_folder_of_run_directories_is_judged_run_by_run(tmp_path, capsys):
    _run(tmp_path / "root", "a", S.healthy(n=120))
    _run(tmp_path / "root", "b", S.not_learning(n=120))
    assert main(["logs", str(tmp_path / "root"), "--json"]) == 0
    vs = json.loads(capsys.readouterr().out)
    assert sorted(v["verdict"] for v in vs) == ["d_not_learning", "healthy"]
    assert main(["logs", str(tmp_path / "root")]) == 0
    assert capsys.readouterr().out.startswith("2 runs:")


def test_tensorboard_logdir_with_several_runs_one_verdict_each(tmp_path, capsys):
    from torch.utils.tensorboard import SummaryWriter

    for name, rows in (("exp1", S.healthy(n=80)), ("exp2", S.overpowering(n=80))):
        w = SummaryWriter(str(tmp_path / "tb" / name))
        for r in rows:
            w.add_scalars("Loss", {"D": r["d_loss"], "G": r["g_loss"]}, r["step"])  # sub-runs
        w.close()
    from diagnose.dynamics import judge_logs

    vs = judge_logs(tmp_path / "tb")
    assert isinstance(vs, list) and len(vs) == 2
    assert [v["verdict"] for v in vs] == ["healthy", "d_overpowering"]
    assert judge_logs(tmp_path / "tb" / "exp2")["verdict"] == "d_overpowering"


def test_lightning_version_dirs(tmp_path, capsys):
    root = tmp_path / "lightning_logs"
    for n, rows in enumerate((S.healthy(n=60), S.inconsistent(n=60))):
        v = root / f"version_{n}"
        v.mkdir(parents=True)
        (v / "hparams.yaml").write_text("lr: 0.0002\n")
        lines = ["d_loss_step,epoch,g_loss_step,step,d_loss_epoch,g_loss_epoch"]
        for r in rows:
            lines.append(f"{r['d_loss']},0,{r['g_loss']},{r['step']},,")
            if r["step"] % 200 == 190:
                lines.append(f",0,,{r['step']},{r['d_loss']},{r['g_loss']}")
        (v / "metrics.csv").write_text("\n".join(lines) + "\n")
    assert main(["logs", str(root), "--json"]) == 0
    vs = json.loads(capsys.readouterr().out)
    assert [v["verdict"] for v in vs] == ["healthy", "inconsistent_losses"]
    assert all(v["dynamics"]["roles"]["d_loss"]["series"] == "d_loss_step" for v in vs)
    assert main(["logs", str(root / "version_1"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "inconsistent_losses"


def test_map_flag_and_its_errors(tmp_path, capsys):
    p = tmp_path / "odd.log"
    p.write_text("".join(f"it {i} alpha: {0.01 + 0.001 * i} beta: {8 + i % 3}\n" for i in range(40)))
    assert main(["logs", str(p), "--map", "d_loss=alpha", "--map", "g_loss=beta", "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["verdict"] == "d_overpowering" and v["dynamics"]["roles"]["d_loss"]["why"] == "--map"
    for bad in ("d_loss", "nope=alpha", "d_loss=gamma", "family=mystery"):
        assert main(["logs", str(p), "--map", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err and "--map" in err


def test_report_says_mapping_and_family(tmp_path, capsys):
    p = tmp_path / "p2p.log"
    p.write_text("".join(f"(epoch: 1, iters: {i * 100}) G_GAN: 15.2 G_L1: 12.9 D_real: 0.001 "
                         f"D_fake: 0.000\n" for i in range(1, 12)))
    assert main(["logs", str(p)]) == 0
    out = capsys.readouterr().out
    assert "loss family: bce" in out and "'D_real+D_fake' as sum of D's loss terms" in out
    assert "'G_GAN' as adversarial loss" in out and out.startswith("verdict: d_overpowering")
