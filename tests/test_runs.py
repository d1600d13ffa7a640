"""Run directory: round trip, partial-line tolerance, resume without duplicates, traversal refusal."""
import json

import pytest

from diagnose.core.errors import UserError
from diagnose.runs import (JsonlAppender, RunWriter, discover_runs, read_jsonl, read_run,
                           resolve_inside)


def test_round_trip(tmp_path):
    w = RunWriter(tmp_path / "exp" / "v1")
    w.write_config({"experiment": "exp", "variant": "v1", "seed": 3})
    w.metrics.extend([{"step": i, "d_loss": 1.0 / (i + 1)} for i in range(5)])
    w.evals.append({"step": 4, "fid": {"value": 3.5, "features": "mnist-lenet", "n": 100}})
    w.write_verdict({"subject": "x", "verdict": "healthy", "confidence": 0.7, "flags": [], "metrics": {}})
    w.close()
    run = read_run(tmp_path / "exp" / "v1")
    assert run.experiment == "exp" and run.variant == "v1"
    assert [r["step"] for r in run.metrics] == [0, 1, 2, 3, 4]
    assert run.series("d_loss")[1][1] == 0.5
    assert run.evals[0]["fid"]["features"] == "mnist-lenet"
    assert run.verdict["verdict"] == "healthy"
    assert discover_runs(tmp_path) == [tmp_path / "exp" / "v1"]


def test_reader_skips_partial_and_corrupt_lines(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"step": 0, "d_loss": 1}\nnot json\n[1,2]\n{"step": 1, "d_loss": 2}\n{"step": 2, "d_lo')
    rows, skipped = read_jsonl(p)
    assert [r["step"] for r in rows] == [0, 1] and skipped == 3


def test_writer_repairs_partial_line_and_never_duplicates(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"step": 0}\n{"step": 1}\n{"step": 2, "d_lo')      # killed mid-write
    a = JsonlAppender(p)
    assert a.last_key == 1
    written = a.extend([{"step": s} for s in range(0, 5)])           # resume replays 0..4
    a.close()
    assert written == 3
    lines = p.read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [0, 1, 2, 3, 4]


def test_nan_is_written_as_null(tmp_path):
    a = JsonlAppender(tmp_path / "m.jsonl")
    a.append({"step": 0, "d_loss": float("nan")})
    a.close()
    assert json.loads((tmp_path / "m.jsonl").read_text())["d_loss"] is None


def test_resolve_inside_refuses_traversal(tmp_path):
    (tmp_path / "a").mkdir()
    assert resolve_inside(tmp_path, "a") == (tmp_path / "a").resolve()
    for bad in ("../etc", "/etc/passwd", "a/../../x"):
        with pytest.raises(UserError):
            resolve_inside(tmp_path, bad)


def test_read_run_errors(tmp_path):
    with pytest.raises(UserError):
        read_run(tmp_path / "missing")
    with pytest.raises(UserError):
        read_run(tmp_path)                         # exists but is not a run dir
    (tmp_path / "config.json").write_text("{broken")
    run = read_run(tmp_path)
    assert run.config == {} and not run.config_ok
