"""Every GPU figure in one go, into one file: run this when a GPU is lent.

    python benchmarks/gpu_all.py [--out gpu_figures.txt] [--budget 570]
    python benchmarks/gpu_all.py --device cpu --tiny        # the CPU smoke test (tests/)

Runs, each in its own process with its share of the time budget (in this order, so the most
wanted figures come first), and appends every line they print to ``--out``:

1. report 000's full schedule and report 003's ``c1`` (benchmarks/gpu_schedules.py), eager;
2. the same with ``torch.compile``;
3. the same with ``torch.compile`` and CUDA graphs (inductor's ``triton.cudagraphs``);
4. a 50,000-sample ``diagnose check`` with inception-v3 features (time and peak RSS). Without the
   InceptionV3 weights (no download is possible on a lent machine) the network runs with random
   weights of the same shapes: the timing is real, the metric values are not, and it says so;
5. the trainer throughput benchmark (benchmarks/train_throughput.py).

``--tiny`` shrinks everything to seconds (a sliver of each schedule, a 200-sample mnist-lenet
check, one throughput step) and skips what needs CUDA (compile and CUDA graphs).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: diagnose's CLI in a process that reports its own peak RSS on its last stderr line.
_RSS_CLI = ("import resource, sys; from diagnose.cli import main; code = main(sys.argv[1:]); "
            "print(f'peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB', "
            "file=sys.stderr); sys.exit(code)")
_CUDAGRAPHS = ("import sys, torch._inductor.config as c; c.triton.cudagraphs = True; "
               "from benchmarks import gpu_schedules; sys.exit(gpu_schedules.main(sys.argv[1:]))")


def random_inception_weights(path: Path) -> Path:
    """A state dict with torch-fidelity's InceptionV3 shapes and random values (timing only)."""
    import torch
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3 as Net

    empty = path.with_suffix(".empty")
    torch.save({}, empty)
    real_load = Net.load_state_dict
    Net.load_state_dict = lambda self, *a, **k: None      # keep the random initialisation
    try:
        net = Net("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    finally:
        Net.load_state_dict = real_load
    torch.save(net.state_dict(), path)
    return path


def jobs(a, work: Path) -> list[tuple[str, list[str], dict]]:
    py = sys.executable
    sched = ["--device", a.device] + (["--fraction", "0.0005"] if a.tiny else [])
    out = [("schedules, eager", [py, "-m", "benchmarks.gpu_schedules", *sched], {})]
    if a.device != "cpu":
        out += [("schedules, torch.compile", [py, "-m", "benchmarks.gpu_schedules", *sched,
                                              "--compile"], {}),
                ("schedules, torch.compile + CUDA graphs", [py, "-c", _CUDAGRAPHS, *sched,
                                                            "--compile"], {})]
    gen = work / "warp.pt"
    n = 200 if a.tiny else 50_000
    feats = ["--features", "mnist-lenet"] if a.tiny else ["--features", "inception-v3",
                                                          "--inception-weights", "@INCEPTION@"]
    out.append((f"check n={n:,} ({feats[1]})",
                [py, "-c", _RSS_CLI, "check", str(gen), "--dataset", "mnist", "--n-samples",
                 str(n), "--device", a.device, "--out", str(work / "out"), "--json", *feats],
                {"GAN_DIAGNOSE_CACHE": str(work / "cache")}))
    thr = ["--steps", "1", "--rounds", "1"] if a.tiny else ["--steps", "30", "--rounds", "3"]
    out.append(("trainer throughput", [py, "-m", "benchmarks.train_throughput", "--device",
                                       a.device, *thr], {}))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", default="gpu_figures.txt", help="the one file every figure goes to")
    p.add_argument("--budget", type=float, default=570.0, help="seconds for everything")
    p.add_argument("--tiny", action="store_true", help="CPU smoke-test sizes")
    a = p.parse_args(argv)
    start = time.monotonic()
    out = Path(a.out)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def write(line: str) -> None:
        print(line, flush=True)
        with out.open("a") as f:
            f.write(line + "\n")

    write(f"# gpu_all {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, device {a.device}, "
          f"load {' '.join(f'{v:.2f}' for v in os.getloadavg())}, budget {a.budget:.0f} s"
          + (", tiny sizes" if a.tiny else ""))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sys.path.insert(0, str(ROOT))
        import torch

        from diagnose.analysis.groundtruth import Warp, _digits

        if a.device.startswith("cuda"):
            write(f"# {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.script(Warp(_digits("test")[0]).eval()).save(str(work / "warp.pt"))
        todo = jobs(a, work)
        if not a.tiny:
            from diagnose.features.weights import inception_available

            ok, where = inception_available()
            weights = Path(where) if ok else random_inception_weights(work / "inception-random.pth")
            write("# inception-v3: " + (f"real weights {where}" if ok else
                                        "weights missing: random weights of the same shapes, "
                                        "timing only (metric values meaningless)"))
            todo = [(t, [str(weights) if c == "@INCEPTION@" else c for c in cmd], e)
                    for t, cmd, e in todo]
        failed = 0
        for i, (title, cmd, extra) in enumerate(todo):
            left = a.budget - (time.monotonic() - start)
            share = left / (len(todo) - i)
            if share < 5:
                write(f"## {title}: not run (time budget spent)")
                failed += 1
                continue
            t = time.perf_counter()
            try:
                r = subprocess.run(cmd, cwd=ROOT, env={**env, **extra}, capture_output=True,
                                   text=True, timeout=max(share, left * 0.6 if i == 0 else share))
                wall = time.perf_counter() - t
                write(f"## {title}: exit {r.returncode}, {wall:.1f} s wall")
                body = r.stdout
                if title.startswith("check"):
                    tail = r.stderr.strip().splitlines()[-1:] or [""]
                    body = _check_summary(r.stdout) + "; " + tail[0]
                for line in body.strip().splitlines():
                    write("   " + line)
                if r.returncode:
                    failed += 1
                    for line in r.stderr.strip().splitlines()[-5:]:
                        write("   stderr: " + line)
            except subprocess.TimeoutExpired as e:
                failed += 1
                write(f"## {title}: stopped after {time.perf_counter() - t:.0f} s (its budget share)")
                for line in (e.stdout or b"").decode(errors="replace").strip().splitlines():
                    write("   " + line)
    write(f"# done in {time.monotonic() - start:.0f} s, {failed} item(s) failed or not run")
    return 1 if failed else 0


def _check_summary(stdout: str) -> str:
    """The verdict and metric values of a check's JSON, one line."""
    import json

    try:
        v = json.loads(stdout)
    except json.JSONDecodeError:
        return stdout[-2000:]
    m = v.get("metrics", {})
    vals = ", ".join(f"{k} {m[k]['value']:.4g}" for k in ("fid", "kid", "precision", "recall")
                     if isinstance(m.get(k), dict) and isinstance(m[k].get("value"), (int, float)))
    return f"verdict {v.get('verdict')}; {vals}"


if __name__ == "__main__":
    sys.exit(main())
