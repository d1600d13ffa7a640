"""Real-browser test of a long run's first paint: a preview of its curves, then the full figure.

The background parse of the log is held back until the preview has been seen, so the test sees
both states whatever the machine's speed; it ends with ``get_logs() == []``.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from test_dash_browser import CHROMEDRIVER, CHROMIUM, dash_duo  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMEDRIVER is None or not Path(CHROMIUM).exists(),
                       reason="needs Debian's chromium + chromium-driver"),
]

_STATE = """
const g = document.querySelector('#run-dynamics .js-plotly-plot');
if (!g || !g.data || !g.layout) return null;
const raw = (g._fullData || g.data).find(t => t.name === 'D loss (raw)');
const ys = raw ? Array.from(raw.y).filter(v => Number.isFinite(v)) : [];
return {title: (g.layout.title && g.layout.title.text) || '', traces: g.data.length,
        top: ys.length ? Math.max(...ys) : null};
"""


def _until(fn, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            got = fn()
            if got:
                return got
        except Exception:  # element replaced mid-read: try again
            pass
        time.sleep(0.1)
    return fn()


def test_long_run_shows_a_preview_note_then_the_full_curves(dash_duo, tmp_path, monkeypatch):
    import dashboards.columns as C
    import dashboards.store as S
    from dashboards import create_app

    run = tmp_path / "exp" / "long"
    run.mkdir(parents=True)
    rows = [{"step": s, "d_loss": 1.0 + (s % 7) / 70, "g_loss": 2.0} for s in range(20_000)]
    rows[12_345]["d_loss"] = 99.0                         # a spike between the preview's windows
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "config.json").write_text(json.dumps({"experiment": "exp", "variant": "long"}))
    monkeypatch.setattr(S, "LIGHT_BYTES", 1000)           # this log counts as long
    monkeypatch.setattr(C, "PREVIEW_WINDOWS", 8)
    monkeypatch.setattr(C, "PREVIEW_WINDOW", 1024)
    release = threading.Event()
    real = C._parse_range
    monkeypatch.setattr(C, "_parse_range", lambda *a: (release.wait(30), real(*a))[1])
    try:
        dash_duo.start_server(create_app(tmp_path, refresh_ms=60_000))
        dash_duo.wait_for_page(url=dash_duo.server_url + "/run/exp/long")
        dash_duo.wait_for_contains_text("#run-curves-note", "Preview", timeout=20)
        note = dash_duo.find_element("#run-curves-note").text
        assert "of about 20," in note and "evenly spaced" in note and "Spikes" in note
        state = _until(lambda: (s := dash_duo.driver.execute_script(_STATE)) and s["traces"] and s)
        assert state["title"].startswith("Preview:") and state["top"] < 99
    finally:
        release.set()                                     # the full parse may run now
    full = _until(lambda: (s := dash_duo.driver.execute_script(_STATE)) and not s["title"] and s)
    assert full and full["top"] == 99.0                   # the spike the preview could not show
    assert dash_duo.find_element("#run-curves-note").text == ""
    assert dash_duo.get_logs() == []
