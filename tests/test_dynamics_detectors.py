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


# ---------------------------------------------------------------- issue 12: detectors that hold
def _flags(rows, **report):
    t = Table.from_rows(rows)
    t.report.update(report)
    return {f.code: f for f in detect(t)}


def test_frozen_d_loss_fires_and_a_moving_one_does_not():
    rows = S.healthy(n=200)
    for r in rows:
        del r["d_real"], r["d_fake"]
    for r in rows[60:]:
        r.update(d_loss=1.3517)
    f = _flags(rows)
    assert f["d_not_learning"].evidence["signature"] == "frozen D loss"
    assert f["d_not_learning"].severity == "fail"
    assert "d_not_learning" not in _flags(S.healthy(n=200))


def test_frozen_loss_at_zero_is_d_winning_not_d_not_learning():
    rows = S.overpowering()
    for r in rows[100:]:
        r["d_loss"] = 0.0
    f = _flags(rows)
    assert "d_overpowering" in f and "d_not_learning" not in f


@pytest.mark.parametrize("pinned", [100.0, 50.0, 16.118095, 7.9711924, 13.82])
def test_clamps_of_every_implementation_and_their_averages(pinned):
    # BCELoss (100 per term, 50 = mean of a clamped and a zero term), Keras' 1e-7 clip (16.118),
    # half of float32-eps' 15.94, TF's 1e-6 clip printed with two decimals (13.82)
    rows = S.healthy(n=120)
    for r in rows[40:]:
        r.update(d_loss=pinned, g_loss=0.7)
    f = _flags(rows)["diverged"]
    assert f.evidence["bce_clamp"] is True and f.severity == "fail"
    # near a clamp but moving: not pinned
    rows = S.healthy(n=120)
    for i, r in enumerate(rows[40:]):
        r.update(d_loss=pinned * (1 + 0.01 * math.sin(i)))
    assert not _flags(rows).get("diverged") or not _flags(rows)["diverged"].evidence.get("bce_clamp")


def test_blow_up_by_magnitude_without_nan():
    rows = S.healthy(n=60)
    for i, r in enumerate(rows):
        r["d_loss"] = -7900.0 - 10 * math.sin(i)        # a WGAN critic run away
        r["g_loss"] = -3960.0 + 10 * math.cos(i)
    f = _flags(rows)["diverged"]
    assert f.severity == "fail" and f.evidence["tail_median_abs"] > 1000
    rows = S.healthy(n=60)
    for i, r in enumerate(rows):
        r["d_loss"] = -5.0 - math.sin(i)                 # a working WGAN-GP critic
        r["g_loss"] = 10.0 + math.cos(i)
    assert "diverged" not in _flags(rows)


def test_g_loss_zero_beside_a_huge_d_loss_is_d_fooled():
    rows = [{"step": i, "d_loss": 60 + 30 * abs(math.sin(i)), "g_loss": 0.0} for i in range(12)]
    f = _flags(rows)
    assert f["d_fooled"].severity == "fail" and "inconsistent_losses" not in f
    assert "d_overpowering" not in f
    # G loss small but D loss at chance: not this
    rows = [{"step": i, "d_loss": 1.38 + 0.1 * math.sin(i), "g_loss": 0.0005} for i in range(12)]
    assert "d_fooled" not in _flags(rows)


def test_first_batches_at_chance_are_warm_up_not_d_not_learning():
    # PyTorch-GAN's first dozen batches: D loss 0.693, G 0.70, the run planned for 200 x 938
    rows = [{"step": i, "d_loss": 0.6931 - 0.00005 * i, "g_loss": 0.7076 - 0.0005 * i}
            for i in range(12)]
    assert "d_not_learning" not in _flags(rows, planned={"epochs": 200, "batches_per_epoch": 938})
    assert "d_not_learning" not in _flags(rows)         # length unknown, the log spans 12 batches
    v = analyze(Table.from_rows(rows))
    assert "warmup" in v["dynamics"]
    # the same numbers for 3,000 batches of a 3,000-batch run: D never left chance
    long = [{"step": i * 100, "d_loss": 0.6931 + 0.0003 * math.sin(i), "g_loss": 0.7 + 0.0004 *
             math.cos(i)} for i in range(30)]
    assert "d_not_learning" in _flags(long, planned={"epochs": 1, "batches_per_epoch": 3000})


def test_short_logs_get_a_verdict_with_lower_confidence():
    short = [{"step": e, "d_loss": 0.004 + 0.001 * (e % 2), "g_loss": 5.5 + 0.3 * (e % 3)}
             for e in range(3)]
    v = analyze(Table.from_rows(short))
    assert v["verdict"] == "d_overpowering" and v["confidence"] < 0.6
    assert analyze(Table.from_rows(S.healthy(n=3)))["verdict"] == "healthy"


def test_a_transient_nan_that_recovers_is_not_a_failure():
    rows = S.healthy(n=300)
    rows[40]["g_loss"] = float("nan")
    f = _flags(rows)["diverged"]
    assert f.severity == "warn" and f.evidence["recovered"] is True
    assert analyze(Table.from_rows(rows))["verdict"] != "healthy"  # still said, as a warning
    rows = S.healthy(n=300)
    for r in rows[280:]:
        r["g_loss"] = float("nan")
    assert _flags(rows)["diverged"].severity == "fail"


def test_saturated_d_outputs_frozen_at_one():
    rows = S.healthy(n=100)
    for r in rows[30:]:
        r.update(d_real=1.0, d_fake=1.0, d_loss=1.0, g_loss=0.0071)
    assert _flags(rows)["diverged"].severity == "fail"
    # D(x) frozen at 1 with D(G(z)) at 0 is D winning, not a saturated D
    rows = S.overpowering()
    for r in rows[150:]:
        r.update(d_real=1.0, d_fake=0.0)
    f = _flags(rows)
    assert "d_overpowering" in f and "diverged" not in f


def test_family_gates_bce_only_rules():
    # hinge: G loss = -D(G(z)) goes negative; D loss ~0 is not "both losses near zero"
    rows = [{"step": i, "d_loss": 0.02 + 0.01 * abs(math.sin(i)), "g_loss": -0.05 + 0.1 *
             math.sin(i / 3)} for i in range(100)]
    t = Table.from_rows(rows)
    assert t.family["name"] == "hinge"
    assert "inconsistent_losses" not in {f.code for f in detect(t)}
    # wgan: a negative critic loss, never judged against ln 2
    rows = [{"step": i, "d_loss": -0.69 + 0.001 * math.sin(i), "g_loss": 0.7} for i in range(100)]
    t = Table.from_rows(rows)
    assert t.family["name"] == "wgan" and "d_not_learning" not in {f.code for f in detect(t)}


def test_an_early_stretch_that_recovers_is_a_note_and_a_late_one_a_failure():
    rows = S.healthy(n=400)
    for r in rows[40:120]:                               # D wins for a while early, then the
        r.update(d_loss=0.02, g_loss=6.0, d_real=0.97, d_fake=0.03)   # run goes back to normal
    f = _flags(rows)["d_overpowering"]
    assert f.severity == "info" and f.evidence["recovered"] is True
    assert analyze(Table.from_rows(rows))["verdict"] == "healthy"
    rows = S.healthy(n=400)
    for r in rows[300:]:                                 # the same stretch at the end: no recovery
        r.update(d_loss=0.02, g_loss=6.0, d_real=0.97, d_fake=0.03)
    assert _flags(rows)["d_overpowering"].severity in ("warn", "fail")
    assert analyze(Table.from_rows(rows))["verdict"] == "d_overpowering"


def test_a_two_digit_print_repeating_a_few_times_is_not_frozen():
    rows = [{"step": e, "d_loss": [1.32, 1.21, 1.2, 1.2, 1.2, 1.2, 1.2, 1.19][e % 8],
             "g_loss": 8.35 + 0.4 * math.sin(e)} for e in range(8)]
    assert "d_not_learning" not in _flags(rows)
    rows = [{"step": e, "d_loss": 1.3517, "g_loss": 8.35 + 0.4 * math.sin(e)} for e in range(8)]
    assert _flags(rows)["d_not_learning"].evidence["signature"] == "frozen D loss"
