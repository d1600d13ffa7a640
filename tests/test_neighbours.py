"""The one k-NN pass of a check (metrics.neighbours) gives exactly what the separate functions
give: prdc and duplicates on the whole set, and on each judged block against the first real rows."""
import pytest
import torch

from diagnose.metrics import duplicates as dup
from diagnose.metrics import knn
from diagnose.metrics.neighbours import neighbour_statistics

KEYS = ("precision", "recall", "density", "coverage")


def _sets(n_fake, n_real, dim, seed, copies=0):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n_real, dim, generator=g)
    fake = 1.1 * torch.randn(n_fake, dim, generator=g) + 0.1
    if copies:   # some exact and some near repeats, so the duplicate counts are not all zero
        fake[-copies:] = fake[:copies] + 1e-3 * torch.randn(copies, dim, generator=g)
        fake[copies:2 * copies] = fake[:copies]
    return real, fake


def _same(got: dict, want: dict):
    for m in KEYS:
        assert got["prdc"][m] == pytest.approx(want["prdc"][m], abs=1e-12), m
    assert torch.allclose(got["prdc"]["nn_dist"], want["prdc"]["nn_dist"], atol=1e-5)
    assert torch.equal(got["prdc"]["nn_index"], want["prdc"]["nn_index"])
    assert got["duplicates"] == want["duplicates"]


@pytest.mark.parametrize("dim,chunk", [(32, None), (32, 37), (2, 50)])
def test_one_pass_equals_the_separate_functions(dim, chunk):
    real, fake = _sets(730, 400, dim, seed=dim, copies=40)
    thr = 0.5 if dim > 8 else 0.05
    radii = knn.kth_neighbour_radii(real, 5)
    got = neighbour_statistics(real, fake, k=5, dup_threshold=thr, real_radii=radii, block=200,
                               n_blocks=3, chunk=chunk)
    _same(got, {"prdc": knn.prdc(real, fake, k=5), "duplicates": dup.duplicates(fake, thr)})
    assert got["duplicates"]["duplicate_pairs"] > 0
    assert len(got["blocks"]) == 3
    for b, block in enumerate(got["blocks"]):
        rows = fake[b * 200:(b + 1) * 200]
        _same(block, {"prdc": knn.prdc(real[:200], rows, k=5),
                      "duplicates": dup.duplicates(rows, thr)})


def test_no_blocks_and_bad_blocks():
    real, fake = _sets(120, 90, 16, seed=1)
    got = neighbour_statistics(real, fake, k=3, dup_threshold=0.1)
    assert got["blocks"] == []
    _same(got, {"prdc": knn.prdc(real, fake, k=3), "duplicates": dup.duplicates(fake, 0.1)})
    with pytest.raises(ValueError):
        neighbour_statistics(real, fake, k=3, dup_threshold=0.1, block=100, n_blocks=2)


def test_chunks_stay_bounded(monkeypatch):
    """No distance block larger than the cap: memory does not grow as n x n."""
    seen = []
    real_sd = knn.squared_distances

    def spy(a, b, **kw):
        seen.append(len(a) * len(b))
        return real_sd(a, b, **kw)

    import diagnose.metrics.neighbours as nb

    monkeypatch.setattr(nb, "squared_distances", spy)
    monkeypatch.setattr(knn, "BLOCK_ELEMENTS", 600 * 50)
    real, fake = _sets(600, 300, 16, seed=2)
    neighbour_statistics(real, fake, k=5, dup_threshold=0.1, block=100, n_blocks=6)
    assert seen and max(seen) <= 600 * 50


def test_many_duplicates_per_row_are_all_counted():
    """Rows with more near-duplicates than the k-NN lists hold are scanned in full: a generator
    stuck on a few outputs gets the same counts as from the dense duplicates function."""
    real, fake = _sets(300, 200, 24, seed=3)
    fake[:150] = fake[torch.arange(150) % 7]           # 7 outputs repeated ~21 times each
    got = neighbour_statistics(real, fake, k=5, dup_threshold=0.3, block=100, n_blocks=3)
    want = dup.duplicates(fake, 0.3)
    assert got["duplicates"] == want and want["distinct_outputs"] <= 300 - 150 + 7
    for b in range(3):
        assert got["blocks"][b]["duplicates"] == dup.duplicates(fake[b * 100:(b + 1) * 100], 0.3)
