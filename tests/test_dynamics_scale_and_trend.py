"""Causes found on held-out real logs, each on built cases that fire and healthy ones that stay quiet:

- a table cell holding one number in a wrapper or with a unit (``tensor(10.5, grad_fn=<...>)``);
- a weighted G adversarial term (ESRGAN prints 5e-3 x its loss beside pixel/perceptual terms)
  read as a near-zero G loss: D's logged raw outputs decide instead;
- D winning by trend: G's loss climbing several-fold while D's falls, D's loss never near zero.
"""
from __future__ import annotations

import numpy as np
import pytest

from diagnose.dynamics import Table, detect, ingest
from diagnose.dynamics import synthetic as S
from diagnose.dynamics.ingest_files import cell_number, looks_like_csv
from diagnose.dynamics.ingest_text import parse_text


def bad_codes(flags):
    return {f.code for f in flags if f.severity != "info"}


# --- table cells -----------------------------------------------------------------------------

@pytest.mark.parametrize("cell,value", [
    ("tensor(10.5290, grad_fn=<BinaryCrossEntropyBackward0>)", 10.529),
    ("tensor(0.5, device='cuda:0')", 0.5), ("np.float32(0.25)", 0.25), ("12.5 ms", 12.5),
    ("45%", 45.0), ("0.5", 0.5), ("8,600", 8600.0)])
def test_a_cell_with_one_wrapped_or_unit_number_is_that_number(cell, value):
    assert cell_number(cell) == pytest.approx(value)


@pytest.mark.parametrize("cell", ["epoch 2", "d_loss 0.6", "3/10", "1 2", "abc", ""])
def test_a_labelled_or_multi_number_cell_is_not_a_number(cell):
    assert cell_number(cell) is None


def _tensor_csv(tmp_path, g, d):
    p = tmp_path / "losses.csv"
    lines = ["losses_g,losses_d"] + [
        f'"tensor({a:.4f}, grad_fn=<BinaryCrossEntropyBackward0>)","tensor({b:.4f}, '
        f'grad_fn=<AddBackward0>)"' for a, b in zip(g, d)]
    p.write_text("\r\n".join(lines) + "\r\n")
    return p


def test_csv_of_tensor_reprs_is_read_and_d_winning_is_found(tmp_path):
    rng = np.random.default_rng(0)
    n = 30
    p = _tensor_csv(tmp_path, 8 + rng.random(n) * 2, 0.001 + rng.random(n) * 0.01)
    assert looks_like_csv(p.read_text(), named_csv=True)
    t = ingest(p)
    assert t.report["format"] == "csv" and len(t) == n
    assert "d_overpowering" in bad_codes(detect(t))


def test_csv_of_tensor_reprs_of_a_healthy_run_stays_quiet(tmp_path):
    rng = np.random.default_rng(1)
    n = 30
    p = _tensor_csv(tmp_path, 1.2 + 0.3 * rng.random(n), 1.1 + 0.3 * rng.random(n))
    t = ingest(p)
    assert len(t) == n and bad_codes(detect(t)) == set()


# --- weighted adversarial term beside auxiliary terms -----------------------------------------

def _esrgan_lines(n, l_d, gap, g_gan, seed=0):
    """BasicSR-style lines: weighted G adversarial term beside pixel/perceptual terms, D's two
    relativistic loss terms and D's raw outputs."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        real = 20 + 5 * rng.standard_normal()
        fake = real - gap * (1 + 0.1 * rng.standard_normal())
        ld = l_d * (1 + 0.3 * rng.random())
        out.append(f"<epoch: {i // 10}, iter: {(i + 1) * 200:,}, lr:1.000e-04> "
                   f"l_g_pix: {1e-3 * (1 + rng.random()):.4e} l_g_fea: {0.9 + 0.1 * rng.random():.4e} "
                   f"l_g_gan: {g_gan * (1 + 0.2 * rng.random()):.4e} l_d_real: {ld:.4e} "
                   f"l_d_fake: {ld * 0.7:.4e} D_real: {real:.4e} D_fake: {fake:.4e}")
    return out


def test_weighted_g_term_beside_separated_logits_is_d_winning_not_inconsistent():
    t = parse_text(_esrgan_lines(20, l_d=1e-6, gap=15.0, g_gan=0.07))
    mapping = t.report["roles"]["mapping"]
    assert mapping["d_real_logit"]["series"] == "D_real"
    assert mapping["g_loss"]["beside_terms"] == ["l_g_fea", "l_g_pix"]
    assert t.family["name"] == "relativistic"          # D loss ~0 beside logits of 20: differences
    codes = bad_codes(detect(t))
    assert "d_overpowering" in codes and "inconsistent_losses" not in codes


def test_healthy_weighted_g_term_with_close_logits_stays_quiet():
    # D's terms near ln 2 each, D's outputs ~0.5 logit apart: D is not winning; l_g_gan ~5e-3
    t = parse_text(_esrgan_lines(20, l_d=0.6, gap=0.5, g_gan=0.004))
    assert bad_codes(detect(t)) == set()


def test_both_losses_near_zero_without_weights_or_logits_is_still_inconsistent():
    n = 200
    rng = np.random.default_rng(2)
    rows = S.rows(n, d_loss=0.01 + 0.01 * rng.random(n), g_loss=0.02 + 0.01 * rng.random(n))
    flags = {f.code: f for f in detect(Table.from_rows(rows))}
    assert flags["inconsistent_losses"].severity == "fail"


def test_both_near_zero_beside_aux_terms_and_no_logits_is_only_a_warning():
    lines = [f"iter {i} l_g_pix: 0.001 l_g_fea: 0.9 l_g_gan: {0.02 + 0.001 * (i % 3):.4f} "
             f"l_d_real: {1e-5 * (1 + i % 4):.3e} l_d_fake: {2e-5:.3e}" for i in range(40)]
    flags = {f.code: f for f in detect(parse_text(lines))}
    assert flags["inconsistent_losses"].severity == "warn"
    assert "weight" in flags["inconsistent_losses"].summary


def test_close_logits_do_not_excuse_near_zero_losses():
    # D's outputs do not separate reals from fakes, yet both losses are ~0: still impossible
    lines = [f"iter {i} l_g_gan: 0.01 l_d_real: 0.01 l_d_fake: 0.01 D_real: {-3 + 0.1 * (i % 5):.2f} "
             f"D_fake: {-3 + 0.1 * ((i + 2) % 5):.2f}" for i in range(40)]
    assert "inconsistent_losses" in bad_codes(detect(parse_text(lines)))


# --- D winning by trend -----------------------------------------------------------------------

@pytest.mark.parametrize("seed", (0, 1, 2))
def test_g_loss_climbing_several_fold_while_d_falls_is_d_winning(seed):
    rng = np.random.default_rng(seed)
    n = 1000
    t = np.linspace(0, 1, n)
    # G 3 -> 14 while D 0.7 -> 0.11: D's loss never gets near zero, yet D(G(z)) ~ e^-14
    g = 3 + 11 * t + 0.8 * rng.standard_normal(n)
    d = np.maximum(0.6 * np.exp(-4 * t) + 0.1 + 0.03 * rng.standard_normal(n), 0.1)
    flags = {f.code: f for f in detect(Table.from_rows(S.rows(n, d_loss=d, g_loss=g)))}
    f = flags.get("d_overpowering")
    assert f is not None and f.severity != "info"
    assert f.evidence.get("signature") == "G loss climbing several-fold while D's loss falls"


@pytest.mark.parametrize("seed", (0, 1, 2))
def test_g_loss_drifting_up_less_than_several_fold_stays_quiet(seed):
    # G 1.2 -> 2.2 while D 1.3 -> 0.9: the usual drift of a working DCGAN
    rng = np.random.default_rng(seed)
    n = 1000
    t = np.linspace(0, 1, n)
    g = 1.2 + t + 0.3 * rng.standard_normal(n)
    d = 1.3 - 0.4 * t + 0.1 * rng.standard_normal(n)
    assert bad_codes(detect(Table.from_rows(S.rows(n, d_loss=d, g_loss=g)))) == set()


# --- speed paths give the general path's results ----------------------------------------------

@pytest.mark.parametrize("line", [
    "[3/25][100/1583]\tLoss_D: 0.5123\tLoss_G: 2.3456\tD(x): 0.7000\tD(G(z)): 0.3000 / 0.2500",
    "12 0.5 1.5",                                  # unnamed leading integers: value-dependent
    "12.5 0.5 1.5",
    "Epoch 3/10 step 7 d_loss=0.4 g_loss=1,234.5",
    "[01:07:50] iter 100 loss_D: nan loss_G: inf",
    " 45%|####5     | 712/1583 [00:10<00:12, 4.50it/s, d_loss=0.61, g_loss=1.9]",
    "19-08-09 08:25:25.996 - INFO: <epoch: 86, iter: 107,200, lr:2.500e-05> l_g_gan: 7.2056e-02",
])
def test_a_cached_line_plan_reads_what_the_general_path_reads(line):
    from diagnose.dynamics import ingest_text as T
    seg = line
    parts = T._VALUE.split(seg)
    n = len(parts) // 3
    want = T._parse_parts(parts, parts[0::3], n)
    for _ in range(3):                             # first call builds the plan, later ones use it
        assert repr(T.parse_segment(seg)) == repr(want)      # repr: nan equals nan
    # the same shape with other numbers, integer and not
    other = T._VALUE.sub(lambda m: "7" + (f" / {m.group('total')}" if m.group("total") else ""), seg)
    p2 = T._VALUE.split(other)
    assert repr(T.parse_segment(other)) == repr(T._parse_parts(p2, p2[0::3], len(p2) // 3))


def test_column_store_fast_appends_match_rows_of_changing_names():
    from diagnose.dynamics.table import ColumnStore
    rows = []
    for i in range(300):
        r = {"step": float(i), "d": 0.5 + i, "g": float("nan") if i == 7 else 1.0 * i}
        if i % 50 == 10:
            r["extra"] = 3.0                       # names change now and then
        if i % 70 == 5:
            del r["g"]
        rows.append(r)
    store = ColumnStore(max_cells=400)             # small: thinning happens along the way
    for r in rows:
        store.add(r)
    cols, bad = store.arrays()
    kept = rows[::store.stride]
    assert store.n == len(kept) and store.stride > 1
    assert list(cols["d"]) == [r["d"] for r in kept]
    assert np.isnan(cols["g"][[i for i, r in enumerate(kept) if "g" not in r]]).all()
