"""KID with the real side's kernel sums stored (as a check keeps them with its reference) gives
the value computed from scratch, and the stored sums are read back from the stage cache."""
import torch

from diagnose.analysis.cache import StageCache
from diagnose.analysis.pipeline import _kid_real_sums
from diagnose.analysis.protocols import CheckConfig
from diagnose.metrics import fidelity


def _feats(n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(n, 48, generator=g) + shift)


def test_stored_second_sums_give_the_same_kid():
    a, b = _feats(2500, 0.0, 1), _feats(1200, 0.2, 2)
    sums = fidelity.kid_second_sums(b, len(a), subsets=15, subset_size=400)
    assert sums.shape == (15,) and sums.dtype == torch.float64
    assert fidelity.kid(a, b, 15, 400, second_sums=sums) == fidelity.kid(a, b, 15, 400)


def test_real_sums_are_cached_per_reference_and_size(tmp_path, monkeypatch):
    cache = StageCache(tmp_path)
    real = _feats(900, 0.1, 3)
    cfg = CheckConfig(kid_subsets=6)
    ref = {"cache_key": "abc"}
    first = _kid_real_sums(ref, real, 1200, cfg, cache)
    calls = []
    monkeypatch.setattr(fidelity, "kid_second_sums", lambda *a, **k: calls.append(a))
    assert torch.equal(_kid_real_sums(ref, real, 1200, cfg, cache), first)    # read back
    assert not calls
    _kid_real_sums(ref, real, 1300, cfg, cache)       # another n draws other subsets
    assert len(calls) == 1
    assert _kid_real_sums({}, real, 1200, cfg, cache) is None        # not a cached reference
    assert _kid_real_sums(ref, real, 1200, cfg, StageCache(False)) is None
