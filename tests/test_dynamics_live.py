"""Live detectors inside Monitor: warn once per new flag, stop_on ends the run, bounded window."""
from __future__ import annotations

import torch

from diagnose.dynamics import synthetic as S
from diagnose.dynamics.live import LiveDetectors
from diagnose.monitor import Monitor
from diagnose.runs import read_run


def test_live_warns_on_divergence_and_stops(tmp_path, capsys):
    rows = S.diverging(n=400, nan_from=300)
    with Monitor(tmp_path / "run", {}, detectors=True, detect_every=100, flush_every=50,
                 stop_on=("diverged",)) as m:
        stopped_at = None
        for i, r in enumerate(rows):
            m.log(i, d_loss=torch.tensor(r["d_loss"]), g_loss=torch.tensor(r["g_loss"]),
                  d_real=r["d_real"], d_fake=r["d_fake"])
            if m.should_stop:
                stopped_at = i
                break
    assert m.stop_reason == "diverged" and 300 <= stopped_at < 400
    warns = read_run(tmp_path / "run").warnings
    assert [w["code"] for w in warns] == ["diverged"]
    assert warns[0]["steps"][0] == 300 and warns[0]["live"] is True
    assert "diverged" in capsys.readouterr().err


def test_live_quiet_on_healthy_run(tmp_path):
    with Monitor(tmp_path / "run", {}, detectors=True, detect_every=100, quiet=True) as m:
        for i, r in enumerate(S.healthy(n=600)):
            m.log(i, **{k: v for k, v in r.items() if k != "step"})
    assert m._live.runs >= 5
    assert read_run(tmp_path / "run").warnings == [] and not m.should_stop


class _FakeMonitor:
    dir = "fake"

    def __init__(self):
        self.warned = []

    def warn(self, flag):
        self.warned.append(flag["code"])


def test_flag_not_repeated_until_it_clears_and_returns():
    mon = _FakeMonitor()
    live = LiveDetectors(mon, every=50, window=150)
    bad, good = S.not_learning(n=150), S.healthy(n=300)
    step = 0
    for block in (bad, good, bad):
        for r in block:
            r = dict(r, step=step)
            step += 1
            live.update([r])
    live.finish()
    assert mon.warned == ["d_not_learning", "d_not_learning"]
    assert live.table().columns["d_loss"].size == 150      # window stays bounded
