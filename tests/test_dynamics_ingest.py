"""Ingestion: every text shape, CSV/JSONL spellings, run dirs, TensorBoard, and fuzzed garbage."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnose.dynamics import analyze, ingest
from diagnose.dynamics.ingest_text import parse_text
from diagnose.dynamics.table import canonical_name

DATA = Path(__file__).parent / "data" / "logs"


def col(t, name):
    return [None if math.isnan(x) else round(x, 6) for x in t.columns[name].tolist()]


@pytest.mark.parametrize("key,name", [
    ("Loss/D", "d_loss"), ("loss_d", "d_loss"), ("D_loss", "d_loss"), ("lossD", "d_loss"),
    ("errD", "d_loss"), ("discriminator_loss", "d_loss"), ("Discriminator Loss", "d_loss"),
    ("train/loss_G", "g_loss"), ("Generator Loss", "g_loss"), ("Loss_G", "g_loss"),
    ("D(x)", "d_real"), ("D_x", "d_real"), ("D(G(z))", "d_fake"), ("D_G_z", "d_fake"),
    ("grad_norm_d", "grad_norm_d"), ("lr_g", "lr_g"), ("global_step", "step"),
    ("Epoch", "epoch"), ("d_loss_real", None), ("accuracy", None)])
def test_canonical_names(key, name):
    assert canonical_name(key) == name


def test_batch_loss_dx_text():
    t = ingest(DATA / "batch_loss_dx.txt")
    assert t.report["format"] == "text"
    assert col(t, "d_loss") == [1.4021, 1.5341, 1.5802]
    assert col(t, "g_loss") == [0.7012, 0.5156, 0.4833]
    assert col(t, "d_real") == [0.501, 0.5398, 0.5301]
    # global step = (epoch - 1) * 938 + batch
    assert t.steps.tolist() == [100, 200, 2 * 938 + 100]
    assert t.report["skipped_total"] >= 2          # the warning and its source line


def test_timestamp_epoch_text():
    t = ingest(DATA / "timestamp_epochs.txt")
    assert col(t, "d_loss") == [2.7731, 2.785, 2.77]
    assert col(t, "g_loss") == [0.6931, 0.6673, 0.694]
    assert t.steps.tolist() == [3, 4, 5]
    assert any("epochs" in n for n in t.report["notes"])


def test_pipe_colon_text():
    t = ingest(DATA / "pipe_colon.txt")
    assert col(t, "d_loss") == [0.612, 0.589] and col(t, "g_loss") == [0.87, 0.894]
    assert t.steps.tolist() == [7, 8]


def test_key_equals_text_with_progress_bar_debris():
    t = ingest(DATA / "kv_equals.txt")
    assert col(t, "d_loss") == [0.41, 0.38] and col(t, "g_loss") == [2.9, 3.2]
    assert col(t, "d_fake") == [0.12, 0.1]
    assert t.steps.tolist() == [300, 400]
    assert t.report["skipped"].get("progress_bar") == 1


def test_pytorch_dcgan_example_text():
    t = ingest(DATA / "pytorch_dcgan.txt")
    assert col(t, "d_loss") == [1.791, 0.5, 0.65]
    assert col(t, "d_real") == [0.5276, 0.8, 0.7]
    assert col(t, "d_fake") == [0.5454, 0.2, 0.3]          # the value before D's step
    assert t.steps.tolist() == [0, 50, 1583]


def test_explicit_nan_is_kept_apart_from_missing():
    t = parse_text(["step 1 d_loss: 0.5 g_loss: 1.0", "step 2 d_loss: nan g_loss: inf",
                    "step 3 g_loss: 1.2"])
    assert t.nonfinite["d_loss"].tolist() == [False, True, False]
    assert math.isinf(t.columns["g_loss"][1])
    assert analyze(t)["verdict"] == "diverged"


def test_pattern_covers_other_shapes(tmp_path):
    p = tmp_path / "odd.log"
    p.write_text("it 10 => 0.9 / 1.1\nit 20 => 0.8 / 1.3\n")
    t = ingest(p, pattern=r"it (?P<step>\d+) => (?P<d_loss>[\d.]+) / (?P<g_loss>[\d.]+)")
    assert col(t, "d_loss") == [0.9, 0.8] and t.steps.tolist() == [10, 20]


def test_csv_and_tsv_header_variants(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("Iteration,Loss_D,Loss_G,D(x),D(G(z))\n0,1.3,0.8,0.6,0.4\n10,1.2,0.9,0.62,0.38\n"
                 "oops,,\n")
    t = ingest(p)
    assert t.report["format"] == "csv" and t.report["skipped_total"] == 1
    assert col(t, "d_fake") == [0.4, 0.38] and t.steps.tolist() == [0, 10]
    q = tmp_path / "m.txt"
    q.write_text("step\tdiscriminator_loss\tgenerator_loss\n1\t1.1\t2.0\n2\t1.0\t2.1\n")
    t = ingest(q)
    assert t.report["format"] == "csv" and col(t, "g_loss") == [2.0, 2.1]


def test_jsonl_nested_and_nulls(tmp_path):
    p = tmp_path / "m.jsonl"
    rows = [{"global_step": i, "loss": {"D": 1.0, "G": 2.0}, "D(x)": 0.6} for i in range(3)]
    rows[2]["loss"]["G"] = None
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    t = ingest(p)
    assert t.report["format"] == "jsonl" and t.report["skipped"]["corrupt_lines"] == 1
    assert col(t, "d_loss") == [1.0, 1.0, 1.0] and t.nonfinite["g_loss"].tolist() == [0, 0, 1]


def test_run_dir_via_monitor(tmp_path):
    from diagnose.dynamics import analyze_run
    from diagnose.dynamics import synthetic as S
    from diagnose.monitor import Monitor

    with Monitor(tmp_path / "run", {"experiment": "x"}, quiet=True) as m:
        for r in S.not_learning(n=120):
            m.log(r["step"], d_loss=r["d_loss"], g_loss=r["g_loss"])
    v = analyze_run(tmp_path / "run")
    assert v["verdict"] == "d_not_learning" and v["ingestion"]["format"] == "run"
    (tmp_path / "run" / "config.json").write_text("{corrupt")
    v = analyze(tmp_path / "run")
    assert v["verdict"] == "d_not_learning"
    assert any("corrupt" in n for n in v["ingestion"]["notes"])


def test_tensorboard_summarywriter_roundtrip(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from diagnose.dynamics import synthetic as S

    w = SummaryWriter(str(tmp_path / "tb"))
    for r in S.fooled(n=60):
        w.add_scalar("Loss/D", r["d_loss"], r["step"])
        w.add_scalar("Loss/G", r["g_loss"], r["step"])
        w.add_scalar("D(x)", r["d_real"], r["step"])
        w.add_scalars("Scores", {"real": 0.5}, r["step"])   # a sub-run with an unknown name
    w.close()
    t = ingest(tmp_path / "tb")
    assert t.report["format"] == "tensorboard"
    assert len(t) == 60 and t.steps[:3].tolist() == [0, 10, 20]
    assert abs(t.columns["d_loss"][0] - S.fooled(n=60)[0]["d_loss"]) < 1e-5
    assert analyze(t)["verdict"] == "d_fooled"


def test_tensorboard_dir_without_scalars_is_a_user_error(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from diagnose.core.errors import UserError

    w = SummaryWriter(str(tmp_path / "tb"))
    w.add_text("note", "hello", 0)
    w.close()
    with pytest.raises(UserError, match="no scalars"):
        ingest(tmp_path / "tb")


_NOISE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
_PIECES = st.sampled_from(["Loss D:", "loss_G=", "D(x)", "D(G(z)):", "[3/10]", "Epoch", "|", ",",
                           "\r", "\t", "nan", "-inf", "1e309", "0.5", "/", "███", "45%|", "=",
                           "tensor(", ")", "Batch 100/938", "epoch=2", "it=", "\x1b[31m"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.one_of(_PIECES, _NOISE, st.floats(allow_nan=True).map(str)),
                         max_size=12).map(" ".join), max_size=15))
def test_fuzzed_text_never_raises(lines):
    t = parse_text(lines)
    assert len(t) == t.report["rows"]
    if len(t):
        analyze(t)                                  # the detectors accept whatever was parsed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=400),
                      st.lists(st.one_of(_PIECES, _NOISE), max_size=40).map(" ".join)
                      .map(lambda s: s.encode("utf-8", "surrogatepass"))),
       suffix=st.sampled_from([".log", ".csv", ".jsonl", ".txt"]))
def test_fuzzed_files_give_a_table_or_a_user_error(tmp_path_factory, data, suffix):
    from diagnose.core.errors import UserError

    p = tmp_path_factory.mktemp("fz") / f"f{suffix}"
    p.write_bytes(data)
    try:
        t = ingest(p)
    except UserError as e:
        assert "\n" not in str(e)
        return
    analyze(t)


def test_tqdm_postfix_lines_of_our_trainer():
    bar = "train:  12%|█▏        | {i}/600 [00:21<02:39,  3.32it/s, d={d}, g=0.661, Dx=0.51, DGz=0.52]"
    t = parse_text(["\r".join(bar.format(i=i, d=1.3 + i / 1000) for i in (50, 100, 150))])
    assert t.steps.tolist() == [50, 100, 150]
    assert col(t, "d_loss") == [1.35, 1.4, 1.45] and col(t, "d_fake") == [0.52] * 3
    assert "epoch" not in t.columns
