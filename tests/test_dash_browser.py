"""Real-browser tests of the dashboard: headless Debian chromium driven by dash's ``dash_duo``.

The ``dash_duo`` fixture is redefined here (same class as dash's plugin) so the browser runs
headless with the options Debian's chromium needs, without a conftest hook or a ``--headless`` flag.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMEDRIVER is None or not Path(CHROMIUM).exists(),
                       reason="needs Debian's chromium + chromium-driver (apt-get install chromium "
                              "chromium-driver; `make test` installs them when it can)"),
]


def chrome_options():
    """Headless chromium options that work as root in a container without a GPU."""
    from selenium.webdriver.chrome.options import Options

    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,1000"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    return opts


@pytest.fixture
def dash_duo(request, tmp_path):
    """dash's DashComposite on a threaded server, headless (overrides the plugin's fixture)."""
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    with ThreadedRunner() as server, DashComposite(
            server=server, browser="Chrome", headless=False, options=[chrome_options()],
            download_path=str(tmp_path / "download")) as duo:
        yield duo


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """Two example runs (healthy, collapse) of one experiment."""
    from dashboards.examples import write_example_runs

    root = tmp_path_factory.mktemp("runs")
    write_example_runs(root, steps=400)
    return root


def test_browse_open_run_and_move_slider(dash_duo, runs_root):
    from selenium.webdriver.common.keys import Keys

    from dashboards import create_app

    app = create_app(runs_root, refresh_ms=60_000)
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("h3 a.compare-link", "compare 2 variants", timeout=10)
    # the filter hides the healthy run
    dash_duo.find_element("#browser-filter").send_keys("collapse")
    dash_duo.wait_for_text_to_equal("#browser-list a.run-link", "collapse", timeout=5)
    assert len(dash_duo.find_elements("#browser-list a.run-link")) == 1
    dash_duo.find_element("#browser-list a.run-link").click()
    dash_duo.wait_for_contains_text("#run-header h2", "example / collapse", timeout=10)
    dash_duo.wait_for_text_to_equal("#run-badge", "mode_collapse", timeout=5)
    dash_duo.wait_for_element("#run-dynamics .main-svg", timeout=10)
    # the slider starts on the newest snapshot; Home moves it to the first one
    dash_duo.wait_for_contains_text("#run-caption", "step 400", timeout=10)
    src_last = dash_duo.find_element("#run-grid").get_attribute("src")
    assert "step_0000400.png" in src_last
    dash_duo.find_element("#run-slider [role=slider]").send_keys(Keys.HOME)
    dash_duo.wait_for_contains_text("#run-caption", "step 0 ", timeout=10)
    src_first = dash_duo.find_element("#run-grid").get_attribute("src")
    assert src_first != src_last and "step_0000000.png" in src_first
    # the image really loads through the file route
    assert dash_duo.driver.execute_script(
        "const i = document.querySelector('#run-grid'); return i.complete && i.naturalWidth;") > 0
    # zooming asks the server for that window only (re-decimated at full resolution)
    dash_duo.driver.execute_script(
        "Plotly.relayout(document.querySelector('#run-dynamics .js-plotly-plot'), "
        "{'xaxis.range': [100, 150]});")
    first_x = ("const x = document.querySelector('#run-dynamics .js-plotly-plot').data[0].x;"
               "return Math.min(...Array.from(x));")
    until = time.time() + 10
    while dash_duo.driver.execute_script(first_x) < 99 and time.time() < until:
        time.sleep(0.1)
    assert dash_duo.driver.execute_script(first_x) >= 99
    assert dash_duo.get_logs() == []


def test_comparison_view(dash_duo, runs_root):
    from dashboards import create_app

    dash_duo.start_server(create_app(runs_root, refresh_ms=60_000))
    dash_duo.wait_for_element("h3 a.compare-link", timeout=10).click()
    dash_duo.wait_for_contains_text("#compare-title", "2 variants", timeout=10)
    rows = dash_duo.find_elements("#compare-table tbody tr")
    assert len(rows) == 2
    assert "mode_collapse" in dash_duo.find_element("#compare-table").text
    dash_duo.wait_for_element("#compare-graph .main-svg", timeout=10)
    legend = dash_duo.find_element("#compare-graph .legend").text
    assert "healthy" in legend and "collapse" in legend
    assert dash_duo.get_logs() == []


def test_live_run_refreshes_without_reload(dash_duo, tmp_path):
    from diagnose.runs import RunWriter

    from dashboards import create_app

    w = RunWriter(tmp_path / "live" / "a")
    w.write_config({"experiment": "live", "variant": "a"})
    w.metrics.extend({"step": s, "d_loss": 1.0, "g_loss": 0.7} for s in range(10))
    dash_duo.start_server(create_app(tmp_path, refresh_ms=300))
    dash_duo.wait_for_page(url=dash_duo.server_url + "/run/live/a")
    dash_duo.wait_for_contains_text("#run-header", "10 logged steps", timeout=10)
    dash_duo.driver.execute_script("window.__marker = 1;")  # survives only without a reload
    with open(tmp_path / "live" / "a" / "metrics.jsonl", "a") as f:
        f.write("".join(json.dumps({"step": s, "d_loss": 1.0}) + "\n" for s in range(10, 25)))
        f.write('{"step": 25, "d_lo')  # a partial line, as a writer mid-flush leaves it
    dash_duo.wait_for_contains_text("#run-header", "25 logged steps", timeout=10)
    assert dash_duo.driver.execute_script("return window.__marker;") == 1
    w.write_verdict({"verdict": "d_not_learning", "confidence": 0.9, "flags": [
        {"code": "d_not_learning", "severity": "warn", "summary": "D at chance", "steps": [0, 20]}]})
    dash_duo.wait_for_text_to_equal("#run-badge", "d_not_learning", timeout=10)
    w.close()
    assert dash_duo.get_logs() == []


def test_traversal_in_url_is_refused(dash_duo, runs_root):
    from dashboards import create_app

    # the root is one run; its sibling exists and is a run, but lies outside the root
    dash_duo.start_server(create_app(runs_root / "example" / "collapse", refresh_ms=60_000))
    dash_duo.wait_for_page(url=dash_duo.server_url + "/run/..%2Fhealthy")
    dash_duo.wait_for_contains_text("#run-header", "outside the runs root", timeout=10)
    time.sleep(0.2)
    assert dash_duo.get_logs() == []
