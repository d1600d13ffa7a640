"""Cut-off training: SIGKILL a training process at random moments, resume, and compare.

Each trial is one OS process (forked from a multiprocessing forkserver that imported torch once,
so a trial costs milliseconds to start rather than seconds) killed with SIGKILL after a random
delay; the next trial resumes the same run directory. After every kill the directory must be
readable: config/verdict parse, every checkpoint loads with ``weights_only=True``, every sample
grid opens, metrics.jsonl holds each step at most once (a partial last line at most). A last
process finishes the run; then every step is present exactly once, no temporary file is left,
and the logged numbers and final weights equal an uninterrupted run with the same seed.

Two trainers are cut off: a small loop written against ``diagnose.Monitor`` (the path of a
user's own training code), and ``diagnose run --exp mixtures --variants ring8 --resume`` (the
bundled trainers through the CLI, with the quick budget's snapshot interval shortened so kills
land between and during snapshots).
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import time
from pathlib import Path

import pytest

import forkserver
from badinputs import lib as B

pytestmark = pytest.mark.slow
HAVE_RUN = B.importable("trainers.experiments", "trainers.loop", "diagnose.commands.run")
TRIALS = 20


from badinputs.trainloops import RUN_STEPS, cli_train, noop, tiny_monitor_train  # noqa: E402

# ------------------------------------------------------------------------------- the harness
def _ctx():
    return forkserver.context()


def _run_to_end(ctx, target, args, timeout=120) -> None:
    p = ctx.Process(target=target, args=args)
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        pytest.fail(f"{target.__name__} did not finish in {timeout} s")
    assert p.exitcode == 0, f"{target.__name__} exited {p.exitcode}"


def _kill_at(ctx, target, args, delay: float) -> bool:
    """Start a trial, SIGKILL it after ``delay`` s; True if it was killed (not finished already)."""
    p = ctx.Process(target=target, args=args)
    p.start()
    p.join(delay)
    if p.is_alive():
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:      # it finished in between
            pass
    p.join(30)
    assert p.exitcode in (0, -signal.SIGKILL), p.exitcode
    return p.exitcode == -signal.SIGKILL


def _metrics_lines(path: Path) -> tuple[list[dict], bool]:
    """Rows of metrics.jsonl, and whether the last line is partial (allowed only after a kill)."""
    if not path.exists():
        return [], False
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    partial = bool(lines[-1])
    rows = [json.loads(x) for x in lines[:-1] if x.strip()]     # complete lines must all parse
    return rows, partial


def assert_readable(run: Path) -> list[int]:
    """Everything a reader may open right after a kill is whole; returns the logged steps."""
    import torch
    from PIL import Image

    for name in ("config.json", "verdict.json"):
        if (run / name).exists():
            json.loads((run / name).read_text())
    if (run / "fixed_latent.pt").exists():
        torch.load(run / "fixed_latent.pt", weights_only=True)
    for ck in sorted((run / "checkpoints").glob("step_*.pt")):
        c = torch.load(ck, weights_only=True)
        assert c["format"] == "gan-diagnose/1" and c["generator"]
    for png in sorted((run / "samples").glob("step_*.png")):
        with Image.open(png) as im:
            im.verify()
    rows, _ = _metrics_lines(run / "metrics.jsonl")
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps)), "a step was logged twice or out of order"
    return steps


def temporaries(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if p.name.endswith(".tmp")]


def _cut_off(ctx, target, make_args, runs: Path, run_of, trials: int, timing, rng, check) -> dict:
    """Kill trials at random delays until ``trials`` were killed mid-run. Each trial resumes the
    previous one's directory; when one finishes on its own, that chain is checked (``check``)
    and the next chain starts in a fresh directory. Delays are uniform between half the start-up
    time and start-up + 35% of the training time, so kills land before, between and during
    snapshots, and a chain needs several kills to reach its end."""
    startup, full = timing
    killed, chains, logged = 0, 0, []
    while killed < trials:
        chains += 1
        root = runs / f"chain{chains}"
        while killed < trials:
            delay = rng.uniform(0.5 * startup, startup + 0.35 * (full - startup))
            was_killed = _kill_at(ctx, target, make_args(root), delay)
            steps = assert_readable(run_of(root)) if run_of(root).exists() else []
            logged.append(steps[-1] if steps else 0)
            if not was_killed:
                break
            killed += 1
        _run_to_end(ctx, target, make_args(root))
        check(run_of(root))
    return {"killed": killed, "chains": chains, "last_step_after_each_trial": logged}


def _final_checks(run: Path, ref: Path, total: int, fields: tuple[str, ...]) -> None:
    import torch

    steps = assert_readable(run)
    assert steps == list(range(1, total + 1)), "metrics.jsonl must hold every step exactly once"
    rows, partial = _metrics_lines(run / "metrics.jsonl")
    assert not partial
    assert not temporaries(run), f"temporaries left: {temporaries(run)}"
    ref_rows, _ = _metrics_lines(ref / "metrics.jsonl")
    for a, b in zip(rows, ref_rows):
        for f in fields:
            assert a[f] == b[f] or (math.isnan(a[f]) and math.isnan(b[f])), (a["step"], f, a[f], b[f])
    last = sorted((run / "checkpoints").glob("step_*.pt"))[-1]
    ref_last = sorted((ref / "checkpoints").glob("step_*.pt"))[-1]
    assert last.name == ref_last.name
    a = torch.load(last, weights_only=True)
    b = torch.load(ref_last, weights_only=True)
    for k in b["generator"]:
        assert torch.equal(a["generator"][k], b["generator"][k]), k


def _timing(ctx, target, args, marker: Path, end: Path) -> tuple[float, float]:
    """(seconds until ``marker`` holds its first bytes, seconds until ``end`` appears) in an
    uninterrupted run: the start-up (imports, set-up, the first steps up to their first write)
    and the training time (work after the last checkpoint, such as a verdict, is left out so
    kills land in training)."""
    _run_to_end(ctx, noop, ())          # the forkserver's imports are not part of a trial
    t = time.perf_counter()
    p = ctx.Process(target=target, args=args)
    p.start()
    startup = full = None
    while p.is_alive():
        if startup is None and marker.exists() and marker.stat().st_size > 0:
            startup = time.perf_counter() - t
        if full is None and end.exists():
            full = time.perf_counter() - t
        time.sleep(0.005)
    p.join()
    assert p.exitcode == 0
    full = full or time.perf_counter() - t
    return (startup if startup is not None else 0.5 * full), full


@pytest.mark.timeout(120)
def test_sigkill_monitor_loop_resumes_exactly(tmp_path):
    """>= 20 SIGKILLs of a Monitor-based loop; the resumed run equals an uninterrupted one."""
    ctx = _ctx()
    steps = 240
    ref = tmp_path / "ref"
    timing = _timing(ctx, tiny_monitor_train, (str(ref), steps), ref / "metrics.jsonl",
                     ref / "checkpoints" / f"step_{steps:07d}.pt")

    def check(run):
        _final_checks(run, ref, steps, ("d_loss", "g_loss"))
        assert json.loads((run / "verdict.json").read_text())["step"] == steps

    res = _cut_off(ctx, tiny_monitor_train, lambda root: (str(root), steps), tmp_path,
                   lambda root: root, TRIALS, timing, random.Random(7), check)
    print(timing, res)
    assert res["killed"] >= TRIALS, res
    assert max(res["last_step_after_each_trial"]) > 0      # kills also landed mid-training


@pytest.mark.skipif(not HAVE_RUN, reason="trainers / diagnose run cannot be imported yet")
@pytest.mark.timeout(150)
def test_sigkill_diagnose_run_resumes_exactly(tmp_path):
    """>= 20 SIGKILLs of ``diagnose run ... --resume``; final numbers equal an uninterrupted run."""
    ctx = _ctx()
    ref = tmp_path / "ref" / "mixtures" / "ring8"
    timing = _timing(ctx, cli_train, (str(tmp_path / "ref"),), ref / "metrics.jsonl",
                     ref / "checkpoints" / f"step_{RUN_STEPS:07d}.pt")

    def check(run):
        _final_checks(run, ref, RUN_STEPS, ("d_loss", "g_loss", "d_real", "d_fake"))

    res = _cut_off(ctx, cli_train, lambda root: (str(root),), tmp_path,
                   lambda root: root / "mixtures" / "ring8", TRIALS, timing, random.Random(11), check)
    print(timing, res)
    assert res["killed"] >= TRIALS, res
    assert max(res["last_step_after_each_trial"]) > 0
