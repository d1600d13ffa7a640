"""Speed of `diagnose check` against torch-fidelity, as a user sees it, and where the time goes.

Sections (each prints the load average and the date with its numbers):

  process   (default) torch-fidelity's ``calculate_metrics(isc, fid, kid, prc)`` in its own
            process on N generated digits saved as PNGs, against ``diagnose check`` in its own
            process on the TorchScript generator that made them (warm reference cache on our
            side; torch-fidelity's own feature cache warm for the real digits on its side), both
            with our mnist-lenet extractor, ALTERNATING, ``--pairs`` pairs; median ratio.
  inproc    the same two computations in one process, the old in-process figure.
  features  the feature pass against the floor: the bare ``torch.inference_mode()`` loop of the
            plain network over pre-made batches; both against the measured matmul GFLOP/s.
  kid       our batched KID against torch-fidelity's loop, time and value.
  startup   wall time and ``-X importtime`` total of each light verb and of ``check --help``.
  memory    time and peak RSS of ``diagnose check`` at each ``--sizes`` n, each in a fresh process.
  knn       precision/recall/density/coverage, ours against ``prdc``, time and peak memory.

    python benchmarks/check_speed.py                       # process pairs at n=10,000
    python benchmarks/check_speed.py --sections all --quick

Child processes run with bytecode caching on (``PYTHONPYCACHEPREFIX``), as an installed package
runs; the first, untimed run of each side fills that cache.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("process", "inproc", "features", "kid", "startup", "memory", "knn")


def stamp() -> str:
    """Load average and UTC date, printed beside every figure."""
    la = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"load {la}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"


def child_env(pycache: str | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def timed_child(cmd: list[str], env: dict) -> tuple[float, str]:
    """(wall seconds, stdout) of one child process."""
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=env, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed ({p.returncode}): {p.stderr[-2000:]}")
    return wall, p.stdout


# ---------------------------------------------------------------------------------- preparing
def prepare(workdir: Path, n: int) -> dict:
    """The TorchScript generator, its first n samples as PNGs, the real training digits as PNGs."""
    import torch
    from PIL import Image

    from diagnose.analysis.groundtruth import Warp, _digits
    from diagnose.analysis.reference import load_split
    from diagnose.generators.load import load_generator

    workdir.mkdir(parents=True, exist_ok=True)
    gen_path = workdir / "warp.pt"
    if not gen_path.is_file():
        import warnings

        torch.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.script(Warp(_digits("test")[0]).eval()).save(str(gen_path))
    fake_dir, real_dir = workdir / f"fake{n}", workdir / "real"

    def dump(batches, folder):
        folder.mkdir(exist_ok=True)
        i = 0
        for x in batches:
            u8 = (x.clamp(0, 1) * 255).round().to(torch.uint8)[:, 0].numpy()
            for img in u8:
                Image.fromarray(img, mode="L").save(folder / f"{i:06d}.png")
                i += 1
        return i

    if not (fake_dir / f"{n - 1:06d}.png").is_file():
        loaded = load_generator(gen_path)
        # The loader's samples in [0, 1]: exactly what check hands the extractor.
        dump(loaded.sample(n, batch_size=500, seed=0), fake_dir)
    if not real_dir.is_dir():
        real = load_split("mnist", "train").get()
        dump(real.split(500), real_dir)
    return {"gen": gen_path, "fake": fake_dir, "real": real_dir}


def tf_worker(fake: str, real: str, cache_root: str, kid_subsets: int) -> None:
    """One torch-fidelity process: import, register our extractor, calculate_metrics."""
    t0 = time.perf_counter()
    import torch_fidelity

    from diagnose.features import register_with_fidelity

    register_with_fidelity()
    m = torch_fidelity.calculate_metrics(
        input1=fake, input2=real, isc=True, fid=True, kid=True, prc=True,
        feature_extractor="mnist-lenet", cuda=False, verbose=False, batch_size=500,
        cache=True, cache_root=cache_root, input2_cache_name="gan-diagnose-bench-mnist-train",
        prc_neighborhood=5, kid_subsets=kid_subsets, kid_subset_size=1000, save_cpu_ram=True)
    print(json.dumps({"seconds": time.perf_counter() - t0, **{k: float(v) for k, v in m.items()}}))


def process_pairs(a, work: Path, env: dict) -> dict:
    files = prepare(work, a.n_gen)
    py = sys.executable
    tf_cmd = [py, __file__, "--tf-worker", str(files["fake"]), str(files["real"]),
              str(work / "tf-cache"), str(a.kid_subsets)]
    ours_cmd = [py, "-m", "diagnose", "check", str(files["gen"]), "--dataset", "mnist",
                "--n-samples", str(a.n_gen), "--out", str(work / "out"), "--json"]
    env = {**env, "GAN_DIAGNOSE_CACHE": str(work / "cache")}
    if not a.no_warmup:
        print("[process] warm-up: one untimed run of each (bytecode, both feature caches)", flush=True)
        timed_child(tf_cmd, env)
        timed_child(ours_cmd, env)
    rows = []
    for i in range(a.pairs):
        order = [("tf", tf_cmd), ("ours", ours_cmd)]
        if i % 2:
            order.reverse()
        got = {}
        for who, cmd in order:
            wall, out = timed_child(cmd, env)
            got[who] = (wall, out)
        rows.append((got["tf"][0], got["ours"][0], os.getloadavg()[0]))
        print(f"  pair {i + 1}: torch-fidelity {got['tf'][0]:.1f} s, ours {got['ours'][0]:.1f} s, "
              f"ratio {got['ours'][0] / got['tf'][0]:.2f}x ({stamp()})", flush=True)
    tf = json.loads(got["tf"][1].strip().splitlines()[-1])
    v = json.loads(got["ours"][1])
    m = v["metrics"]
    ratios = [o / t for t, o, _ in rows]
    print(f"[process] n={a.n_gen}: median torch-fidelity {statistics.median(r[0] for r in rows):.1f} s, "
          f"ours {statistics.median(r[1] for r in rows):.1f} s, median ratio "
          f"{statistics.median(ratios):.2f}x (target <= 0.5x); {stamp()}")
    for key, tk in (("fid", "frechet_inception_distance"), ("inception_score", "inception_score_mean"),
                    ("kid", "kernel_inception_distance_mean"), ("precision", "precision"),
                    ("recall", "recall")):
        print(f"  {key:<16} torch-fidelity {tf[tk]:.5g}  ours {m[key]['value']:.5g}")
    return {"ratios": ratios, "rows": rows}


# ---------------------------------------------------------------------------------- in process
def inproc(n: int, kid_subsets: int) -> None:
    """torch-fidelity calculate_metrics vs our check in one process on the same n samples."""
    import torch
    import torch_fidelity

    from diagnose.analysis.cache import StageCache
    from diagnose.analysis.groundtruth import Warp, _digits
    from diagnose.analysis.judge import check_generator
    from diagnose.analysis.reference import load_split
    from diagnose.features import register_with_fidelity
    from diagnose.generators.load import wrap_generator

    register_with_fidelity()
    torch.manual_seed(0)
    gen = wrap_generator(Warp(_digits("test")[0]))
    fake = torch.cat(list(gen.sample(n, batch_size=500, seed=0)))       # what check sees
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
        batch_size=500, prc_neighborhood=5, kid_subsets=kid_subsets, kid_subset_size=1000)
    t_tf = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        cache = StageCache(d)
        t = time.perf_counter()
        check_generator(gen, "mnist", n_samples=n, progress=False, cache=cache, kid_subsets=kid_subsets)
        t_cold = time.perf_counter() - t
        t = time.perf_counter()
        v = check_generator(gen, "mnist", n_samples=n, progress=False, cache=cache,
                            kid_subsets=kid_subsets)
        t_warm = time.perf_counter() - t
    m = v["metrics"]
    print(f"[inproc] n={n}: torch-fidelity {t_tf:.1f} s; ours cold reference {t_cold:.1f} s "
          f"({t_cold / t_tf:.2f}x), warm {t_warm:.1f} s ({t_warm / t_tf:.2f}x); {stamp()}")
    print(f"  fid {tf['frechet_inception_distance']:.5g} vs {m['fid']['value']:.5g}, IS "
          f"{tf['inception_score_mean']:.5g} vs {m['inception_score']['value']:.5g}, KID "
          f"{tf['kernel_inception_distance_mean']:.5g} vs {m['kid']['value']:.5g}, precision "
          f"{tf['precision']:.4f} vs {m['precision']['value']:.4f}, recall {tf['recall']:.4f} vs "
          f"{m['recall']['value']:.4f}")


# ---------------------------------------------------------------------------------- features
def matmul_gflops(size: int = 2048, reps: int = 5) -> float:
    """Measured float32 matmul throughput of this machine right now (GFLOP/s)."""
    import torch

    a = torch.randn(size, size)
    a @ a
    t = time.perf_counter()
    for _ in range(reps):
        a @ a
    return 2 * size ** 3 * reps / (time.perf_counter() - t) / 1e9


def features(n: int, rounds: int = 3) -> None:
    """Our extractor's pass vs the bare inference_mode loop of the plain network (the floor)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from diagnose.features import get_extractor
    from diagnose.features.mnist_lenet import load_lenet, standardise

    x = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    net = load_lenet()
    with FlopCounterMode(display=False) as fc, torch.inference_mode():
        net.head(net.embed(standardise(x[:1])))
    flops = fc.get_total_flops()
    ext = get_extractor("mnist-lenet")
    batches = list(x.split(500))

    def floor():
        with torch.inference_mode():
            for b in batches:
                net.head(net.embed(standardise(b)))

    def ours():
        ext.extract(iter(batches), progress=False)

    res = {"floor": [], "ours": []}
    floor(), ours()
    for _ in range(rounds):
        for name, f in (("floor", floor), ("ours", ours)):
            t = time.perf_counter()
            f()
            res[name].append(n / (time.perf_counter() - t))
    gf = matmul_gflops()
    fl, ou = statistics.median(res["floor"]), statistics.median(res["ours"])
    print(f"[features] mnist-lenet, {flops / 1e6:.1f} MFLOP/image, n={n}, median of {rounds} "
          f"alternating rounds; {stamp()}")
    print(f"  bare inference_mode loop (plain network, batch 500): {fl:,.0f} img/s = "
          f"{fl * flops / 1e9:.1f} GFLOP/s")
    print(f"  ours (extract: folded BatchNorm, channels-last, {ext.infer_batch}-row calls): "
          f"{ou:,.0f} img/s = {ou * flops / 1e9:.1f} GFLOP/s ({ou / fl:.2f}x the floor)")
    print(f"  matmul 2048^2 float32 right now: {gf:.1f} GFLOP/s")
    for bs in (64, 128, 256, 512):
        ext.infer_batch = bs
        t = time.perf_counter()
        ours()
        print(f"  infer_batch {bs:>4}: {n / (time.perf_counter() - t):,.0f} img/s")


# ---------------------------------------------------------------------------------- KID
def kid_compare(n: int, subsets: int) -> None:
    import torch
    from torch_fidelity.metric_kid import kid_features_to_metric

    from diagnose.metrics import fidelity

    g = torch.Generator().manual_seed(0)
    a = torch.relu(torch.randn(n, 128, generator=g)) * 2
    b = torch.relu(torch.randn(4000, 128, generator=g) + 0.05) * 2
    t = time.perf_counter()
    tf = kid_features_to_metric(a, b, kid_subsets=subsets, kid_subset_size=1000, rng_seed=2020,
                                verbose=False)
    t_tf = time.perf_counter() - t
    t = time.perf_counter()
    ours = fidelity.kid(a, b, subsets=subsets, subset_size=1000)
    t_ours = time.perf_counter() - t
    print(f"[kid] {subsets} subsets of 1000, dim 128, n {n} vs 4000: torch-fidelity {t_tf:.2f} s "
          f"({tf['kernel_inception_distance_mean']:.7g} +- {tf['kernel_inception_distance_std']:.3g}), "
          f"ours {t_ours:.2f} s ({ours[0]:.7g} +- {ours[1]:.3g}); {t_tf / t_ours:.1f}x faster; {stamp()}")


# ---------------------------------------------------------------------------------- start-up
def startup(env: dict, work: Path) -> None:
    log = work / "small.log"
    log.write_text("".join(f"epoch=1 it={i * 100} lossD={0.4 + 0.01 * (i % 5):.2f} "
                           f"lossG={2.9 - 0.02 * i:.2f}\n" for i in range(1, 60)))
    verbs = [["--help"], ["data"], ["features", "list"], ["experiments"], ["logs", str(log)],
             ["check", "--help"]]
    print(f"[startup] wall of the whole command / sum of -X importtime (first level); {stamp()}")
    for argv in verbs:
        cmd = [sys.executable, "-X", "importtime", "-m", "diagnose", *argv]
        subprocess.run(cmd, env=env, capture_output=True)          # bytecode warm
        walls, imps = [], []
        for _ in range(3):
            t = time.perf_counter()
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            walls.append(time.perf_counter() - t)
            imps.append(sum(int(ln.split("|")[1]) for ln in r.stderr.splitlines()
                            if ln.startswith("import time:") and "|" in ln
                            and ln.split("|")[1].strip().isdigit()
                            and not ln.split("|")[2].startswith("  ")) / 1e6)
        print(f"  diagnose {' '.join(a if '/' not in a else 'small.log' for a in argv):<16} "
              f"wall {statistics.median(walls):.2f} s, imports {statistics.median(imps):.2f} s")


# ---------------------------------------------------------------------------------- memory
def memory(env: dict, work: Path, sizes: list[int]) -> None:
    files = prepare(work, 20)
    env = {**env, "GAN_DIAGNOSE_CACHE": str(work / "cache")}
    print("[memory] diagnose check at each n, each in a fresh process (peak RSS of that process)")
    for n in sizes:
        cmd = [sys.executable, __file__, "--rss-worker", str(files["gen"]), str(n), str(work / "out")]
        t = time.perf_counter()
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
        got = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"  n={n:>6,}: {wall:.1f} s, peak RSS {got['peak_mb']:,.0f} MB, reference cache "
              f"{'warm' if got['warm'] else 'cold (computed in this run)'}; {stamp()}", flush=True)


def rss_worker(gen: str, n: str, out: str) -> None:
    import resource

    from diagnose.analysis.cache import default_cache_dir
    from diagnose.cli import main

    before = set(default_cache_dir().rglob("*.pt")) if default_cache_dir().is_dir() else set()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["check", gen, "--dataset", "mnist", "--n-samples", n, "--out", out, "--json"])
    after = set(default_cache_dir().rglob("*.pt"))
    print(json.dumps({"code": code, "warm": after == before,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


# ---------------------------------------------------------------------------------- k-NN
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


def knn_compare(n: int, dim: int, device: str = "cpu") -> None:
    """Both implementations, each in a fresh subprocess."""
    res = {}
    for which in ("ours", "prdc"):
        cmd = [sys.executable, __file__, "--knn-worker", which, "--knn-n", str(n), "--knn-dim",
               str(dim), "--knn-device", device if which == "ours" else "cpu"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        res[which] = json.loads(out.stdout.strip().splitlines()[-1])
    o, q = res["ours"], res["prdc"]
    print(f"[knn] {n} x {n}, dim {dim}, k=5; ours on {device}, prdc on cpu; {stamp()}")
    print(f"  ours {o['seconds']:.2f} s, peak +{o['peak_mb']:.0f} MB; prdc {q['seconds']:.2f} s, "
          f"peak +{q['peak_mb']:.0f} MB; speed-up {q['seconds'] / o['seconds']:.1f}x")
    same = all(abs(o[m] - q[m]) < 1e-6 for m in ("precision", "recall", "density", "coverage"))
    print(f"  same numbers as prdc: {same}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", default="process,inproc",
                   help=f"comma-separated, or all: {', '.join(SECTIONS)}")
    p.add_argument("--n-gen", type=int, default=10_000, help="generated samples")
    p.add_argument("--pairs", type=int, default=3, help="alternating process pairs (>= 3)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets, both sides")
    p.add_argument("--sizes", default="1000,10000,50000", help="n for the memory section")
    p.add_argument("--knn-n", type=int, default=10_000, help="rows per set (knn)")
    p.add_argument("--knn-dim", type=int, default=128, help="feature dimension (knn)")
    p.add_argument("--knn-device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--work", default=None, help="folder for the generator, PNGs and caches "
                   "(default: a temporary folder)")
    p.add_argument("--pycache", default=None, help="bytecode cache of the child processes "
                   "(default: <work>/pycache)")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed first runs (the "
                   "--work folder's caches are already warm)")
    p.add_argument("--quick", action="store_true", help="n-gen 2000, knn-n 3000, sizes 1000,2000")
    p.add_argument("--knn-worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--tf-worker", nargs=4, default=None, help=argparse.SUPPRESS)
    p.add_argument("--rss-worker", nargs=3, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.knn_worker:
        print(json.dumps(knn_worker(a.knn_worker, a.knn_n, a.knn_dim, a.knn_device)))
        return
    if a.tf_worker:
        tf_worker(*a.tf_worker[:3], int(a.tf_worker[3]))
        return
    if a.rss_worker:
        rss_worker(*a.rss_worker)
        return
    if a.quick:
        a.n_gen, a.knn_n, a.sizes = 2000, 3000, "1000,2000"
    sections = SECTIONS if a.sections == "all" else tuple(s.strip() for s in a.sections.split(","))
    with contextlib.ExitStack() as stack:
        work = Path(a.work) if a.work else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env = child_env(a.pycache or str(work / "pycache"))
        print(f"cpus {os.cpu_count()}; {stamp()}")
        if "process" in sections:
            process_pairs(a, work, env)
        if "inproc" in sections:
            inproc(a.n_gen, a.kid_subsets)
        if "features" in sections:
            features(a.n_gen)
        if "kid" in sections:
            kid_compare(a.n_gen, a.kid_subsets)
        if "startup" in sections:
            startup(env, work)
        if "memory" in sections:
            memory(env, work, [int(s) for s in a.sizes.split(",")])
        if "knn" in sections:
            knn_compare(a.knn_n, a.knn_dim, a.knn_device)


if __name__ == "__main__":
    main()
