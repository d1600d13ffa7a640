"""Speed of `diagnose check` against torch-fidelity, and of our chunked k-NN against prdc.

Part 1, in one run: torch-fidelity's ``calculate_metrics(isc, fid, kid, prc)`` alone on N
generated digits vs the embedded MNIST training set with mnist-lenet features, then our full check
(FID, IS, KID, precision/recall/density/coverage, memorization, duplicates, modes, latent profile,
the real-data reference panel and the verdict) on the same samples: once with a cold reference
cache (features of the real data extracted, as torch-fidelity does every call) and once warm.
Part 2: precision/recall/density/coverage on N x N random features of dim D, ours vs
``prdc.compute_prdc``: time and peak memory, each in a fresh subprocess (peak RSS above the
process's resident size just before the call, via /proc/self/status VmHWM after a reset).

    .venv/bin/python benchmarks/check_speed.py            # the issue's sizes (10k, 10k x 10k x 128)
    .venv/bin/python benchmarks/check_speed.py --quick    # small sizes, a minute or two
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def knn_worker(which: str, n: int, dim: int, device: str = "cpu") -> dict:
    """Run one k-NN implementation in this process; return seconds and peak extra memory (MB).

    device "cuda" runs ours on the GPU (peak = torch's max allocated GPU memory); prdc is numpy.
    """
    import numpy as np
    import torch

    g = np.random.default_rng(0)
    real = g.standard_normal((n, dim), dtype=np.float32)
    fake = (1.2 * g.standard_normal((n, dim)) + 0.1).astype(np.float32)
    if which == "ours":
        from diagnose.metrics.knn import prdc as run

        rt, ft = torch.from_numpy(real).to(device), torch.from_numpy(fake).to(device)

        def call():
            out = run(rt, ft, k=5)
            if device == "cuda":
                torch.cuda.synchronize()
            return out
        if device == "cuda":  # warm-up: CUDA context and kernels, not part of the timing
            run(rt[:100], ft[:100], k=5)
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
    else:
        from prdc import compute_prdc

        call = lambda: compute_prdc(real, fake, nearest_k=5)  # noqa: E731
    base = _status_kb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to now
    except OSError:
        pass
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        out = call()
    secs = time.perf_counter() - t
    peak = max(0, _status_kb("VmHWM") - base) / 1024
    if which == "ours" and device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20 - 2 * real.nbytes / 2**20
    vals = {k: float(out[k]) for k in ("precision", "recall", "density", "coverage")}
    return {"which": which, "seconds": secs, "peak_mb": peak, "device": device, **vals}


def knn_compare(n: int, dim: int, device: str = "cpu") -> dict:
    """Both implementations, each in a fresh subprocess."""
    res = {}
    for which in ("ours", "prdc"):
        cmd = [sys.executable, __file__, "--knn-worker", which, "--knn-n", str(n), "--knn-dim",
               str(dim), "--knn-device", device if which == "ours" else "cpu"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        res[which] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def fidelity_vs_check(n: int, kid_subsets: int) -> dict:
    """torch-fidelity calculate_metrics vs our check on the same n generated digits."""
    import torch
    import torch_fidelity

    from diagnose.analysis.cache import StageCache
    from diagnose.analysis.groundtruth import Warp, _digits
    from diagnose.analysis.pipeline import check_generator
    from diagnose.analysis.reference import load_split
    from diagnose.features import register_with_fidelity
    from diagnose.loading import wrap_generator

    register_with_fidelity()
    torch.manual_seed(0)
    gen = wrap_generator(Warp(_digits("test")[0]))
    fake = torch.cat(list(gen.sample(n, batch_size=500, seed=0)))       # exactly what check sees
    real = load_split("mnist", "train").get()

    class U8(torch.utils.data.Dataset):
        def __init__(self, x):
            self.x = (x * 255).round().clamp(0, 255).to(torch.uint8)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    t = time.perf_counter()
    tf = torch_fidelity.calculate_metrics(
        input1=U8(fake), input2=U8(real), isc=True, fid=True, kid=True, prc=True,
        feature_extractor="mnist-lenet", cuda=False, cache=False, verbose=False,
        batch_size=500, prc_neighborhood=5, kid_subsets=kid_subsets,
        kid_subset_size=min(1000, len(real)))
    t_tf = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        cache = StageCache(d)
        t = time.perf_counter()
        v = check_generator(gen, "mnist", n_samples=n, progress=False, cache=cache,
                            kid_subsets=kid_subsets)
        t_cold = time.perf_counter() - t
        t = time.perf_counter()
        check_generator(gen, "mnist", n_samples=n, progress=False, cache=cache, kid_subsets=kid_subsets)
        t_warm = time.perf_counter() - t
    m = v["metrics"]
    return {"n": n, "torch_fidelity_s": t_tf, "check_cold_s": t_cold, "check_warm_s": t_warm,
            "fid": {"torch_fidelity": tf["frechet_inception_distance"], "ours": m["fid"]["value"]},
            "precision": {"torch_fidelity": tf["precision"], "ours": m["precision"]["value"]},
            "recall": {"torch_fidelity": tf["recall"], "ours": m["recall"]["value"]},
            "isc": {"torch_fidelity": tf["inception_score_mean"], "ours": m["inception_score"]["value"]},
            "kid": {"torch_fidelity": tf["kernel_inception_distance_mean"], "ours": m["kid"]["value"]},
            "verdict": v["verdict"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-gen", type=int, default=10_000, help="generated samples (part 1)")
    p.add_argument("--knn-n", type=int, default=10_000, help="rows per set (part 2)")
    p.add_argument("--knn-dim", type=int, default=128, help="feature dimension (part 2)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets, both sides")
    p.add_argument("--quick", action="store_true", help="n-gen 2000, knn-n 3000")
    p.add_argument("--skip-check", action="store_true", help="only part 2")
    p.add_argument("--knn-device", default="cpu", choices=("cpu", "cuda"),
                   help="where our k-NN runs (prdc is CPU/numpy only)")
    p.add_argument("--knn-worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.knn_worker:
        print(json.dumps(knn_worker(a.knn_worker, a.knn_n, a.knn_dim, a.knn_device)))
        return
    if a.quick:
        a.n_gen, a.knn_n = 2000, 3000
    print(f"torch threads: {__import__('torch').get_num_threads()}, cpus: {os.cpu_count()}")
    if not a.skip_check:
        r = fidelity_vs_check(a.n_gen, a.kid_subsets)
        print(f"[check] n={r['n']} mnist-lenet, KID subsets {a.kid_subsets}")
        print(f"  torch-fidelity calculate_metrics(isc,fid,kid,prc): {r['torch_fidelity_s']:.1f} s")
        print(f"  diagnose check, cold reference cache:            {r['check_cold_s']:.1f} s "
              f"(ratio {r['check_cold_s'] / r['torch_fidelity_s']:.2f}x)")
        print(f"  diagnose check, warm reference cache:            {r['check_warm_s']:.1f} s "
              f"(ratio {r['check_warm_s'] / r['torch_fidelity_s']:.2f}x, target <= 0.5x)")
        for k in ("fid", "isc", "kid", "precision", "recall"):
            print(f"  {k:<10} torch-fidelity {r[k]['torch_fidelity']:.5g}  ours {r[k]['ours']:.5g}")
    k = knn_compare(a.knn_n, a.knn_dim, a.knn_device)
    o, q = k["ours"], k["prdc"]
    print(f"[knn] {a.knn_n} x {a.knn_n}, dim {a.knn_dim}, k=5; ours on {a.knn_device}, prdc on cpu")
    print(f"  ours {o['seconds']:.2f} s, peak +{o['peak_mb']:.0f} MB; prdc {q['seconds']:.2f} s, "
          f"peak +{q['peak_mb']:.0f} MB")
    print(f"  speed-up {q['seconds'] / o['seconds']:.1f}x (target >= 4x), memory ratio "
          f"{o['peak_mb'] / max(q['peak_mb'], 1e-9):.2f}x (target <= 0.6x)")
    same = all(abs(o[m] - q[m]) < 1e-6 for m in ("precision", "recall", "density", "coverage"))
    print(f"  same numbers as prdc: {same}")


if __name__ == "__main__":
    main()
