"""Screenshot of the dashboard's run page in headless chromium, for the README.

    python scripts/screenshot.py --runs runs --run upsample_vs_convtranspose/convtranspose
    python scripts/screenshot.py --example          # example runs written to a temp dir

Starts the app on a free local port in a thread, opens the run page with selenium + Debian's
chromium/chromedriver, waits for the figures and the sample grid, and saves a full-page PNG.
"""
from __future__ import annotations

import argparse
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs", help="runs root")
    p.add_argument("--run", default=None, help="run id (default: the most severe verdict)")
    p.add_argument("--example", action="store_true", help="write example runs to a temp dir")
    p.add_argument("--out", default=str(ROOT / "docs" / "run_page.png"))
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--max-height", type=int, default=2600)
    args = p.parse_args(argv)

    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    from werkzeug.serving import make_server

    from dashboards import create_app

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the console
    runs = Path(args.runs)
    if args.example:
        from dashboards.examples import write_example_runs

        runs = Path(tempfile.mkdtemp(prefix="gan-diagnose-example-"))
        write_example_runs(runs, steps=2000)
    app = create_app(runs, refresh_ms=600_000)
    run_id = args.run or pick_run(app.store)
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run", "--hide-scrollbars", f"--window-size={args.width},1000"):
        opts.add_argument(a)
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(options=opts)
    try:
        from dashboards.panels.common import run_href

        driver.get(f"http://127.0.0.1:{port}{run_href(run_id)}")
        wait = WebDriverWait(driver, 30)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#run-dynamics .main-svg")))
        wait.until(lambda d: d.execute_script(
            "const i=document.querySelector('#run-grid');return !i||!i.src||(i.complete&&i.naturalWidth>0);"))
        time.sleep(1.5)  # let plotly finish its transitions
        height = min(args.max_height, driver.execute_script("return document.body.scrollHeight") + 40)
        driver.set_window_size(args.width, height)
        time.sleep(0.5)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(args.out)
    finally:
        driver.quit()
        server.shutdown()
        if args.example:
            shutil.rmtree(runs, ignore_errors=True)
    print(f"saved {args.out} (run {run_id} under {runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
