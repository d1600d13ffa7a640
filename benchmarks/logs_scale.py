"""`diagnose logs` on a very long text log: time and peak memory, against a plain line loop.

Writes a text log of ``--lines`` lines (default 3,000,000) to a temporary folder: the PyTorch DCGAN
example's TAB-separated lines with a tqdm bar line every 50 lines and a prose line now and then,
a healthy run (D loss ~0.5-1.4, G ~1-5). Then, in the same run:

    baseline   a child Python process that only iterates over the file's lines (the floor of any
               line-by-line reader), and ``wc -l`` when it exists
    ours       a child process running ``python -m diagnose logs FILE --json``

Reported: seconds and peak RSS of each child (ru_maxrss of the finished process), ours / baseline.
Memory must stay bounded: the log is streamed into a column store that thins itself evenly past a
fixed number of cells, so peak RSS does not grow with the number of lines.

    .venv/bin/python benchmarks/logs_scale.py [--lines 3000000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_log(path: Path, lines: int, seed: int = 0) -> None:
    """A healthy DCGAN-example-shaped log of ``lines`` lines."""
    rng = random.Random(seed)
    per_epoch = 1583
    with open(path, "w", buffering=1 << 20) as f:
        for i in range(lines):
            if i % 50 == 49:
                f.write(f"\r 45%|████▌     | {i % per_epoch}/{per_epoch} [00:10<00:12, 4.50it/s]\n")
                continue
            if i % 997 == 0:
                f.write("saving checkpoint to ./checkpoints (this may take a while)\n")
                continue
            t = i / lines
            d = abs(1.4 - 0.8 * t + 0.2 * rng.gauss(0, 1))
            g = abs(1.0 + 3.0 * t + 0.6 * rng.gauss(0, 1))
            dx = min(0.99, max(0.01, 0.6 + 0.2 * t + 0.05 * rng.gauss(0, 1)))
            dgz = min(0.99, max(0.01, 0.4 - 0.2 * t + 0.05 * rng.gauss(0, 1)))
            f.write(f"[{i // per_epoch}/{math.ceil(lines / per_epoch)}][{i % per_epoch}/{per_epoch}]"
                    f"\tLoss_D: {d:.4f}\tLoss_G: {g:.4f}\tD(x): {dx:.4f}\t"
                    f"D(G(z)): {dgz:.4f} / {dgz * 0.9:.4f}\n")


def timed_child(cmd: list[str], env: dict | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """(seconds, peak RSS of this child in MiB, result) for one child process run alone."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all finished children (KiB on Linux): run the
    # smallest child first so a larger value belongs to the child just finished
    return dt, max(after, before) / 1024, res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=3_000_000)
    ap.add_argument("--keep", default=None, help="write the log here and keep it")
    args = ap.parse_args(argv)
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="logs_scale_"))
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "train.log"
    t0 = time.perf_counter()
    write_log(log, args.lines)
    size = log.stat().st_size
    print(f"log: {args.lines:,} lines, {size / 2**20:.0f} MiB, written in "
          f"{time.perf_counter() - t0:.1f} s")
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        if shutil.which("wc"):
            dt, _, _ = timed_child(["wc", "-l", str(log)])
            print(f"baseline wc -l:           {dt:8.2f} s")
        loop = "import sys\nn=0\nfor line in open(sys.argv[1], encoding='utf-8', errors='replace'):\n    n+=1\n"
        base_t, base_rss, _ = timed_child([sys.executable, "-c", loop, str(log)])
        print(f"baseline python line loop: {base_t:8.2f} s   peak RSS {base_rss:7.0f} MiB")
        ours_t, ours_rss, res = timed_child([sys.executable, "-m", "diagnose", "logs", str(log),
                                             "--json"], env=env)
        if res.returncode != 0:
            print(f"diagnose logs failed (exit {res.returncode}): {res.stderr.strip()[-500:]}")
            return 1
        v = json.loads(res.stdout)
        print(f"ours diagnose logs --json: {ours_t:8.2f} s   peak RSS {ours_rss:7.0f} MiB   "
              f"verdict {v['verdict']}, {v['dynamics']['points']:,} points judged")
        print(f"ratio: {ours_t / base_t:.1f}x time of the plain line loop; "
              f"{ours_t / args.lines * 1e6:.1f} us per line")
        for note in v.get("ingestion", {}).get("notes", []):
            print(f"note: {note}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
