"""Untrusted files: a checkpoint whose pickle would run code never runs it without --trust-pickle.

The payload's ``__reduce__`` calls ``open(MARKER, "w")``: if any loader unpickled it fully, the
marker file would exist. Every reader of user files is fed one (check's loader, logs' run-dir
reader, the dashboard's run reader, Monitor/`diagnose run` resume) and the marker must stay absent.
A positive control proves the payload does run when loaded unsafely, so its absence means something.
"""
from __future__ import annotations

import pytest
import torch

from badinputs import lib as B
from diagnose.cli import main

HAVE_CHECK = B.importable("diagnose.generators.load", "diagnose.analysis", "diagnose.commands.check")
HAVE_LOGS = B.importable("diagnose.dynamics", "diagnose.commands.logs")
HAVE_RUN = B.importable("trainers.experiments", "trainers.loop", "diagnose.commands.run")
FORMS = ["zip", "legacy", "raw-pickle"]


def _payload(tmp_path, form, name="evil.pt"):
    marker = tmp_path / "MARKER"
    path = tmp_path / name
    if form == "raw-pickle":
        B.plain_pickle_payload(path, marker)
    else:
        B.malicious_checkpoint(path, marker, legacy=form == "legacy")
    return path, marker


@pytest.mark.parametrize("form", FORMS)
def test_payload_really_runs_when_unpickled_unsafely(tmp_path, form):
    """Positive control: the marker appears when the file is loaded with weights_only=False."""
    path, marker = _payload(tmp_path, form)
    try:
        torch.load(path, weights_only=False)
    except Exception:
        pass
    assert marker.exists()


@pytest.mark.skipif(not HAVE_CHECK, reason="diagnose check cannot be imported yet")
@pytest.mark.parametrize("form", FORMS)
def test_check_refuses_pickle_without_trust(tmp_path, capsys, form):
    path, marker = _payload(tmp_path, form)
    code = main(["check", str(path), "--dataset", "ring8", "--n-samples", "100", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert not marker.exists(), "the pickle payload ran without --trust-pickle"


@pytest.mark.skipif(not HAVE_CHECK, reason="diagnose check cannot be imported yet")
def test_check_with_trust_pickle_does_unpickle(tmp_path, capsys):
    """--trust-pickle is the one door: then the file is unpickled (the marker appears)."""
    path, marker = _payload(tmp_path, "zip")
    code = main(["check", str(path), "--dataset", "ring8", "--n-samples", "100", "--device", "cpu",
                 "--trust-pickle"])
    capsys.readouterr()
    assert marker.exists()
    assert code == 2          # what it unpickled is no generator: still one clean error line


def _evil_run(tmp_path):
    """A run directory whose checkpoint and fixed latent batch are pickle payloads."""
    run = B.run_dir(tmp_path / "runs" / "exp", "evil", metrics=B.healthy_metrics(),
                    config='{"experiment": "exp", "variant": "evil"}')
    marker = tmp_path / "MARKER"
    B.malicious_checkpoint(run / "checkpoints" / "step_0000060.pt", marker)
    B.malicious_checkpoint(run / "fixed_latent.pt", marker)
    return run, marker


@pytest.mark.skipif(not HAVE_LOGS, reason="diagnose logs cannot be imported yet")
def test_logs_run_dir_reader_never_unpickles(tmp_path, capsys):
    run, marker = _evil_run(tmp_path)
    code = main(["logs", str(run), "--json"])
    capsys.readouterr()
    assert code == 0
    assert not marker.exists()


def test_dashboard_reader_never_unpickles(tmp_path):
    from badinputs.dashclient import fire_all, get_pages
    from dashboards import create_app

    run, marker = _evil_run(tmp_path)
    app = create_app(tmp_path / "runs")
    client = app.server.test_client()
    codes = get_pages(client, ["/", "/run/exp/evil", "/_dash-layout", "/_dash-dependencies",
                               "/_runs-file/exp/evil/checkpoints/step_0000060.pt",
                               "/_runs-file/exp/evil/fixed_latent.pt"])
    assert all(c < 500 for c in codes), codes
    assert codes[-2:] == [404, 404]          # checkpoints are never served as files
    for n in range(3):
        for page in ("/", "/run/exp/evil", "/compare/exp"):
            assert all(c < 500 for c in fire_all(app, client, page, n))
    app.store.view("exp/evil")
    app.store.summaries()
    assert not marker.exists()


def test_monitor_resume_refuses_payload_latent(tmp_path):
    """Resuming a run whose fixed_latent.pt is a payload: a UserError, and the payload never runs."""
    from diagnose.core.errors import UserError
    from diagnose.monitor import Monitor

    run, marker = _evil_run(tmp_path)
    G = torch.nn.Linear(4, 2)
    mon = Monitor(run, {"x": 1}, resume=True, latent_shape=(4,), kind="points", quiet=True)
    with pytest.raises(UserError, match="not a latent batch"):
        mon.snapshot(61, G)
    mon.close()
    assert not marker.exists()


@pytest.mark.skipif(not HAVE_RUN, reason="diagnose run cannot be imported yet")
def test_run_resume_never_unpickles(tmp_path, capsys):
    ck = tmp_path / "runs" / "mixtures" / "ring8" / "checkpoints" / "step_0000005.pt"
    marker = tmp_path / "MARKER"
    B.malicious_checkpoint(ck, marker)
    (ck.parent.parent / "metrics.jsonl").write_text(B.healthy_metrics(5))
    code = main(["run", "--exp", "mixtures", "--variants", "ring8", "--steps", "8", "--resume",
                 "--no-progress", "--device", "cpu", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert not marker.exists()
    assert code == 2 and "cannot resume from checkpoint" in err


@pytest.mark.skipif(not HAVE_CHECK, reason="diagnose check cannot be imported yet")
def test_check_cache_entries_are_never_unpickled(tmp_path, capsys, monkeypatch):
    """A planted payload in the on-disk stage cache is ignored (recomputed), never run."""
    monkeypatch.setenv("GAN_DIAGNOSE_CACHE", str(tmp_path / "cache"))
    sd = B.point_state(tmp_path)
    argv = ["check", str(sd), "--arch", f"{B.arch_file(tmp_path)}:PointG", "--dataset", "ring8",
            "--n-samples", "200", "--device", "cpu", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    entries = list((tmp_path / "cache").rglob("*.pt"))
    assert entries, "the check wrote no cache entry to plant a payload in"
    marker = tmp_path / "MARKER"
    for p in entries:
        B.malicious_checkpoint(p, marker)
    capsys.readouterr()
    assert main(argv) == 0
    assert "ignoring unreadable cache entry" in capsys.readouterr().err
    assert not marker.exists()
