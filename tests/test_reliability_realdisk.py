"""Real I/O failures: a full tmpfs and a read-only mount, not a patched os.write.

Each test mounts a small tmpfs (root only; skipped with the reason otherwise), fills it with a
filler file, and has the tool write metrics, checkpoints (torch's zip writer, which reports a
full disk as ``RuntimeError: ... unexpected pos``), sample grids, the stage cache and `check`
outputs into it: each failure is one line naming the file, earlier files stay whole, no
temporary file is left, and a failed cache write still returns the computed result. Also: files
respect the umask, stale cache temporaries are removed, a hand-edited cache entry is recomputed.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import torch

from diagnose.analysis.cache import StageCache
from diagnose.core.atomic import atomic_torch_save, atomic_write_json
from diagnose.cli import main
from diagnose.core.errors import DiskFullError, UserError
from diagnose.monitor import Monitor
from diagnose.runs import read_jsonl

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _mount(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()[:100]}")


@pytest.fixture
def small_fs(tmp_path):
    """A fresh tmpfs of 4 MiB; ``fill(free)`` leaves about ``free`` bytes; ``ro()`` remounts it read-only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the test runs as an ordinary user)")
    mnt = tmp_path / f"fs_{uuid.uuid4().hex[:6]}"
    _mount(mnt, "4m")

    class FS:
        path = mnt

        def fill(self, free: int = 0) -> None:
            st = os.statvfs(mnt)
            room = st.f_bavail * st.f_frsize - free
            with open(mnt / ".filler", "ab") as f:
                try:
                    f.write(b"\0" * max(0, room))
                    f.flush()
                except OSError:
                    pass

        def ro(self) -> None:
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)

    yield FS()
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*.tmp")]


def test_metrics_on_a_full_disk(small_fs):
    run = small_fs.path / "run"
    mon = Monitor(run, {"x": 1}, quiet=True, flush_every=10)
    for s in range(20):
        mon.log(s, d_loss=1.0)
    mon.flush()
    small_fs.fill(free=2048)
    with pytest.raises(DiskFullError, match="metrics.jsonl"):
        for s in range(20, 100000):
            mon.log(s, d_loss=1.0, **{f"value_with_a_long_name_{i}": float(i) for i in range(20)})
    rows, skipped = read_jsonl(run / "metrics.jsonl")
    assert skipped == 0 and [r["step"] for r in rows[:20]] == list(range(20))
    assert json.loads((run / "config.json").read_text())["x"] == 1
    (small_fs.path / ".filler").unlink()
    mon.writer.lock.release()


def test_checkpoint_and_samples_on_a_full_disk(small_fs):
    run = small_fs.path / "run"
    g = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1024))
    g.latent_shape = (8,)
    mon = Monitor(run, quiet=True, n_fixed=16, latent_shape=(8,))
    first = mon.save_checkpoint(1, g)
    small_fs.fill(free=64 * 1024)
    big = torch.nn.Linear(1024, 1024)             # 4 MB of weights: cannot fit
    with pytest.raises(DiskFullError, match="step_0000002.pt") as e:
        mon.save_checkpoint(2, big)
    assert "unexpected pos" not in str(e.value)     # torch's hidden ENOSPC, translated
    assert torch.load(first, weights_only=True)["step"] == 1
    small_fs.fill(free=0)
    with pytest.raises(DiskFullError, match=r"samples/step_0000003.png|fixed_latent"):
        mon.snapshot(3, torch.nn.Sequential(g, torch.nn.Unflatten(1, (1, 32, 32))), checkpoint=False)
    assert _temps(run) == []
    mon.writer.lock.release()


def test_atomic_write_on_a_full_disk_keeps_the_old_file(small_fs):
    p = small_fs.path / "state.pt"
    atomic_torch_save(p, {"a": 1})
    small_fs.fill(free=0)
    with pytest.raises(DiskFullError):
        atomic_torch_save(p, {"w": torch.randn(300_000)})
    assert torch.load(p, weights_only=True) == {"a": 1} and _temps(small_fs.path) == []


def test_cache_on_a_full_disk_returns_the_result(small_fs, capsys):
    cache = StageCache(small_fs.path / "cache")
    small_fs.fill(free=0)
    value = cache.get_or_compute("stage", {"n": 1}, lambda: {"feats": torch.randn(200_000)})
    assert value["feats"].shape == (200_000,)
    err = capsys.readouterr().err
    assert "result not cached" in err and "no space left" in err.lower()
    assert _temps(small_fs.path) == []


def test_read_only_file_system(small_fs, capsys):
    run = small_fs.path / "run"
    with Monitor(run, quiet=True) as m:
        m.log(0, d_loss=1.0)
    cache = StageCache(small_fs.path / "cache")
    small_fs.ro()
    with pytest.raises(UserError, match="not writable"):
        Monitor(run, resume=True, quiet=True)
    with pytest.raises(OSError) as e:
        atomic_write_json(small_fs.path / "x.json", {"a": 1})
    from diagnose.cli import os_error_line

    assert "Read-only file system" in os_error_line(e.value)
    assert cache.get_or_compute("s", {"n": 1}, lambda: {"v": 3}) == {"v": 3}
    assert "result not cached" in capsys.readouterr().err


def test_run_cli_on_a_full_disk_is_one_line(small_fs, capsys):
    out = small_fs.path / "runs"
    out.mkdir()
    small_fs.fill(free=48 * 1024)
    code = main(["run", "--exp", "mixtures", "--variants", "ring8", "--steps", "400", "--device", "cpu",
                 "--no-progress", "--threads", "1", "--no-verdict", "--out", str(out)])
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "no space left on device while writing" in lines[0]
    assert "Traceback" not in err
    run = out / "mixtures" / "ring8"
    rows, skipped = read_jsonl(run / "metrics.jsonl")
    assert skipped == 0
    assert _temps(run) == []


def test_check_outputs_on_a_full_disk(small_fs, tmp_path, capsys):
    from badinputs import lib as B

    sd = B.point_state(tmp_path)
    out = small_fs.path / "out"
    out.mkdir()
    small_fs.fill(free=0)
    code = main(["check", str(sd), "--arch", f"{B.arch_file(tmp_path)}:PointG", "--dataset", "ring8",
                 "--n-samples", "200", "--device", "cpu", "--out", str(out), "--json"])
    o, err = capsys.readouterr()
    assert code == 0 and json.loads(o)["verdict"]                  # the result is not lost
    assert "no space left" in err.lower() and "Traceback" not in err
    assert _temps(out) == []


# --------------------------------------------------------------- no mount needed for these
def test_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {})
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        atomic_write_json(tmp_path / "b.json", {})
        assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_stale_cache_temporaries_are_removed(tmp_path):
    cache = StageCache(tmp_path)
    stage_dir = cache.path("stage", {"n": 1}).parent
    stage_dir.mkdir(parents=True)
    old, fresh = stage_dir / ".x.pt.abc.tmp", stage_dir / ".y.pt.def.tmp"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"being written")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    cache.get_or_compute("stage", {"n": 1}, lambda: {"v": 1})
    assert not old.exists() and fresh.exists()      # another live writer's temp is left alone


def test_hand_edited_cache_entry_is_recomputed(tmp_path, capsys):
    cache = StageCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"train_counts": torch.arange(10), "n_modes": 10}

    cache.get_or_compute("stage", {"n": 1}, compute)
    p = cache.path("stage", {"n": 1})
    entry = torch.load(p, weights_only=True)
    entry["payload"][-40] ^= 0xFF                           # a valid file, edited content
    torch.save(entry, p)
    assert cache.get_or_compute("stage", {"n": 1}, compute)["n_modes"] == 10 and len(calls) == 2
    assert "does not match its digest" in capsys.readouterr().err
    torch.save({"n_modes": "ten"}, p)                          # wrong types, old format
    assert cache.get_or_compute("stage", {"n": 1}, compute)["n_modes"] == 10 and len(calls) == 3
    p.write_text('{"deep": ' * 5000)                           # not even a torch file
    assert cache.get_or_compute("stage", {"n": 1}, compute)["n_modes"] == 10 and len(calls) == 4
    assert cache.get_or_compute("stage", {"n": 1}, compute)["n_modes"] == 10 and len(calls) == 4
