"""Screenshots of the dashboard in headless chromium, for the README and docs/DASHBOARD.md.

    python scripts/screenshot.py --runs runs                 # browser, run page, compare page
    python scripts/screenshot.py --runs runs --evaluate      # first press "Evaluate snapshots"
    python scripts/screenshot.py --example                   # example runs written to a temp dir

Starts the app on a free local port in a thread, opens each page with selenium + Debian's
chromium/chromedriver at 1280 px, waits for the figures and images, and saves one PNG per page
(docs/browser.png, docs/run_page.png, docs/compare.png), reduced to a palette so they stay small.
With --evaluate the run page's button is pressed and the script waits for the progress to finish
(about a minute per snapshot on a CPU): the screenshot then shows the evaluation panels filled.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick_run(store) -> str:
    """The most severe run (the one a reader most wants to see), else the first."""
    from dashboards.store import SEVERITY_RANK

    summaries = store.summaries()
    if not summaries:
        raise SystemExit(f"no runs under {store.root}")
    return max(summaries, key=lambda s: SEVERITY_RANK.get(s.severity, 0)).run_id


def shrink(path: Path, colors: int = 128) -> None:
    """Re-save a screenshot as an adaptive-palette PNG (a third of the size, same look)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
        im.save(path, optimize=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs", help="runs root")
    p.add_argument("--run", default=None, help="run id for the run page (default: most severe)")
    p.add_argument("--example", action="store_true", help="write example runs to a temp dir")
    p.add_argument("--evaluate", action="store_true",
                   help="press 'Evaluate snapshots' on the run page and wait for it")
    p.add_argument("--out-dir", default=str(ROOT / "docs"))
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--max-height", type=int, default=3200)
    p.add_argument("--pages", default="browser,run,compare",
                   help="comma-separated subset of browser,run,compare")
    args = p.parse_args(argv)

    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    from werkzeug.serving import make_server

    from dashboards import create_app
    from dashboards.panels.common import compare_href, run_href

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the console
    runs = Path(args.runs)
    if args.example:
        from dashboards.examples import write_example_runs

        runs = Path(tempfile.mkdtemp(prefix="gan-diagnose-example-"))
        write_example_runs(runs, steps=2000)
    app = create_app(runs, refresh_ms=1000)
    run_id = args.run or pick_run(app.store)
    experiment = app.store.view(run_id).run.experiment
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"

    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run", "--hide-scrollbars", f"--window-size={args.width},1000"):
        opts.add_argument(a)
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(options=opts)
    images_loaded = ("return Array.from(document.querySelectorAll('img')).every("
                     "i => !i.src || (i.complete && i.naturalWidth > 0));")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []

    def shoot(name: str) -> None:
        time.sleep(1.5)  # let plotly finish its transitions
        height = min(args.max_height, driver.execute_script(
            "return document.documentElement.scrollHeight") + 20)
        driver.set_window_size(args.width, height)
        time.sleep(0.8)
        again = min(args.max_height, driver.execute_script(  # figures may relayout taller
            "return document.documentElement.scrollHeight") + 20)
        if again > height:
            driver.set_window_size(args.width, again)
            time.sleep(0.8)
        path = out_dir / name
        driver.save_screenshot(str(path))
        shrink(path)
        driver.set_window_size(args.width, 1000)
        saved.append(path)

    try:
        wait = WebDriverWait(driver, 240)
        pages = set(args.pages.split(","))
        if "browser" in pages:
            driver.get(base + "/")
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "a.run-link")))
            shoot("browser.png")
        if "run" in pages:
            driver.get(base + run_href(run_id))
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#run-dynamics .main-svg")))
            if args.evaluate:
                btn = driver.find_elements(By.CSS_SELECTOR, "#run-eval-button")
                if btn and btn[0].is_displayed() and btn[0].is_enabled():
                    btn[0].click()
                    t = time.time()
                    WebDriverWait(driver, 1800).until(lambda d: not d.execute_script(
                        "const b=document.querySelector('#run-eval-button');return b&&b.disabled;")
                        and time.time() - t > 3)
                    print(f"evaluated in {time.time() - t:.0f} s: "
                          f"{driver.find_element(By.CSS_SELECTOR, '#run-eval-msg').text}")
                    time.sleep(3)  # the page redraws when evals.jsonl changes
            wait.until(lambda d: d.execute_script(images_loaded))
            shoot("run_page.png")
        if "compare" in pages:
            driver.get(base + compare_href(experiment))
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#compare-graph .main-svg")))
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#compare-grids img")))
            wait.until(lambda d: d.execute_script(images_loaded))
            shoot("compare.png")
    finally:
        driver.quit()
        server.shutdown()
        if args.example:
            shutil.rmtree(runs, ignore_errors=True)
    for path in saved:
        print(f"saved {path} ({path.stat().st_size // 1024} KB)")
    print(f"(run page: {run_id} under {runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
