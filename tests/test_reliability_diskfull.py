"""A full disk while writing: one clear line naming the file, exit 2, earlier files intact.

ENOSPC is simulated by patching ``os.fsync`` (where a real full disk often shows up for buffered
writes) or ``os.write`` (the JSONL appender's one system call per append) to raise
``OSError(errno.ENOSPC)``.
"""
from __future__ import annotations

import errno
import json
import os

import pytest

from badinputs import lib as B
from diagnose.core import atomic
from diagnose.cli import main
from diagnose.core.errors import DiskFullError, UserError
from diagnose.runs import JsonlAppender, read_jsonl

HAVE_RUN = B.importable("trainers.experiments", "trainers.loop", "diagnose.commands.run")


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_atomic_write_disk_full_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "verdict.json"
    atomic.atomic_write_json(target, {"verdict": "healthy"})
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(DiskFullError) as e:
        atomic.atomic_write_json(target, {"verdict": "mode_collapse"})
    assert str(e.value) == f"no space left on device while writing {target}"
    assert isinstance(e.value, UserError) and isinstance(e.value, OSError)
    assert e.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"verdict": "healthy"}
    assert [p.name for p in tmp_path.iterdir()] == ["verdict.json"]      # no temporary left


def test_atomic_torch_save_disk_full(tmp_path, monkeypatch):
    import torch

    target = tmp_path / "checkpoints" / "step_0000010.pt"
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(DiskFullError, match="step_0000010.pt"):
        atomic.atomic_torch_save(target, {"w": torch.zeros(3)})
    assert not target.exists() and not list(target.parent.iterdir())


def test_jsonl_append_disk_full_cuts_back_to_whole_lines(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    a = JsonlAppender(path)
    for s in range(1, 4):
        a.append({"step": s, "d_loss": 0.5})
    before = path.read_bytes()
    real_write = os.write
    calls = {"n": 0}

    def half_then_full(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:                     # the disk takes half a line, then is full
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(DiskFullError, match="metrics.jsonl"):
        a.append({"step": 4, "d_loss": 0.5})
    monkeypatch.undo()
    assert path.read_bytes() == before           # the half line was cut back
    a.append({"step": 4, "d_loss": 0.5})         # space again: writing continues where it was
    a.close()
    rows, skipped = read_jsonl(path)
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and skipped == 0


def test_cli_prints_one_line_for_disk_full(tmp_path, monkeypatch, capsys):
    """Any verb whose write hits a full disk: one line naming the file, exit 2, no traceback."""
    import diagnose.commands.data as data_cmd

    target = tmp_path / "out" / "report.json"

    def writes(args):
        atomic.atomic_write_json(target, {"x": 1})

    monkeypatch.setattr(data_cmd, "run", writes)
    monkeypatch.setattr(os, "fsync", _enospc)
    code = main(["data", "ring8"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"error: no space left on device while writing {target}"


@pytest.mark.parametrize("err_no,text", [(errno.ENOSPC, "no space left on device while writing /x/y"),
                                         (errno.EACCES, "Permission denied: /x/y"),
                                         (errno.EROFS, "Read-only file system: /x/y")])
def test_cli_one_line_for_raw_os_errors(monkeypatch, capsys, err_no, text):
    """An OSError the environment caused, escaping a verb unwrapped, is still one line."""
    import diagnose.commands.data as data_cmd

    def fails(args):
        raise OSError(err_no, os.strerror(err_no), "/x/y")

    monkeypatch.setattr(data_cmd, "run", fails)
    assert main(["data"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {text}"


def test_cli_bug_keeps_its_traceback(monkeypatch):
    """Only environment errors are turned into a line: a bug still raises."""
    import diagnose.commands.data as data_cmd

    def bug(args):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(data_cmd, "run", bug)
    with pytest.raises(OSError):
        main(["data"])


def _fd_is(fd: int, suffix: str) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").endswith(suffix)
    except OSError:
        return False


@pytest.mark.skipif(not HAVE_RUN, reason="diagnose run cannot be imported yet")
def test_diagnose_run_disk_full_mid_training(tmp_path, monkeypatch, capsys):
    """Training fills the disk while appending metrics: one line, exit 2, config.json intact and
    metrics.jsonl holds only whole lines."""
    real_write = os.write
    seen = {"n": 0}

    def full_after_two(fd, data):
        if _fd_is(fd, "metrics.jsonl"):
            seen["n"] += 1
            if seen["n"] > 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_after_two)
    code = main(["run", "--exp", "mixtures", "--variants", "ring8", "--steps", "400",
                 "--no-progress", "--device", "cpu", "--threads", "1", "--out", str(tmp_path)])
    monkeypatch.undo()
    err = capsys.readouterr().err
    run = tmp_path / "mixtures" / "ring8"
    assert code == 2, err[-800:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == \
        f"error: no space left on device while writing {run / 'metrics.jsonl'}"
    json.loads((run / "config.json").read_text())
    raw = (run / "metrics.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    rows, skipped = read_jsonl(run / "metrics.jsonl")
    assert rows and skipped == 0
