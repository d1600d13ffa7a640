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
