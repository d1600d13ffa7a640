"""Roles from evidence: names, value ranges and the other series present; the loss family."""
from __future__ import annotations

import math

import numpy as np
import pytest

from diagnose.dynamics import Table, analyze, ingest
from diagnose.dynamics.ingest_text import parse_text
from diagnose.core.errors import UserError


def roles(t):
    return {r: c["series"] for r, c in t.report["roles"]["mapping"].items()}


def test_pix2pix_d_real_d_fake_beside_g_gan_are_loss_terms():
    lines = [f"(epoch: 1, iters: {i * 100}, time: 0.05) G_GAN: {2 + 0.1 * i:.3f} G_L1: 12.0 "
             f"D_real: {0.6 - 0.01 * i:.3f} D_fake: {0.5 - 0.01 * i:.3f}" for i in range(10)]
    t = parse_text(lines)
    r = roles(t)
    assert r["d_loss"] == "D_real+D_fake" and r["g_loss"] == "G_GAN"
    assert "d_real" not in r and "d_fake" not in r             # no probabilities in this log
    assert t.report["roles"]["other_series"]["D_real"] == "loss term"
    assert math.isclose(t.columns["d_loss"][0], 1.1)


def test_the_same_names_are_probabilities_beside_a_d_total():
    lines = [f"step {i} d_loss: 1.2 g_loss: 0.9 D_real: 0.6 D_fake: 0.4" for i in range(10)]
    r = roles(parse_text(lines))
    assert r["d_real"] == "D_real" and r["d_fake"] == "D_fake" and r["d_loss"] == "d_loss"


def test_negative_d_outputs_are_logits_not_probabilities():
    lines = [f"iter {i} l_g_gan: 0.01 l_d_real: 0.12 l_d_fake: 0.11 D_real: {-48 + i:.1f} "
             f"D_fake: {-50 + i:.1f}" for i in range(10)]
    t = parse_text(lines)
    r = roles(t)
    assert "d_real" not in r and t.report["roles"]["other_series"]["D_real"] == "logit"
    assert r["d_loss"] == "l_d_real+l_d_fake" and r["g_loss"] == "l_g_gan"


def test_a_d_total_equal_to_the_sum_of_two_series_makes_them_terms():
    lines = [f"step {i} D: {0.3 + 0.01 * i + 0.2:.2f} D_real: {0.3 + 0.01 * i:.2f} D_fake: 0.20 "
             f"G: 1.5" for i in range(10)]
    t = parse_text(lines)
    assert t.report["roles"]["other_series"]["D_real"] == "loss term"
    assert "d_real" not in roles(t)


def test_adversarial_part_preferred_to_a_total_g_loss():
    lines = [f"Epoch: 3: [D loss: 0.5] [G total loss: {16 + i % 3}] [G GAN Loss: 0.9{i}]"
             for i in range(8)]
    t = parse_text(lines)
    assert roles(t)["g_loss"] == "G GAN Loss"
    assert "preferred to the total" in t.report["roles"]["mapping"]["g_loss"]["why"]


@pytest.mark.parametrize("names,fam", [
    (("d_loss", "g_loss", "gp"), "bce"), (("loss_critic", "loss_G"), "wgan"),
    (("d_loss", "g_loss", "wasserstein_distance"), "wgan"),
    (("d_hinge_loss", "g_loss"), "hinge"), (("lsgan_d", "lsgan_g"), "lsgan"),
    (("d_loss_ra", "g_loss_ra"), "relativistic"), (("d_loss", "g_loss"), "bce")])
def test_family_from_names(names, fam):
    rows = [{"step": i, names[0]: 0.5 + 0.01 * i, names[1]: 1.0, **({names[2]: 0.1}
                                                                  if len(names) > 2 else {})}
            for i in range(20)]
    t = Table.from_rows(rows)
    assert t.family["name"] == fam and t.family["why"]


def test_family_from_signs():
    rows = [{"step": i, "d_loss": -1.5 + 0.1 * math.sin(i), "g_loss": 2.0} for i in range(30)]
    assert Table.from_rows(rows).family["name"] == "wgan"
    rows = [{"step": i, "d_loss": 1.5 + 0.1 * math.sin(i), "g_loss": -0.3 + 0.1 * math.sin(i)}
            for i in range(30)]
    assert Table.from_rows(rows).family["name"] == "hinge"


def test_map_overrides_roles_and_family(tmp_path):
    p = tmp_path / "odd.log"
    p.write_text("".join(f"it {i} alpha: {0.01 + 0.001 * i} beta: {8 + i % 3}\n" for i in range(40)))
    with pytest.raises(UserError):
        ingest(p)                                       # no name says D or G
    t = ingest(p, mapping={"d_loss": "alpha", "g_loss": "beta", "family": "bce"})
    assert roles(t) == {"d_loss": "alpha", "g_loss": "beta"}
    assert t.report["roles"]["mapping"]["d_loss"]["why"] == "--map"
    assert analyze(p, mapping={"d_loss": "alpha", "g_loss": "beta"})["verdict"] == "d_overpowering"
    with pytest.raises(UserError, match="no series named"):
        ingest(p, mapping={"d_loss": "gamma"})
    with pytest.raises(UserError, match="family"):
        ingest(p, mapping={"d_loss": "alpha", "family": "mystery"})


def test_stylegan_stats_jsonl_means_not_counts(tmp_path):
    import json

    p = tmp_path / "stats.jsonl"
    rows = [{"Loss/D/loss": {"num": 8, "mean": 1.1 + 0.01 * i, "std": 0.07},
             "Loss/G/loss": {"num": 8, "mean": 2.0, "std": 1.8},
             "Progress/kimg": {"num": 1, "mean": 4.0 * i, "std": 0}} for i in range(10)]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = ingest(p)
    assert np.allclose(t.columns["d_loss"][:2], [1.1, 1.11])
