"""Scale out through the real launchers (slow: each job starts fresh interpreters).

- ``torchrun --nproc-per-node 2 ... diagnose run --resume``: SIGKILL one rank mid-run, torchrun
  ends the job, the next ``--resume`` continues; metrics.jsonl then has every step exactly once
  and equals an uninterrupted 2-rank run.
- Two "machines": two torchrun agents (``--nnodes 2 --node-rank 0|1 --rdzv-endpoint``), each in
  its own working directory with a relative ``--out``: only node 0's directory gets the run.
- ``diagnose run --nproc 2`` gives the one-process metrics; ``--parallel 2`` trains both
  variants of an experiment at once and prints one table.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diagnose.cli import main
from diagnose.runs import read_run
from distributed_helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")]

ROOT = Path(__file__).resolve().parent.parent
HELPERS = str(Path(__file__).resolve().parent / "distributed_helpers.py")
STEPS, SNAP = 60, 10


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "OMP_NUM_THREADS": "1"}


def _torchrun(root: str, *launcher: str, cwd=None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", *(launcher or ("--standalone",)),
           *(() if "--nproc-per-node" in launcher else ("--nproc-per-node", "2")),
           HELPERS, "cli", root, str(STEPS), str(SNAP)]
    return subprocess.Popen(cmd, env=_env(), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(p: subprocess.Popen, timeout: float = 600) -> str:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err[-3000:]
    return out


def _descendants(pid: int) -> list[int]:
    kids = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _rank_pids(pid: int) -> dict[int, int]:
    ranks = {}
    for c in _descendants(pid):
        try:
            env = Path(f"/proc/{c}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        vals = dict(e.split(b"=", 1) for e in env if b"=" in e)
        if b"RANK" in vals and b"TORCHELASTIC_RUN_ID" in vals:
            ranks[int(vals[b"RANK"])] = c
    return ranks


def _metrics(path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in read_run(path).metrics]


def test_sigkill_one_rank_then_resume_loses_and_duplicates_no_step(tmp_path):
    run = tmp_path / "cut" / "mixtures" / "ring8"
    p = _torchrun(str(tmp_path / "cut"))
    deadline = time.time() + 600
    while not (run.joinpath("config.json").exists() and len(read_run(run).checkpoints) >= 2):
        assert p.poll() is None and time.time() < deadline, "the job ended before it could be cut off"
        time.sleep(0.2)
    ranks = _rank_pids(p.pid)
    assert sorted(ranks) == [0, 1]
    os.kill(ranks[1], signal.SIGKILL)                  # one rank dies; torchrun ends the other
    p.communicate(timeout=300)
    assert p.returncode != 0
    done = [r["step"] for r in read_run(run).metrics]
    assert done == list(range(1, len(done) + 1)) and len(done) < STEPS
    _finish(_torchrun(str(tmp_path / "cut")))          # --resume
    _finish(_torchrun(str(tmp_path / "full")))         # uninterrupted, for the numbers
    cut, full = _metrics(run), _metrics(tmp_path / "full" / "mixtures" / "ring8")
    assert [r["step"] for r in cut] == list(range(1, STEPS + 1))
    assert cut == full


def test_two_nodes_write_only_on_node_0(tmp_path):
    port = free_port()
    nodes = []
    for rank in (0, 1):
        cwd = tmp_path / f"node{rank}"
        cwd.mkdir()
        nodes.append(_torchrun("runs", "--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(rank),
                               "--rdzv-endpoint", f"127.0.0.1:{port}", cwd=cwd))
    for p in nodes:
        _finish(p)
    run = read_run(tmp_path / "node0" / "runs" / "mixtures" / "ring8")
    assert [r["step"] for r in run.metrics] == list(range(1, STEPS + 1))
    assert run.config["distributed"]["world_size"] == 2 and run.config["distributed"]["nodes"] == 2
    assert not (tmp_path / "node1" / "runs").exists()


def test_nproc_gives_the_one_process_metrics_and_parallel_trains_variants_at_once(tmp_path, capfd):
    args = ["run", "--exp", "mixtures", "--variants", "ring8", "--steps", "12", "--no-progress",
            "--no-verdict", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--nproc", "2"]) == 0
    one, two = (_metrics(tmp_path / d / "mixtures" / "ring8") for d in ("one", "two"))
    assert len(one) == 12 and [r["step"] for r in two] == list(range(1, 13))
    for a, b in zip(one, two):
        for k in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert abs(a[k] - b[k]) < 1e-4, (k, a[k], b[k])
    capfd.readouterr()
    assert main(["run", "--exp", "mixtures", "--steps", "3", "--no-progress", "--no-verdict", "--device",
                 "cpu", "--out", str(tmp_path / "sweep"), "--parallel", "2", "--json"]) == 0
    for v in ("ring8", "grid25"):
        assert len(read_run(tmp_path / "sweep" / "mixtures" / v).metrics) == 3
    out = capfd.readouterr().out
    rows = json.loads(out[out.index("{"):])["variants"]     # rank 0's JSON, both variants in order
    assert [r["variant"] for r in rows] == ["ring8", "grid25"]
