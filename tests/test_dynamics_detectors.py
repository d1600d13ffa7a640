"""Each detector fires on a curve built for it and stays quiet on healthy curves."""
from __future__ import annotations

import math

import numpy as np
import pytest

from diagnose.dynamics import Table, analyze, detect
from diagnose.dynamics import synthetic as S
from diagnose.dynamics.conventions import infer_d_fake

SEEDS = (0, 1, 2)


def codes(rows):
    return {f.code for f in detect(Table.from_rows(rows)) if f.severity != "info"}


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_curves_raise_nothing(seed):
    flags = detect(Table.from_rows(S.healthy(seed=seed)))
    assert [f.code for f in flags] == ["healthy"]
    assert flags[0].severity == "info" and flags[0].evidence["points"] == 400


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_typical_dcgan_shape_raises_nothing(seed):
    # D loss sliding 1.4 -> 0.5 and G rising 1 -> 3.5 with heavy per-batch noise: a normal DCGAN run
    rng = np.random.default_rng(seed)
    n = 500
    t = np.linspace(0, 1, n)
    rows = S.rows(n, d_loss=np.abs(1.4 - 0.9 * t + 0.25 * rng.standard_normal(n)),
                  g_loss=np.abs(1 + 2.5 * t + 0.8 * rng.standard_normal(n)),
                  d_real=np.clip(0.55 + 0.25 * t + 0.08 * rng.standard_normal(n), 0, 1),
                  d_fake=np.clip(0.45 - 0.25 * t + 0.08 * rng.standard_normal(n), 0, 1))
    assert codes(rows) == set()


@pytest.mark.parametrize("d_mult,g_fac,conv", [(4, 1, "sum of the terms times 2"),
                                                (2, 1, "sum of real and fake terms"),
                                                (1, 1, "mean of real and fake terms"),
                                                (2, 2, "sum of real and fake terms")])
def test_d_not_learning_infers_the_convention(d_mult, g_fac, conv):
    v = analyze(Table.from_rows(S.not_learning(d_mult=d_mult, g_fac=g_fac)))
    assert v["verdict"] == "d_not_learning"
    ev = v["flags"][0]["evidence"]
    assert ev["d_loss_in_ln2"] == d_mult and ev["g_loss_in_ln2"] == g_fac
    assert ev["convention"] == conv
    assert math.isclose(ev["d_loss_median"], d_mult * math.log(2), rel_tol=0.01)
    assert v["dynamics"]["conventions"]["d_multiple"] == d_mult


def test_d_not_learning_from_scores_only():
    rows = [{k: r[k] for k in ("step", "d_real", "d_fake")}
            for r in S.not_learning(with_scores=True)]
    assert codes(rows) == {"d_not_learning"}


def test_noisy_curve_around_chance_is_not_d_not_learning():
    # a learning D whose loss hovers near 2 ln 2 with ordinary per-batch noise
    rng = np.random.default_rng(0)
    n = 300
    rows = S.rows(n, d_loss=1.386 + 0.15 * rng.standard_normal(n),
                  g_loss=0.9 + 0.3 * rng.standard_normal(n))
    assert "d_not_learning" not in codes(rows)


def test_d_fooled_infers_d_fake_from_g_loss():
    v = analyze(Table.from_rows(S.fooled()))
    assert v["verdict"] == "d_fooled"
    f = v["flags"][0]
    assert f["evidence"]["d_fake_inferred_from_g_loss"] is True
    assert "inferred" in f["summary"]
    assert math.isclose(f["evidence"]["d_fake_median"], math.exp(-0.48), abs_tol=0.02)
    assert f["evidence"]["d_real_median"] == pytest.approx(0.53, abs=0.02)
    # the D loss (1.58) matches the sum of the two BCE terms of those probabilities
    chk = f["evidence"]["d_loss_check"]
    assert chk["sum_of_terms_predicted"] == pytest.approx(chk["d_loss_median"], rel=0.05)


def test_inferred_d_fake_refuses_negative_g_loss():
    assert infer_d_fake(np.array([-1.0, -2.0, -1.5])) is None
    assert infer_d_fake(np.array([math.log(2)]))[0] == pytest.approx(0.5)


@pytest.mark.parametrize("seed", SEEDS)
def test_inconsistent_losses(seed):
    v = analyze(Table.from_rows(S.inconsistent(seed=seed)))
    assert v["verdict"] == "inconsistent_losses"
    f = v["flags"][0]
    assert f["severity"] == "fail"
    assert any("BatchNorm" in a for a in f["advice"]) and any("logging" in a for a in f["advice"])
    ev = f["evidence"]
    assert ev["d_fake_upper_bound_from_d_loss"] < ev["d_fake_lower_bound_from_g_loss"]


def test_inconsistent_losses_from_one_final_line():
    # report 003 as people quote it: one epoch line, both losses ~1e-3
    v = analyze(Table.from_rows([{"epoch": 25, "d_loss": 0.00096, "g_loss": 0.00065}]))
    assert v["verdict"] == "inconsistent_losses"
    assert v["confidence"] < 0.5 and v["dynamics"]["points"] == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_d_overpowering(seed):
    v = analyze(Table.from_rows(S.overpowering(seed=seed)))
    assert v["verdict"] == "d_overpowering"
    ev = v["flags"][0]["evidence"]
    assert ev["d_loss_median"] < 0.1 and ev["g_loss_median"] > 2.3


def test_d_overpowering_with_vanishing_g_gradients():
    rows = S.overpowering()
    for i, r in enumerate(rows):
        r["grad_norm_g"] = 5.0 * math.exp(-i / 40)
    f = [f for f in detect(Table.from_rows(rows)) if f.code == "d_overpowering"][0]
    assert f.evidence["grad_norm_g_ratio_to_before"] < 0.1


@pytest.mark.parametrize("seed", SEEDS)
def test_oscillation(seed):
    v = analyze(Table.from_rows(S.oscillating(seed=seed)))
    assert v["verdict"] == "oscillation"
    assert 35 <= v["flags"][0]["evidence"]["period_rows"] <= 45


def test_trend_without_swings_is_not_oscillation():
    rng = np.random.default_rng(0)
    n = 400
    rows = S.rows(n, d_loss=np.linspace(1.4, 0.8, n) + 0.1 * rng.standard_normal(n),
                  g_loss=np.cumsum(0.02 * rng.standard_normal(n)) + 2)   # a random walk
    assert "oscillation" not in codes(rows)


def test_diverged_nan_and_explosion():
    v = analyze(Table.from_rows(S.diverging()))
    assert v["verdict"] == "diverged" and v["flags"][0]["steps"] == [1500, 1990]
    rows = S.healthy(n=200)
    for i, r in enumerate(rows[150:]):
        r["g_loss"] = 1.5 * 10 ** (i / 8)
    assert "diverged" in codes(rows)


def test_diverged_names_a_loss_pinned_at_the_bce_clamp():
    """noise_vector_vs_matrix/vector on the CPU: from step ~700 D(x) = D(G(z)) = 1, D loss 100 (the
    clamp of BCELoss's log), G loss 0: a saturated Sigmoid, no gradient left."""
    rows = S.healthy(n=300)
    for r in rows[120:]:
        r.update(d_loss=100.0, g_loss=0.0, d_real=1.0, d_fake=1.0)
    f = next(f for f in analyze(Table.from_rows(rows))["flags"] if f["code"] == "diverged")
    assert f["evidence"]["bce_clamp"] is True and "clamp of -log(0)" in f["summary"]
    assert f["steps"] == [rows[120]["step"], rows[-1]["step"]]
    # an explosion that keeps moving is not the clamp
    rows = S.healthy(n=200)
    for i, r in enumerate(rows[150:]):
        r["d_loss"] = 1.5 * 10 ** (i / 8)
    f = next(f for f in analyze(Table.from_rows(rows))["flags"] if f["code"] == "diverged")
    assert f["evidence"]["bce_clamp"] is False and "clamp" not in f["summary"]


def test_few_points_lower_confidence_and_say_so():
    # five epoch averages, 1,000 batches apart (five rows 10 batches apart would be only the run's
    # first 50 batches: warm-up, where D at chance is normal)
    few = analyze(Table.from_rows([dict(r, step=i * 1000)
                                   for i, r in enumerate(S.not_learning(n=5))]))
    many = analyze(Table.from_rows(S.not_learning(n=300)))
    assert few["verdict"] == many["verdict"] == "d_not_learning"
    assert few["confidence"] < many["confidence"]
    assert few["dynamics"]["points"] == 5 and "only 5 points" in few["dynamics"]["note"]


@pytest.mark.parametrize("seed", SEEDS)
def test_d_not_learning_frozen_d_fooled_by_g(seed):
    # what our trainer's mlp_lr_imbalance/baseline logs: D(x) frozen, G fools the untrained D
    v = analyze(Table.from_rows(S.frozen_d(seed=seed)))
    assert v["verdict"] == "d_not_learning"
    top = v["flags"][0]
    assert top["evidence"]["signature"] == "D(x) frozen at chance"
    assert top["evidence"]["lr_d_over_lr_g"] == pytest.approx(0.005)
    assert "200x smaller" in top["summary"]
    fooled = [f for f in v["flags"] if f["code"] == "d_fooled"]
    assert fooled and fooled[0]["severity"] == "warn"      # named as a consequence, not the cause


def test_learning_d_near_half_is_not_frozen():
    # D(x) ~0.53 with ordinary batch noise (report 002): fooled, but D is learning
    v = analyze(Table.from_rows(S.fooled()))
    assert {f["code"] for f in v["flags"]} == {"d_fooled"}


def test_real_trainer_runs():
    # metrics of `diagnose run --exp mlp_lr_imbalance --quick` (baseline: 300 steps; balanced_lr:
    # 250 steps), trimmed to the fields the detectors read
    from pathlib import Path

    data = Path(__file__).parent / "data" / "logs"
    v = analyze(data / "trainer_mlp_lr_imbalance_baseline.jsonl")
    assert v["verdict"] == "d_not_learning" and v["flags"][0]["severity"] == "fail"
    assert v["flags"][0]["evidence"]["lr_d_over_lr_g"] == pytest.approx(0.005)
    v = analyze(data / "trainer_mlp_lr_imbalance_balanced_lr.jsonl")
    assert v["verdict"] == "healthy"
