"""Real-browser tests of each panel of the dashboard (headless chromium via ``dash_duo``).

Each test drives one page the way a person would (clicks, the slider, the dropdowns) and ends with
``get_logs() == []``: no error reached the browser console.
"""
from __future__ import annotations

import json
import time

import pytest
from test_dash_browser import CHROMEDRIVER, CHROMIUM, dash_duo  # noqa: F401  (fixture)

from pathlib import Path

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMEDRIVER is None or not Path(CHROMIUM).exists(),
                       reason="needs Debian's chromium + chromium-driver"),
]

FIG = "return document.querySelector('{} .js-plotly-plot')"


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """Two example runs; the collapsing one says it trained on MNIST (real samples beside it)."""
    from dashboards.examples import write_example_runs

    root = tmp_path_factory.mktemp("runs")
    write_example_runs(root, steps=400)
    cfg_path = root / "example" / "collapse" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["dataset"] = {"name": "mnist", "shape": [1, 28, 28], "value_range": [-1.0, 1.0]}
    cfg_path.write_text(json.dumps(cfg))
    return root


def _until(fn, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if fn():
                return True
        except Exception:  # element replaced mid-read: try again
            pass
        time.sleep(0.1)
    return bool(fn())


def _trace_names(duo, sel):
    return duo.driver.execute_script(
        f"const g = document.querySelector('{sel} .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => t.name) : [];")


def _pick(duo, dropdown_sel, text):
    """Choose an option of a dcc.Dropdown with the mouse: open it, click the option."""
    duo.find_element(dropdown_sel).click()
    assert _until(lambda: any(text == o.text.strip() for o in
                              duo.find_elements(".dash-dropdown-options [role=option]")), timeout=5)
    next(o for o in duo.find_elements(".dash-dropdown-options [role=option]")
         if o.text.strip() == text).click()


def test_run_page_verdict_metrics_curves_strip_and_navigation(dash_duo, runs_root):
    from dashboards import create_app

    dash_duo.start_server(create_app(runs_root, refresh_ms=60_000))
    dash_duo.wait_for_page(url=dash_duo.server_url + "/run/example/collapse")
    dash_duo.wait_for_text_to_equal("#run-badge", "mode_collapse", timeout=15)
    dash_duo.wait_for_element("#run-dynamics .main-svg", timeout=15)
    # verdict first: the card sits above the curves, with advice and the stepless sample flag
    card = dash_duo.find_element("#run-verdict")
    assert card.location["y"] < dash_duo.find_element("#run-dynamics").location["y"]
    assert "Lower lr_d" in card.text or "minibatch" in card.text
    assert "confidence" in card.text and "example-features" in card.text
    # metric table: value beside the real reference; header click sorts
    dash_duo.wait_for_element("#metrics tbody tr", timeout=10)
    assert "fid" in dash_duo.find_element("#metrics").text
    # curves: smoothing on by default (raw stays faint), log y, separate axes, overlay
    assert _until(lambda: "D loss (raw)" in _trace_names(dash_duo, "#run-dynamics"))
    dash_duo.find_element("#run-logy input").click()
    assert _until(lambda: dash_duo.driver.execute_script(
        FIG.format("#run-dynamics") + ".layout.yaxis.type") == "log")
    dash_duo.find_element("#run-split input[value=separate]").click()
    assert _until(lambda: any("right axis" in n for n in _trace_names(dash_duo, "#run-dynamics")))
    _pick(dash_duo, "#run-overlay", "example/healthy")
    assert _until(lambda: "healthy: D loss" in _trace_names(dash_duo, "#run-dynamics"))
    # film strip: one frame per snapshot here (5), flagged ones marked; a click selects it
    frames = dash_duo.find_elements("#run-strip .frame")
    assert len(frames) == 5
    assert dash_duo.find_elements("#run-strip .frame[class*=flagged-]")
    frames[0].click()
    dash_duo.wait_for_contains_text("#run-caption", "step 0 ", timeout=10)
    assert "step_0000000.png" in dash_duo.find_element("#run-grid").get_attribute("src")
    # real training images beside the fakes (MNIST from the package's embedded digits)
    assert _until(lambda: dash_duo.driver.execute_script(
        "const i = document.querySelector('#run-real'); return i && i.complete && i.naturalWidth > 0;"),
        timeout=120)
    # evaluations over training, with the real-data line
    assert _until(lambda: len(_trace_names(dash_duo, "#run-evals")) >= 3)
    # navigation between runs without a keyboard: the "previous" link, then the picker
    dash_duo.find_element("#run-next").click()
    dash_duo.wait_for_text_to_equal("#run-badge", "healthy", timeout=15)
    assert dash_duo.driver.current_url.endswith("/run/example/healthy")
    _pick(dash_duo, "#run-switch", "example/collapse")
    dash_duo.wait_for_text_to_equal("#run-badge", "mode_collapse", timeout=15)
    assert dash_duo.get_logs() == []


def test_metric_table_sorts_on_header_click(dash_duo, runs_root):
    from dashboards import create_app

    dash_duo.start_server(create_app(runs_root, refresh_ms=60_000))
    dash_duo.wait_for_page(url=dash_duo.server_url + "/run/example/collapse")
    dash_duo.wait_for_element("#metrics tbody tr", timeout=15)

    def first_metric():
        return dash_duo.find_elements("#metrics tbody tr td")[0].text

    assert first_metric() == "fid"                                  # display order: fid first
    dash_duo.find_element("#metrics th button").click()              # sort by name, ascending
    assert _until(lambda: first_metric() == "coverage")
    dash_duo.find_element("#metrics th button").click()              # and descending
    assert _until(lambda: first_metric() == "modes")
    assert "▼" in dash_duo.find_element("#metrics th button").text
    assert dash_duo.get_logs() == []


def test_compare_page_tables_overlay_choice_and_grids_at_one_step(dash_duo, runs_root):
    from dashboards import create_app

    dash_duo.start_server(create_app(runs_root, refresh_ms=60_000))
    dash_duo.wait_for_page(url=dash_duo.server_url + "/compare/example")
    dash_duo.wait_for_contains_text("#compare-title", "2 variants", timeout=15)
    assert len(dash_duo.find_elements("#variants tbody tr")) == 2
    matrix = dash_duo.find_element("#compare-metrics").text
    assert "real data" in matrix and "healthy" in matrix and "collapse" in matrix
    assert dash_duo.find_elements("#compare-metrics td.tone-bad, #compare-metrics td.tone-good")
    dash_duo.wait_for_element("#compare-graph .main-svg", timeout=15)
    assert _until(lambda: {"healthy", "collapse"} <= set(_trace_names(dash_duo, "#compare-graph")))
    # choose which runs to overlay: untick "healthy"
    box = next(e for e in dash_duo.find_elements("#compare-runs label") if "healthy" in e.text)
    box.click()
    assert _until(lambda: "healthy" not in _trace_names(dash_duo, "#compare-graph"))
    # one grid per variant at the same step (the real-data grid follows the first variant's
    # dataset, here "collapse" -> MNIST)
    dash_duo.wait_for_element("#compare-grids img", timeout=10)
    captions = [e.text for e in dash_duo.find_elements("#compare-grids figcaption")]
    assert sum("step 400" in c for c in captions) == 2
    from selenium.webdriver.common.keys import Keys

    dash_duo.find_element("#compare-step [role=slider]").send_keys(Keys.HOME)
    assert _until(lambda: sum("step 0" in e.text for e in
                              dash_duo.find_elements("#compare-grids figcaption")) == 2)
    assert dash_duo.get_logs() == []


def test_browser_sparklines_coloured_metrics_and_sorting(dash_duo, runs_root):
    from dashboards import create_app

    dash_duo.start_server(create_app(runs_root, refresh_ms=60_000))
    dash_duo.wait_for_element("#browser-list a.run-link", timeout=15)
    sparks = [e.text for e in dash_duo.find_elements("#browser-list .spark")]
    assert len(sparks) == 4 and all(len(s) >= 8 for s in sparks)     # D and G line per run

    def order():
        return [e.text for e in dash_duo.find_elements("#browser-list a.run-link")]

    fid = next(b for b in dash_duo.find_elements("#browser-list th button") if b.text.startswith("fid"))
    fid.click()                                                     # lowest FID first
    assert _until(lambda: order() == ["healthy", "collapse"])
    next(b for b in dash_duo.find_elements("#browser-list th button")
         if b.text.startswith("fid")).click()
    assert _until(lambda: order() == ["collapse", "healthy"])
    assert dash_duo.find_elements("#browser-list td[title*='features']")   # hover: extractor, n
    assert dash_duo.get_logs() == []


def test_evaluate_button_shows_progress_then_fills_the_panels(dash_duo, tmp_path, monkeypatch):
    from diagnose.runs import RunWriter

    from dashboards import create_app

    w = RunWriter(tmp_path / "exp" / "a")
    w.write_config({"experiment": "exp", "variant": "a", "dataset": {"name": "ring8"}})
    w.metrics.extend({"step": s, "d_loss": 1.0, "g_loss": 0.7} for s in range(30))
    w.close()
    ck = tmp_path / "exp" / "a" / "checkpoints"
    ck.mkdir(exist_ok=True)
    for s in (10, 20, 29):
        (ck / f"step_{s:07d}.pt").write_bytes(b"x")

    class Loaded:
        module = object()

    def evaluator(*a, **k):
        def ev(step, G):
            time.sleep(1.0)
            return {"coverage": {"value": step / 30, "features": "identity", "n": 100,
                                 "reference": 0.9},
                    "mode_histogram": {"features": "identity", "generated": [5, 0, 3],
                                       "reference": [3, 3, 3]}}
        return ev

    monkeypatch.setattr("diagnose.generators.load.load_generator", lambda p, device="cpu": Loaded())
    monkeypatch.setattr("diagnose.analysis.snapshot_evaluator", evaluator)
    import os

    old = time.time() - 600  # not a live run
    os.utime(tmp_path / "exp" / "a" / "metrics.jsonl", (old, old))
    dash_duo.start_server(create_app(tmp_path, refresh_ms=500))
    dash_duo.wait_for_page(url=dash_duo.server_url + "/run/exp/a")
    dash_duo.wait_for_contains_text("#run-eval-msg", "3 snapshot checkpoints not evaluated",
                                    timeout=15)
    dash_duo.find_element("#run-eval-button").click()
    assert _until(lambda: dash_duo.find_element("#run-eval-button").get_attribute("disabled"),
                  timeout=5)
    assert _until(lambda: 0 < float(dash_duo.find_element("#run-eval-progress")
                                    .get_attribute("value")) < 1, timeout=10)
    dash_duo.wait_for_contains_text("#run-eval-msg", "evaluated 3 snapshot", timeout=20)
    assert _until(lambda: "coverage [identity]" in _trace_names(dash_duo, "#run-evals"), timeout=10)
    assert _until(lambda: "generated" in _trace_names(dash_duo, "#run-hist"), timeout=10)
    assert dash_duo.get_logs() == []


def test_damaged_run_listed_as_damaged_and_bad_urls_answered(dash_duo, tmp_path):
    from dashboards import create_app

    for name, verdict in (("good", '{"verdict": "healthy", "flags": []}'),
                          ("bad", '{"verdict": ' + "[" * 20000 + "]" * 20000 + "}")):
        d = tmp_path / "exp" / name
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"experiment": "exp", "variant": name}))
        (d / "metrics.jsonl").write_text('{"step": 0, "d_loss": 1.0}\n')
        (d / "verdict.json").write_text(verdict)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    dash_duo.start_server(create_app(tmp_path, refresh_ms=60_000))
    dash_duo.wait_for_element("#browser-list a.run-link", timeout=15)
    text = dash_duo.find_element("#browser-list").text
    assert "damaged" in text and "healthy" in text
    dash_duo.wait_for_page(url=dash_duo.server_url + "/run/loop")
    dash_duo.wait_for_contains_text("#run-header", "cannot be resolved", timeout=10)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/run/exp/bad")
    dash_duo.wait_for_contains_text("#run-header", "damaged", timeout=10)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/run/exp/good")
    dash_duo.wait_for_text_to_equal("#run-badge", "healthy", timeout=10)
    assert dash_duo.get_logs() == []
