"""Memory: generating samples and extracting features stream in batches.

Streaming is checked by counting how many generated batches are alive at once (weak references),
which does not depend on the machine; the peak resident memory of ``diagnose check`` is measured
in a subprocess (``resource.getrusage``) at two sample counts and extrapolated to 50,000.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import weakref

import pytest
import torch

from badinputs import lib as B

HAVE_LOADING = B.importable("diagnose.generators.load", "diagnose.features")
HAVE_CHECK = B.importable("diagnose.generators.load", "diagnose.analysis.pipeline", "diagnose.commands.check")


class ImgG(torch.nn.Module):
    """A 28x28 image generator small enough to sample tens of thousands of images fast."""

    latent_dim = 16

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(16, 784)

    def forward(self, z):
        return torch.tanh(self.net(z.flatten(1))).view(-1, 1, 28, 28)


class Tracker:
    """Wraps an iterator of tensors and records the most of them alive at any moment."""

    def __init__(self, it):
        self.it, self.alive, self.peak, self.count = it, 0, 0, 0

    def _gone(self):
        self.alive -= 1

    def __iter__(self):
        for x in self.it:
            self.alive += 1
            self.count += 1
            self.peak = max(self.peak, self.alive)
            weakref.finalize(x, self._gone)
            yield x
            del x


@pytest.mark.skipif(not HAVE_LOADING, reason="diagnose.generators.load / diagnose.features not importable yet")
def test_sampling_and_feature_extraction_stream():
    from diagnose.features import get_extractor
    from diagnose.generators.load import wrap_generator

    loaded = wrap_generator(ImgG())
    tr = Tracker(loaded.sample(3000, batch_size=250))
    out = get_extractor("mnist-lenet", "cpu").extract(iter(tr), progress=False)
    assert out["features"].shape[0] == 3000 and tr.count == 12
    assert tr.peak <= 2, f"{tr.peak} generated batches alive at once: samples are not streamed"


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_CHECK, reason="diagnose.analysis (check pipeline) not importable yet")
def test_check_pipeline_streams_generated_batches(monkeypatch):
    """``check``'s pipeline keeps features, not every generated image: at 50,000 samples of
    64x64 RGB the images alone would be 2.4 GB (twice that with a filtered copy)."""
    from diagnose.analysis.judge import check_generator
    from diagnose.generators.load import wrap_generator

    loaded = wrap_generator(ImgG())
    trackers = []
    real_sample = loaded.sample

    def tracked(n, batch_size=500, seed=0):
        trackers.append(Tracker(real_sample(n, batch_size=batch_size, seed=seed)))
        return iter(trackers[-1])

    monkeypatch.setattr(loaded, "sample", tracked)
    check_generator(loaded, "mnist", n_samples=4000, progress=False, kid_subsets=5)
    tr = trackers[0]
    assert tr.count == 8
    # the current batch, the one the extractor just finished, and the first (the sample grid)
    assert tr.peak <= 3, (f"{tr.peak} of {tr.count} generated batches alive at once: "
                          "check holds every generated sample in memory")


_PROBE = textwrap.dedent('''
    import json, resource, sys, torch
    sys.path.insert(0, {tests!r})
    from test_reliability_memory import ImgG
    from diagnose.analysis.judge import check_generator
    from diagnose.generators.load import wrap_generator
    torch.manual_seed(0)
    torch.set_num_threads(1)
    check_generator(wrap_generator(ImgG()), "mnist", n_samples={n}, progress=False, kid_subsets=5)
    print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
''')


def peak_rss_of_check(n: int, cache) -> int:
    """Peak resident bytes of a fresh process that runs check's pipeline on ``n`` samples."""
    from pathlib import Path

    code = _PROBE.format(tests=str(Path(__file__).parent), n=n)
    env = {"GAN_DIAGNOSE_CACHE": str(cache), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=280,
                       env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return int(json.loads(r.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.skipif(not HAVE_CHECK, reason="diagnose.analysis (check pipeline) not importable yet")
def test_check_peak_rss_extrapolated_to_50k_stays_under_3gb(tmp_path):
    """Peak RSS of check's pipeline in fresh processes at 1,000 and 8,000 samples; the growth per
    sample, extrapolated linearly to 50,000, must stay under 3 GB in all."""
    n1, n2 = 1000, 8000
    p1, p2 = peak_rss_of_check(n1, tmp_path), peak_rss_of_check(n2, tmp_path)
    per_sample = max(0.0, (p2 - p1) / (n2 - n1))
    at_50k = p2 + per_sample * (50_000 - n2)
    print(f"peak RSS {p1 / 2**20:.0f} MiB at {n1}, {p2 / 2**20:.0f} MiB at {n2}; "
          f"{per_sample / 1024:.1f} KiB/sample; extrapolated {at_50k / 2**30:.2f} GiB at 50,000")
    assert at_50k < 3 * 2**30
