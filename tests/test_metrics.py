"""Metrics on plain tensors: reference checks against prdc and torch-fidelity, invariances, known cases."""
import math

import numpy as np
import pytest
import torch

from diagnose.metrics import duplicates, fidelity, knn, latent, memorization, mixtures, modes, ranges


def _data(n_real=600, n_fake=450, d=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n_real, d, generator=g)
    fake = 1.3 * torch.randn(n_fake, d, generator=g) + 0.2
    return real, fake


@pytest.mark.parametrize("seed", [0, 1])
def test_prdc_equals_prdc_package(seed):
    from prdc import compute_prdc

    real, fake = _data(seed=seed)
    ours = knn.prdc(real, fake, k=5)
    theirs = compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    for m in ("precision", "recall", "density", "coverage"):
        assert ours[m] == pytest.approx(float(theirs[m]), abs=1e-12), m


def test_precision_recall_equal_torch_fidelity():
    from torch_fidelity.metric_prc import prc_features_to_metric

    real, fake = _data(seed=2)
    ours = knn.prdc(real, fake, k=5)
    tf = prc_features_to_metric(fake, real, prc_neighborhood=5, verbose=False)
    assert ours["precision"] == pytest.approx(tf["precision"], abs=1e-6)
    assert ours["recall"] == pytest.approx(tf["recall"], abs=1e-6)


def test_knn_does_not_depend_on_chunk_size():
    real, fake = _data(seed=3)
    a = knn.prdc(real, fake, k=5, chunk=7)
    b = knn.prdc(real, fake, k=5, chunk=1000)
    for m in ("precision", "recall", "density", "coverage"):
        assert a[m] == b[m]
    assert torch.equal(a["nn_index"], b["nn_index"])
    da = duplicates.duplicates(fake, 1.0, chunk=13)
    db = duplicates.duplicates(fake, 1.0)
    assert da == db


def test_nearest_neighbours_exclude_self():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]])
    d, i = knn.nearest_neighbours(x, x, exclude_self=True)
    assert i.tolist() == [1, 0, 1] and d.tolist() == pytest.approx([1.0, 1.0, 4.0])


def test_fid_zero_on_itself_and_grows_with_shift():
    real, _ = _data(n_real=2000, d=8)
    assert abs(fidelity.fid(real, real)) < 1e-6
    vals = [fidelity.fid(real + s, fidelity.fid_statistics(real)) for s in (0.1, 0.3, 0.9)]
    assert vals == sorted(vals) and vals[0] > 0


def test_kid_near_zero_for_same_distribution_and_larger_when_shifted():
    real, _ = _data(n_real=1200, d=16)
    other = torch.randn(1200, 16, generator=torch.Generator().manual_seed(9))
    same = fidelity.kid(real, other, subsets=10)[0]
    shifted = fidelity.kid(real + 1.0, other, subsets=10)[0]
    assert abs(same) < 0.01 and shifted > 10 * abs(same)


def test_inception_score_uniform_confident_vs_one_class():
    labels = torch.arange(1000) % 10
    confident = torch.nn.functional.one_hot(labels, 10).double() * 30
    assert fidelity.inception_score(confident, splits=1)[0] == pytest.approx(10, rel=1e-3)
    # ten splits of 100 see slightly uneven class marginals, hence a little below 10
    assert fidelity.inception_score(confident)[0] == pytest.approx(10, rel=0.06)
    one_class = torch.zeros(1000, 10).double()
    one_class[:, 3] = 30
    assert fidelity.inception_score(one_class)[0] == pytest.approx(1.0, abs=1e-3)


def test_duplicates_and_birthday_support():
    base = torch.randn(20, 8, generator=torch.Generator().manual_seed(0)) * 10
    rep = base[torch.arange(2000) % 20]
    d = duplicates.duplicates(rep, threshold=1e-3)
    assert d["duplicate_rate"] == 1.0 and d["distinct_outputs"] == 20
    assert d["support_estimate"] == pytest.approx(20, rel=0.05)
    fresh = duplicates.duplicates(torch.randn(500, 8) * 10, threshold=1e-3)
    assert fresh["duplicate_rate"] == 0 and fresh["support_estimate"] == math.inf
    assert fresh["support_lower_bound"] == 500 * 499 // 2


def test_memorization_copies_vs_new():
    train = torch.randn(400, 16)
    held = torch.randn(200, 16)
    h2t = knn.nearest_neighbours(held, train)[0]
    copies = memorization.memorization(knn.nearest_neighbours(train[:300], train)[0], h2t)
    fresh = memorization.memorization(knn.nearest_neighbours(torch.randn(300, 16), train)[0], h2t)
    assert copies["copy_share"] == 1.0 and copies["distance_ratio"] < 0.01
    assert fresh["copy_share"] < 0.05 and 0.8 < fresh["distance_ratio"] < 1.25


def test_mode_metrics_known_histograms():
    ref = np.full(10, 100)
    even = modes.mode_metrics(torch.arange(1000) % 10, ref, 10)
    assert even["modes_hit"] == 10 and even["kl"] < 1e-3 and even["ndb_k"] == 0
    assert even["effective_modes"] == pytest.approx(10, rel=1e-6)
    three = modes.mode_metrics(torch.arange(900) % 3, ref, 10)
    assert three["modes_hit"] == 3 and three["kl"] == pytest.approx(math.log(10 / 3), rel=0.01)
    assert three["ndb_k"] == 1.0 and three["effective_modes"] == pytest.approx(3, rel=1e-6)


def test_kmeans_bins_assign_clusters():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = centres[torch.arange(300) % 3] + 0.1 * torch.randn(300, 2, generator=g)
    bins = modes.fit_bins(x, 3)
    lab = modes.assign_bins(x, bins)
    assert len(torch.unique(lab)) == 3 and modes.effective_modes(modes.histogram(lab, 3)) > 2.99


def test_mixture_metrics_veegan_definitions():
    from diagnose.data.sources import mixture_centres

    c, std = mixture_centres("ring8")
    pts = c[torch.arange(800) % 8] + std * torch.randn(800, 2)
    m = mixtures.mixture_metrics(pts, c, std)
    assert m["modes_captured"] == 8 and m["high_quality"] > 0.95
    # points halfway between two centres are low quality and capture nothing
    mid = (c + c.roll(1, 0)) / 2
    m2 = mixtures.mixture_metrics(torch.cat([mid, c[:2]]), c, std)
    assert m2["modes_captured"] == 2 and m2["high_quality"] == pytest.approx(2 / 10)


def test_latent_profile_collapsed_vs_spread():
    lat = lambda n, s: torch.randn(n, 4, generator=torch.Generator().manual_seed(s))  # noqa: E731
    healthy = latent.latent_distance_profile(lambda z: z * 3, lat, real_pair_distance=3 * math.sqrt(8))
    const = latent.latent_distance_profile(lambda z: torch.zeros(len(z), 4), lat, real_pair_distance=1.0)
    assert healthy["spearman"] > 0.95 and 0.7 < healthy["spread"] < 1.3
    assert const["spread"] == 0 and math.isnan(const["spearman"])


def test_range_check():
    assert ranges.range_check(-1.0, 1.0, (0.0, 1.0))["mismatch"]          # report 003
    assert ranges.range_check(0.0, 1.0, (-1.0, 1.0))["mismatch"]          # the reverse
    assert not ranges.range_check(-1.0, 0.99, (-1.0, 1.0))["mismatch"]
    assert not ranges.range_check(-1.0, 0.2, (-1.0, 1.0))["mismatch"]     # dim, not mismatched
    # a collapsed near-constant grey output is a diversity problem, not another scale
    assert not ranges.range_check(-0.088, 0.04, (-1.0, 1.0))["mismatch"]
    assert not ranges.range_check(-1.0, 1.0, None)["checked"]


def test_stage_cache_hits_and_keys(tmp_path):
    from diagnose.analysis.cache import StageCache, hash_inputs

    calls = []
    c = StageCache(tmp_path)
    f = lambda: calls.append(1) or {"x": torch.ones(2), "s": "a"}  # noqa: E731
    a = c.get_or_compute("stage", {"n": 1}, f)
    b = c.get_or_compute("stage", {"n": 1}, f)
    c.get_or_compute("stage", {"n": 2}, f)
    assert len(calls) == 2 and torch.equal(a["x"], b["x"]) and b["s"] == "a"
    assert hash_inputs({"a": 1, "b": 2}) == hash_inputs({"b": 2, "a": 1})
    assert not list(tmp_path.rglob("*.tmp"))


def test_ndb_on_too_many_modes_needs_coarser_bins():
    """1,000 modes at n = 1,000: per-mode NDB scores a generator stuck on 3 modes better than
    real data; over bins with enough expected samples it scores far worse."""
    from diagnose.analysis.reference import ndb_bin_count

    g = torch.Generator().manual_seed(0)
    ref_counts = np.full(1000, 20)                       # a uniform training histogram
    real = torch.randint(0, 1000, (1000,), generator=g)   # held-out real data at n = 1,000
    stuck = torch.tensor([3, 500, 900]).repeat_interleave(334)[:1000]
    per_mode_real = modes.mode_metrics(real, ref_counts, 1000)["ndb_k"]
    per_mode_stuck = modes.mode_metrics(stuck, ref_counts, 1000)["ndb_k"]
    assert per_mode_stuck < per_mode_real            # the defect the coarser bins fix
    k = ndb_bin_count(1000, 1000)
    assert k == 50 and ndb_bin_count(10, 1000) is None
    coarse = lambda lab: lab // (1000 // k)          # noqa: E731  (50 bins of 20 modes)
    ref_coarse = np.full(k, 400)
    real_k = modes.mode_metrics(real, ref_counts, 1000, coarse(real), ref_coarse)
    stuck_k = modes.mode_metrics(stuck, ref_counts, 1000, coarse(stuck), ref_coarse)
    assert stuck_k["ndb_k"] > 0.9 and real_k["ndb_k"] < 0.2 and stuck_k["ndb_bins"] == k


def _block_ref(n_ref, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    train = torch.randn(4000, d, generator=g)
    return {"train_features": train, "fid_stats": fidelity.fid_statistics(train),
            "dup_threshold": 0.05, "train_counts": np.full(10, 400), "n_modes": 10,
            "n_ref": n_ref}


def test_judged_statistics_do_not_drift_with_n():
    """A generator with 1,000 distinct outputs: its duplicate rate over all n samples grows from
    ~0.6 (n = 1,000) to ~1 (n = 10,000); judged in blocks of the panel's n it stays put."""
    from diagnose.analysis import blocks

    ref = _block_ref(1000)
    g = torch.Generator().manual_seed(1)
    support = torch.randn(1000, 8, generator=g)
    rates, full, supports = [], [], []
    for n in (1000, 5000, 10000):
        idx = torch.randint(0, 1000, (n,), generator=g)
        f = support[idx]
        labels = idx % 10
        j = blocks.judged(f, labels, None, None, ref, k=5)
        rates.append(j["duplicates"]["duplicate_rate"])
        supports.append(j["duplicates"]["support_estimate"])
        full.append(duplicates.duplicates(f, 0.05)["duplicate_rate"])
        assert j["n"] == 1000 and j["blocks"] == min(10, n // 1000)
    assert full[-1] > 0.99 and full[0] < 0.7                     # the raw rate drifts...
    assert max(rates) - min(rates) < 0.05                        # ...the judged one does not
    assert all(700 < s < 1400 for s in supports)                 # birthday estimate ~ 1,000


def test_rank_correlation_and_normal_p_equal_scipy():
    """The scipy.stats-free Spearman and two-sided normal p-values give scipy's numbers, ties and
    extreme z included (they replace scipy.stats only to keep its import out of every check)."""
    import numpy as np
    from scipy.stats import norm, spearmanr

    from diagnose.metrics.latent import spearman
    from diagnose.metrics.modes import two_sided_normal_p

    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    y = 0.3 * x + rng.normal(size=500)
    assert abs(spearman(x, y) - spearmanr(x, y).statistic) < 1e-12
    xt, yt = np.round(x, 1), np.round(y, 0)            # many ties
    assert abs(spearman(xt, yt) - spearmanr(xt, yt).statistic) < 1e-12
    assert np.isnan(spearman(np.ones(5), np.arange(5.0)))
    z = np.array([0.0, 0.5, -1.96, 3.0, -8.0, 40.0])
    np.testing.assert_allclose(two_sided_normal_p(z), 2 * norm.sf(np.abs(z)), rtol=1e-12, atol=0)
