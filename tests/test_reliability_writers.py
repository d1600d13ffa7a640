"""One writer per run directory, and no step silently dropped.

A second writer (another Monitor, another `diagnose run`, `--resume` of a running run) is refused
with one line naming the holder; a lock left by a SIGKILLed writer is taken over; a fresh writer
refuses a directory holding a run unless told to resume or overwrite; a step at or below one
already written raises.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diagnose.cli import main
from diagnose.core.errors import StepOrderError, UserError
from diagnose.runs.lock import LOCK_NAME, RunLock, RunLockedError
from diagnose.monitor import Monitor
from diagnose.runs import read_run

ROOT = Path(__file__).resolve().parents[1]
RUN = ["run", "--exp", "mixtures", "--variants", "ring8", "--device", "cpu", "--no-progress",
       "--threads", "1", "--no-verdict"]


def _holder(run_dir: Path) -> subprocess.Popen:
    """A separate process that takes the run's writer lock and sleeps holding it."""
    code = ("import sys, time; from diagnose.runs.lock import RunLock; l = RunLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(600)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], env=env, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def _steps(run_dir: Path) -> list[int]:
    return [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_second_monitor_in_the_same_process_is_refused(tmp_path):
    a = Monitor(tmp_path / "r", quiet=True)
    with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
        Monitor(tmp_path / "r", resume=True, quiet=True)
    a.close()
    Monitor(tmp_path / "r", resume=True, quiet=True).close()     # free again once closed


def test_writer_in_another_process_is_named(tmp_path, capsys):
    run = tmp_path / "runs" / "mixtures" / "ring8"
    p = _holder(run)
    try:
        with pytest.raises(RunLockedError) as e:
            Monitor(run, resume=True, quiet=True)
        assert f"pid {p.pid} on {socket.gethostname()}" in str(e.value)
        for extra in ([], ["--resume"], ["--overwrite"]):
            assert main([*RUN, "--steps", "3", "--out", str(tmp_path / "runs"), *extra]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert err[-1].startswith("error:") and f"pid {p.pid}" in err[-1]
        assert not (run / "metrics.jsonl").exists()
    finally:
        p.kill()
        p.wait()


def test_lock_of_a_killed_writer_is_taken_over(tmp_path):
    run = tmp_path / "r"
    p = _holder(run)
    held = json.loads((run / LOCK_NAME).read_text())
    assert held["pid"] == p.pid
    p.send_signal(signal.SIGKILL)
    p.wait()
    lock = RunLock(run).acquire()            # stale: the kernel dropped the dead writer's flock
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()


def test_monitor_refuses_an_existing_run_unless_resume_or_overwrite(tmp_path):
    run = tmp_path / "r"
    with Monitor(run, {"seed": 1}, quiet=True) as m:
        for s in range(40):
            m.log(s, d_loss=1.0)
    before = (run / "config.json").read_text()
    with pytest.raises(UserError, match="already holds a run"):
        Monitor(run, {"seed": 2}, quiet=True)
    assert (run / "config.json").read_text() == before and len(_steps(run)) == 40
    with Monitor(run, {"seed": 2}, overwrite=True, quiet=True) as m:      # 39 logged, 39 written
        for s in range(39):
            m.log(s, d_loss=2.0)
    assert _steps(run) == list(range(39))
    assert read_run(run).config["seed"] == 2


def test_a_step_at_or_below_the_last_raises(tmp_path):
    with Monitor(tmp_path / "r", quiet=True, flush_every=3) as m:
        for s in range(5):
            m.log(s, d_loss=1.0)
        with pytest.raises(StepOrderError, match="step 4 is at or below step 4"):
            m.log(4, g_loss=1.0)
        with pytest.raises(StepOrderError, match="step 2 is at or below"):
            m.log(2, d_loss=1.0)
        with pytest.raises(UserError, match="out of range"):
            m.log(10 ** 400, d_loss=1.0)
        m.log(5, d_loss=1.0)
    assert _steps(tmp_path / "r") == list(range(6))
    # a resumed run replays the steps after its last checkpoint: those are skipped, not errors
    with Monitor(tmp_path / "r", resume=True, quiet=True) as m:
        for s in range(3, 8):
            m.log(s, d_loss=1.0)
        with pytest.raises(StepOrderError):
            m.log(6, d_loss=1.0)
    assert _steps(tmp_path / "r") == list(range(8))


def test_run_refuses_a_non_empty_directory_without_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main([*RUN, "--steps", "4", "--out", str(out)]) == 0
    run = out / "mixtures" / "ring8"
    before = (run / "metrics.jsonl").read_bytes()
    capsys.readouterr()
    assert main([*RUN, "--steps", "6", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--overwrite" in err and "--resume" in err
    assert (run / "metrics.jsonl").read_bytes() == before
    assert main([*RUN, "--steps", "6", "--out", str(out), "--overwrite"]) == 0
    assert _steps(run) == list(range(1, 7))
    assert not json.loads((run / LOCK_NAME).read_text() or "null")     # released at the end


@pytest.mark.slow
def test_two_runs_at_once_write_every_step_once(tmp_path):
    """A running `diagnose run` and a second one (fresh or --resume) into the same directory."""
    out = tmp_path / "runs"
    run = out / "mixtures" / "ring8"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "diagnose", *RUN, "--steps", "300", "--out", str(out)],
                             env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:       # wait until the first writer holds the directory
            lock = run / LOCK_NAME
            if lock.exists() and lock.read_text().strip():
                break
            time.sleep(0.2)
        codes = []
        for extra in ([], ["--resume"], ["--overwrite"]):
            second = subprocess.run([sys.executable, "-m", "diagnose", *RUN, "--steps", "400",
                                     "--out", str(out), *extra], env=env, capture_output=True,
                                    text=True, timeout=300)
            codes.append(second.returncode)
            if first.poll() is None:
                assert second.returncode == 2 and "is being written by pid" in second.stderr
        assert first.wait(timeout=600) == 0, first.stderr.read()[-500:]
    finally:
        if first.poll() is None:
            first.kill()
    steps = _steps(run)
    assert len(steps) == len(set(steps)), "a step was written twice"
