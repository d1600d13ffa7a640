"""Each sample rule's thresholds on built measurements: it fires on a case made to cross its
threshold and stays quiet on a healthy one; headlines name the cause and n; advice fits what was
measured and cites reports only inside the repository."""
import copy
import math
import re

import pytest

from diagnose.analysis import calibration
from diagnose.analysis import detectors as rules

N = 1000


def _panel(**over):
    """A held-out real-data panel at n = 1,000 (MNIST-like numbers)."""
    p = {"n": N, "fid": 0.3, "precision": 0.9, "recall": 0.9, "density": 1.0, "coverage": 0.9,
         "duplicates": {"duplicate_rate": 0.0, "support_estimate": float("inf"),
                        "distinct_outputs": N, "n": N},
         "modes": {"modes_hit": 10, "n_modes": 10, "kl": 0.01, "ndb_k": 0.0, "ndb_bins": 10,
                   "effective_modes": 9.9}}
    p.update(over)
    return p


def _measured(**over):
    """A healthy generator's judged statistics (as analysis.blocks returns them)."""
    m = copy.deepcopy(_panel())
    m.update({"blocks": 1, "n_total": N, "fid": 0.5, "precision": 0.88,
              "memorization": {"copy_share": 0.01, "reference_copy_share": 0.01,
                               "distance_ratio": 1.0, "median_gen_to_train": 1.0,
                               "median_heldout_to_train": 1.0, "copy_threshold": 0.1}})
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(m.get(k), dict):
            m[k] = {**m[k], **v}
        else:
            m[k] = v
    return {"matched": m, "full": m}


def _verdict(measured=None, profile=None, context=None, nonfinite=0.0, rng=None, panel=None,
             extra=None):
    return rules.verdict_from(subject="t", measured=measured, reference={"panel": panel or _panel()},
                              profile=profile if profile is not None else {"spread": 1.0},
                              range_info=rng, nonfinite=nonfinite, features="mnist-lenet",
                              extra=extra, context=context)


def _codes(v):
    return [f["code"] for f in v["flags"] if f["severity"] in ("warn", "fail")]


def _advice(v):
    return " ".join(a for f in v["flags"] for a in f["advice"])


def test_healthy_generator_is_quiet_and_headline_names_n():
    v = _verdict(_measured())
    assert v["verdict"] == "healthy" and _codes(v) == []
    assert "n=1,000" in v["headline"] and v["judged"]["n"] == N
    assert 0.5 <= v["confidence"] <= 0.99


def test_diverged_fires_on_nonfinite_only():
    assert _verdict(_measured(), nonfinite=0.01)["verdict"] == "diverged"
    assert _verdict(_measured(), nonfinite=0.0)["verdict"] == "healthy"


def test_duplicates_rule_threshold():
    th = rules.THRESHOLDS
    support = 0.5 * th["support_share"] * N
    fires = _verdict(_measured(duplicates={"duplicate_rate": th["dup_excess"] + 0.1,
                                           "support_estimate": support}))
    assert fires["verdict"] == "mode_collapse"
    # The same rate with a support above the threshold (many distinct outputs) is quiet...
    quiet = _verdict(_measured(duplicates={"duplicate_rate": th["dup_excess"] + 0.1,
                                           "support_estimate": 4 * th["support_share"] * N}))
    assert "mode_collapse" not in _codes(quiet)
    # ...and so is a small support with a duplicate rate under the excess.
    quiet = _verdict(_measured(duplicates={"duplicate_rate": th["dup_excess"] * 0.5,
                                           "support_estimate": support}))
    assert "mode_collapse" not in _codes(quiet)


def test_effective_modes_rule_threshold_and_off_manifold_gate():
    th = rules.THRESHOLDS
    few = th["effective_modes_share"] * 9.9 * 0.5
    assert _verdict(_measured(modes={"effective_modes": few}))["verdict"] == "mode_collapse"
    assert "mode_collapse" not in _codes(_verdict(_measured(modes={"effective_modes": 9.0})))
    # Noise: off the manifold, class-based modes say little; no duplicates, so no collapse.
    noise = _measured(modes={"effective_modes": 1.0}, precision=0.0, fid=700.0,
                      memorization={"distance_ratio": 5.0})
    v = _verdict(noise)
    assert v["verdict"] == "not_converged" and "mode_collapse" not in _codes(v)


def test_latent_spread_rule_threshold():
    th = rules.THRESHOLDS["spread_share"]
    assert _verdict(_measured(), profile={"spread": th / 2})["verdict"] == "mode_collapse"
    assert _verdict(_measured(), profile={"spread": th * 3})["verdict"] == "healthy"


def test_memorization_rule_threshold():
    th = rules.THRESHOLDS
    share = max(th["copy_floor"], th["copy_factor"] * 0.01) * 1.5
    assert _verdict(_measured(memorization={"copy_share": share}))["verdict"] == "memorization"
    assert _verdict(_measured(memorization={"copy_share": 0.02}))["verdict"] == "healthy"


def test_not_converged_rule_threshold():
    th = rules.THRESHOLDS
    bad = _measured(precision=0.9 * th["precision_share"] * 0.5, fid=0.3 * th["fid_factor"] * 4,
                    memorization={"distance_ratio": th["distance_factor"] * 1.5 + 0.1})
    assert _verdict(bad)["verdict"] == "not_converged"
    # Low precision alone, with samples as close to the data as new real digits, is not enough.
    near = _measured(precision=0.1, fid=50.0, memorization={"distance_ratio": 0.9})
    if th["distance_factor"] > 0.9:
        assert "not_converged" not in _codes(_verdict(near))
    assert _verdict(_measured(precision=0.85, fid=0.4))["verdict"] == "healthy"


def test_partial_collapse_missing_and_uneven():
    assert _verdict(_measured(modes={"modes_hit": 6}))["verdict"] == "partial_collapse"
    uneven = _measured(modes={"kl": 0.01 + rules.THRESHOLDS["kl_excess"] * 2,
                              "ndb_k": rules.THRESHOLDS["ndb_excess"] * 2})
    v = _verdict(uneven)
    assert v["verdict"] == "partial_collapse" and v["flags"][0]["severity"] == "warn"
    assert _verdict(_measured(modes={"modes_hit": 10, "kl": 0.05, "ndb_k": 0.1}))["verdict"] == "healthy"


def _never_learned():
    return _measured(duplicates={"duplicate_rate": 0.99, "support_estimate": 2.0},
                     modes={"effective_modes": 1.0}, precision=0.0, fid=900.0,
                     memorization={"distance_ratio": 4.0})


def test_collapsed_and_unlike_the_data_names_both_and_advises_learning():
    v = _verdict(_never_learned(), profile={"spread": 0.01})
    assert v["verdict"] == "mode_collapse" and "not_converged" in _codes(v)
    assert "not_converged" in v["headline"] and "never learned" in v["headline"]
    top = v["flags"][0]
    assert "unlike the data" in top["summary"]
    adv = " ".join(top["advice"])
    assert "dynamics" in adv and "Learning rates" in adv and "Initialisation" in adv
    assert "minibatch" not in adv.lower() and "packing" not in adv.lower()


def test_realistic_collapse_gets_diversity_advice():
    v = _verdict(_measured(duplicates={"duplicate_rate": 0.99, "support_estimate": 3.0}))
    assert v["verdict"] == "mode_collapse" and "not_converged" not in v["headline"]
    assert "packing" in " ".join(v["flags"][0]["advice"])


def test_advice_follows_the_measured_latent_shape_and_rates():
    col = _measured(duplicates={"duplicate_rate": 0.99, "support_estimate": 3.0})
    dcgan = _verdict(col, extra={"loading": "output (N, 1, 28, 28); latent (N, 100, 1, 1)"})
    assert dcgan["context"]["latent_shape"] == [100, 1, 1]
    assert "vector" not in _advice(dcgan)
    matrix = _verdict(col, context={"latent_shape": [128, 4, 4]})
    assert "as a vector" in _advice(matrix)
    starved = _verdict(col, context={"lr_g": 2e-4, "lr_d": 1e-6})
    assert "200x smaller" in _advice(starved)


def test_every_cited_report_resolves_inside_the_repository():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "EXPERIMENTS.md").read_text()
    texts = [_advice(_verdict(_never_learned(), profile={"spread": 0.01})),
             _advice(_verdict(_measured(duplicates={"duplicate_rate": 0.99, "support_estimate": 3.0}),
                              context={"latent_shape": [128, 4, 4]})),
             _advice(_verdict(None, rng={"raw_range": [0, 1], "data_range": [-1, 1], "mismatch": True,
                                         "offset_low": 0.5, "offset_high": 0.0}))]
    text = " ".join(texts)
    cited = re.findall(r"report (\d{3})", text)
    assert cited, "the advice cites reports"
    for num in cited:
        assert f"docs/EXPERIMENTS.md#report-{num}" in text
        assert f'<a id="report-{num}"></a>' in doc
    assert "http" not in text


def test_confidence_grows_with_the_margin_and_is_a_probability():
    for code in calibration.CONFIDENCE:
        lo, hi = calibration.confidence(code, 0.0), calibration.confidence(code, 3.0)
        assert 0.0 < lo <= 1.0 and 0.0 < hi <= 1.0
        assert hi >= lo
    assert calibration.confidence("mode_collapse", math.inf) == calibration.confidence("mode_collapse", 0.0)


def test_thresholds_can_be_overridden_for_refitting():
    rate = rules.THRESHOLDS["dup_excess"] * 0.8
    m = _measured(duplicates={"duplicate_rate": rate, "support_estimate": 5.0})
    assert "mode_collapse" not in _codes(_verdict(m))
    v = rules.verdict_from(subject="t", measured=m, reference={"panel": _panel()},
                           profile={"spread": 1.0}, range_info=None, nonfinite=0.0,
                           features="x", thresholds={"dup_excess": rate * 0.5})
    assert v["verdict"] == "mode_collapse"


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_scores_sign_matches_firing(share):
    v = _verdict(_measured(memorization={"copy_share": share}))
    fired = "memorization" in _codes(v)
    assert (v["scores"]["memorization"] or -1) > 0 if fired else (v["scores"]["memorization"] or -1) <= 0
