"""The text reader on line shapes nobody wrote down, format detection, and linear streaming."""
from __future__ import annotations

import math
import time

import pytest

from diagnose.dynamics import ingest
from diagnose.dynamics.ingest import detect_format
from diagnose.dynamics.ingest_text import parse_text
from diagnose.dynamics.table import ColumnStore


def col(t, name):
    return [None if math.isnan(x) else round(x, 6) for x in t.columns[name].tolist()]


@pytest.mark.parametrize("lines,d,g", [
    # separators: space, TAB, |, comma, semicolon
    (["step 1 d_loss 0.5 g_loss 1.5", "step 2 d_loss 0.6 g_loss 1.4"], [0.5, 0.6], [1.5, 1.4]),
    (["1\tLoss_D: 0.5\tLoss_G: 1.5", "2\tLoss_D: 0.6\tLoss_G: 1.4"], [0.5, 0.6], [1.5, 1.4]),
    (["it 1 | D: 0.5 | G: 1.5", "it 2 | D: 0.6 | G: 1.4"], [0.5, 0.6], [1.5, 1.4]),
    (["iter=1, lossD=0.5, lossG=1.5", "iter=2, lossD=0.6, lossG=1.4"], [0.5, 0.6], [1.5, 1.4]),
    (["step: 1; D loss: 0.5; G loss: 1.5", "step: 2; D loss: 0.6; G loss: 1.4"], [0.5, 0.6], [1.5, 1.4]),
    # key : value, [key: value], Keras-GAN's "[D loss: 0.5, acc: 50%]"
    (["Epoch : 1 | D_loss : 0.5 | G_loss : 1.5", "Epoch : 2 | D_loss : 0.6 | G_loss : 1.4"],
     [0.5, 0.6], [1.5, 1.4]),
    (["0 [D loss: 0.5, acc.: 50.00%] [G loss: 1.5]", "1 [D loss: 0.6, acc.: 62.50%] [G loss: 1.4]"],
     [0.5, 0.6], [1.5, 1.4]),
    # tensors printed as they are
    (["step 1 loss_D: tensor(0.5000, device='cuda:0', grad_fn=<AddBackward0>) loss_G: tensor(1.5)",
      "step 2 loss_D: tensor(0.6000, device='cuda:0') loss_G: tensor(1.4000)"], [0.5, 0.6], [1.5, 1.4]),
    (["1 d_loss <tf.Tensor: shape=(), dtype=float32, numpy=0.5> g_loss <tf.Tensor: shape=(), "
      "dtype=float32, numpy=1.5>"], [0.5], [1.5]),
    # Keras progress bar lines with \r redraws, one row per distinct redraw
    (["Epoch 1/2", "\r 1/2 [=====>......] - ETA: 1s - d_loss: 0.5000 - g_loss: 1.5000"
      "\r 2/2 [==============] - 2s 1s/step - d_loss: 0.6000 - g_loss: 1.4000"],
     [0.5, 0.6], [1.5, 1.4]),
    # names listed, then their values; "Loss D/G: a/b"
    (["Batch 1/9 generator loss | discriminator loss : 1.5 | 0.5",
      "Batch 2/9 generator loss | discriminator loss : 1.4 | 0.6"], [0.5, 0.6], [1.5, 1.4]),
    (["it 1 Loss D/G: 0.5/1.5", "it 2 Loss D/G: 0.6/1.4"], [0.5, 0.6], [1.5, 1.4]),
    # a step's values spread over several lines, under a counter line
    (["Epoch 1 Batch 10", "Discriminator loss 0.5", "Generator loss 1.5",
      "Epoch 1 Batch 20", "Discriminator loss 0.6", "Generator loss 1.4"], [0.5, 0.6], [1.5, 1.4]),
    # bracketed groups: names repeat under [D] and [G]; D's real/fake values above 1 are loss terms
    (["12: [D] real 0.2 fake 0.3 [G] fake 1.5", "13: [D] real 1.25 fake 0.35 [G] fake 1.4"],
     [0.5, 1.6], [1.5, 1.4]),
])
def test_line_shapes_read_without_configuration(lines, d, g):
    t = parse_text(lines)
    assert col(t, "d_loss") == d and col(t, "g_loss") == g


def test_nan_and_inf_in_any_case_are_explicit():
    t = parse_text(["step 1 d_loss: NaN g_loss: INF", "step 2 d_loss: nan g_loss: -Infinity",
                    "step 3 d_loss: 0.5 g_loss: 1.0"])
    assert t.nonfinite["d_loss"].tolist() == [True, True, False]
    assert math.isinf(t.columns["g_loss"][1]) and t.columns["g_loss"][1] < 0


def test_dcgan_pair_keeps_the_value_before_ds_step_and_thousands_separators():
    t = parse_text(["[0/5][50/1583]\tLoss_D: 0.5\tLoss_G: 3.1\tD(x): 0.8\tD(G(z)): 0.2 / 0.1",
                    "<epoch:  4, iter:   8,600, lr:1.000e-04> l_g_gan: 1.1e-02 l_d_real: 0.1 "
                    "l_d_fake: 0.2"])
    assert col(t, "d_fake")[0] == 0.2
    assert t.columns["step"][1] >= 8600


def test_printed_table_under_a_header():
    lines = ["D_loss       acc     G_loss",
             "0.004051 | 100 | 6.248324 | 2 days, 12:04:16.416641",
             "0.003934 | 100 | 5.108233 | 2 days, 12:04:35.168347"]
    t = parse_text(lines)
    assert col(t, "d_loss") == [0.004051, 0.003934] and col(t, "g_loss") == [6.248324, 5.108233]
    labelled = ["component              | loss | generation_loss | auxiliary_loss",
                "generator (train)      | 8.35 | 6.03            | 2.32",
                "discriminator (train)  | 1.32 | 0.01            | 1.31"]
    t = parse_text(labelled)
    # the adversarial ("generation") parts, not the totals with the auxiliary classifier loss
    assert col(t, "g_loss") == [6.03] and col(t, "d_loss") == [0.01]


def test_prose_clock_and_warnings_are_not_series():
    t = parse_text(["[01:07:50] | Epoch [3/50] | Discriminator Loss: 2.7731, Generator Loss: 0.6931",
                    "训练进度：第 4 轮完成，用时 12 分钟",
                    "loss.py:535: UserWarning: Using a target size (torch.Size([64]))",
                    "[01:07:54] | Epoch [4/50] | Discriminator Loss: 2.7850, Generator Loss: 0.6673"])
    assert t.steps.tolist() == [3, 4] and col(t, "d_loss") == [2.7731, 2.785]


@pytest.mark.parametrize("text,fmt", [
    ("step,d_loss,g_loss\n1,0.5,1.5\n2,0.6,1.4\n", "csv"),
    ("step\td_loss\tg_loss\n1\t0.5\t1.5\n2\t0.6\t1.4\n", "csv"),
    ("epoch;Loss_D;Loss_G\n1;0.5;1.5\n2;0.6;1.4\n", "csv"),
    # console lines with TABs, | or commas between "name: value" fields are text, not tables
    ("Starting Training Loop...\n[0/5][0/1583]\tLoss_D: 1.79\tLoss_G: 4.98\tD(x): 0.52\n"
     "[0/5][50/1583]\tLoss_D: 0.5\tLoss_G: 3.1\tD(x): 0.8\n", "text"),
    ("Epoch 1 | D_loss: 0.5 | G_loss: 1.5\nEpoch 2 | D_loss: 0.6 | G_loss: 1.4\n", "text"),
    ("epoch 1, d_loss 0.5, g_loss 1.5\nepoch 2, d_loss 0.6, g_loss 1.4\n", "text"),
    ("epoch, d_loss: 0.5, g_loss: 1.5\nepoch, d_loss: 0.6, g_loss: 1.4\n", "text"),
])
def test_format_detection_calls_a_table_only_a_table(tmp_path, text, fmt):
    p = tmp_path / "log.txt"
    p.write_text(text)
    assert detect_format(p) == fmt
    t = ingest(p)
    assert col(t, "d_loss") == [0.5, 0.6] or col(t, "d_loss") == [1.79, 0.5]


def test_a_csv_named_file_of_console_lines_is_read_as_text(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("Epoch [1/5] Loss_D: 0.5, Loss_G: 1.5\nEpoch [2/5] Loss_D: 0.6, Loss_G: 1.4\n")
    assert detect_format(p) == "text" and col(ingest(p), "g_loss") == [1.5, 1.4]


def test_lightning_metrics_csv_rows_of_one_step_are_merged(tmp_path):
    p = tmp_path / "metrics.csv"
    p.write_text("d_loss_step,epoch,g_loss_step,step,d_loss_epoch,g_loss_epoch\n"
                 "0.5,0,1.5,49,,\n0.6,0,1.4,99,,\n,0,,99,0.55,1.45\n0.7,1,1.3,149,,\n")
    t = ingest(p)
    assert t.report["format"] == "csv" and "merged" in " ".join(t.report["notes"])
    assert col(t, "d_loss") == [0.5, 0.6, 0.7]          # the *_step series, not the epoch means
    assert t.report["roles"]["mapping"]["d_loss"]["series"] == "d_loss_step"
    assert col(t, "d_loss_epoch") == [None, 0.55, None]  # kept apart, under its own name


def test_store_grows_linearly_and_thins_itself_when_bounded():
    s = ColumnStore(max_cells=4000)
    for i in range(10_000):
        s.add({"step": i, "d_loss": 1.0 if i != 7777 else float("nan"), "g_loss": 2.0})
    cols, bad = s.arrays()
    assert s.n * 3 <= 4000 and s.stride > 1 and cols["step"][1] == s.stride
    assert bad["d_loss"].sum() == 1                     # the NaN survived the thinning
    t = s.table()
    assert any("judged on every" in n for n in t.report["notes"])


def test_reading_is_linear_in_lines():
    line = "[{e}/9][{b}/100]\tLoss_D: 0.5\tLoss_G: 1.5\tD(x): 0.6\tD(G(z)): 0.4 / 0.3"

    def cost(n):
        lines = [line.format(e=i // 100, b=i % 100) for i in range(n)]
        t0 = time.perf_counter()
        parse_text(lines)
        return time.perf_counter() - t0

    small, big = min(cost(4000) for _ in range(2)), min(cost(16000) for _ in range(2))
    assert big < 8 * small, (small, big)                 # 4x the lines, far from 16x
