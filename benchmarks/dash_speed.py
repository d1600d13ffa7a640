"""How fast the dashboard draws a 1,000,000-step run, against drawing it undecimated.

    .venv/bin/python benchmarks/dash_speed.py [--steps 1000000] [--no-browser] [--no-json-baseline]
        [--compare-with TREE [--rounds 3]]

Writes a synthetic metrics.jsonl (every Monitor field, one row per step) to a temp dir, then
measures, in one process:
  first      first paint of the curves, cold: what the run page's curves callback draws first
             (for a log over the store's LIGHT_BYTES a bounded preview of its rows, while the
             whole file parses in the background), and how long until the full figure is ready
  cold       parse (msgspec columns) + decimate + build the full dynamics figure + serialize it
  warm       the dynamics callback through Dash's HTTP endpoint (test client), cache hit
  zoom       the same callback with a zoom window (re-decimated at full resolution inside it)
  baseline   the same figure built from the undecimated series (+ its JSON size), and the
             baseline parse: diagnose.runs.read_jsonl (json.loads per line)
  browser    (when chromium + chromedriver exist) page open -> verdict card shown, -> dynamics
             plot drawn (the preview, for a long log), -> full curves drawn, cold server
  --compare-with TREE  runs TREE's own benchmarks/dash_speed.py (e.g. the code before a change,
             a `git worktree add` checkout) on the same machine, alternating with this tree's
             measurements for --rounds rounds (default 3), and prints a table of the medians'
             ratios, this tree / that tree (wall and CPU time; below 1 = this tree faster)
The run page draws with its defaults: EMA smoothing 0.6 (raw curve kept faint), D/G axes split
when their scales differ. Prints times, ratios and the load average.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_metrics(path: Path, steps: int) -> None:
    """A metrics.jsonl like Monitor's, with an oscillation and spikes that decimation must keep."""
    import numpy as np

    rng = np.random.default_rng(0)
    s = np.arange(steps)
    d_loss = 1.2 + 0.2 * np.sin(s / 5000) + rng.normal(0, 0.05, steps)
    d_loss[steps // 3] = 9.0                       # one spike: must survive decimation
    g_loss = 0.8 + 0.1 * np.cos(s / 7000) + rng.normal(0, 0.05, steps)
    d_real = np.clip(0.6 + rng.normal(0, 0.02, steps), 0, 1)
    d_fake = np.clip(0.4 + rng.normal(0, 0.02, steps), 0, 1)
    gd, gg = np.abs(rng.normal(1, 0.3, steps)), np.abs(rng.normal(1, 0.3, steps))
    t0 = 1.7e9
    # Python floats (repr = shortest round-trip form, as json.dumps writes them)
    d_loss, g_loss, d_real, d_fake, gd, gg = (a.tolist() for a in (d_loss, g_loss, d_real, d_fake, gd, gg))
    with open(path, "w") as f:
        for i0 in range(0, steps, 100_000):
            i1 = min(steps, i0 + 100_000)
            f.write("".join(
                f'{{"step":{i},"epoch":{i // 1000},"d_loss":{d_loss[i]!r},"g_loss":{g_loss[i]!r},'
                f'"d_real":{d_real[i]!r},"d_fake":{d_fake[i]!r},"grad_norm_d":{gd[i]!r},'
                f'"grad_norm_g":{gg[i]!r},"lr_d":0.0002,"lr_g":0.0002,"time":{t0 + i * 0.01:.3f}}}\n'
                for i in range(i0, i1)))


ZOOM_HASH = ""
DYN_OUTPUT = "run-dynamics.figure"  # the curves callback's output key (several outputs: see main)
CPU: dict[str, float] = {}  # CPU seconds of the last timed() call per label (see main)


def timed(fn, repeat: int = 1, label: str | None = None) -> tuple[float, object]:
    """Median wall time of ``fn()`` over ``repeat`` calls, and its last result.

    The process CPU time is kept too (CPU[label]): on a shared machine wall time includes
    waiting for a core, CPU time is the work itself.
    """
    times, cpus, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    if label:
        CPU[label] = statistics.median(cpus)
    return statistics.median(times), out


def callback_payload(pathname: str, sig: str, relayout=None, smooth=0.6, logy=(),
                     split="auto") -> dict:
    """The request Dash's renderer sends for the run page's dynamics (or zoom) callback."""
    url = {"id": "url", "property": "pathname", "value": pathname}
    controls = [{"id": "run-smooth", "property": "value", "value": smooth},
                {"id": "run-logy", "property": "value", "value": list(logy)},
                {"id": "run-split", "property": "value", "value": split},
                {"id": "run-overlay", "property": "value", "value": []}]
    if relayout:
        return {"output": "run-dynamics.figure@" + ZOOM_HASH,
                "outputs": {"id": "run-dynamics", "property": "figure@" + ZOOM_HASH},
                "inputs": [{"id": "run-dynamics", "property": "relayoutData", "value": relayout}],
                "state": [url, *controls], "changedPropIds": ["run-dynamics.relayoutData"]}
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]}
               for o in DYN_OUTPUT.strip(".").split("...")]
    poll = [{"id": "run-curves-poll", "property": "n_intervals", "value": None}] \
        if "run-curves-poll" in DYN_OUTPUT else []
    return {"output": DYN_OUTPUT, "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [{"id": "run-sig", "property": "data", "value": sig}, *controls, *poll],
            "state": [{"id": "run-dynamics", "property": "relayoutData", "value": None}, url],
            "changedPropIds": ["run-sig.data"]}


def browser_paint(app, pathname: str) -> tuple[float, float, float] | None:
    """Seconds from opening the run page (cold server cache) to (verdict shown, curves drawn,
    full curves drawn: no preview note left)."""
    if not (shutil.which("chromedriver") and shutil.which("chromium")):
        return None
    import threading

    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from werkzeug.serving import make_server

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1000"):
        opts.add_argument(a)
    opts.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(options=opts)
    try:
        # load the JS bundles first, on a page that does not prefetch runs
        driver.get(f"http://127.0.0.1:{server.port}/compare/-")
        time.sleep(1.0)
        _cold(app)
        t = time.perf_counter()
        driver.get(f"http://127.0.0.1:{server.port}{pathname}")
        first = None
        while not driver.execute_script(
                "return document.querySelectorAll('#run-dynamics .scatterlayer .trace').length > 0"):
            if first is None and driver.execute_script(
                    "return !!document.querySelector('#run-badge, #run-header h2');"):
                first = time.perf_counter() - t
            if time.perf_counter() - t > 60:
                return (first or float("inf"), float("inf"), float("inf"))
            time.sleep(0.02)
        done = time.perf_counter() - t
        while driver.execute_script(
                "const n = document.querySelector('#run-curves-note'); return !!(n && n.textContent);"):
            if time.perf_counter() - t > 60:
                return (first or done, done, float("inf"))
            time.sleep(0.02)
        full = time.perf_counter() - t
        return (first if first is not None else done, done, full)
    finally:
        driver.quit()
        server.shutdown()


def _cold(app) -> None:
    """Forget everything parsed or read (after any background parse has finished)."""
    while any(t.name == "dash-warm" for t in __import__("threading").enumerate()):
        time.sleep(0.01)
    app.store.metrics._entries.clear()
    getattr(app.store.metrics, "_previews", {}).clear()
    app.store._small.clear()


def first_paint(app, page, rid: str):
    """(seconds to the first curves figure + JSON, cold; seconds until the full figure is built,
    from the same start; the first figure's preview note or ''), CPU of the first in CPU["first"]."""
    import plotly.io as pio

    _cold(app)
    t, c = time.perf_counter(), time.process_time()
    view = app.store.curves(rid)
    pio.to_json(page.dynamics(view, smoothing=0.6), validate=False)
    first, CPU["first"] = time.perf_counter() - t, time.process_time() - c
    cols = view.columns
    note = f"preview of {len(cols):,} of about {cols.total_estimate:,} rows" if cols.sampled else ""
    while app.store.parsing(rid):
        time.sleep(0.005)
    pio.to_json(page.dynamics(app.store.curves(rid), smoothing=0.6), validate=False)
    return first, time.perf_counter() - t, note


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--no-json-baseline", action="store_true")
    p.add_argument("--compare-with", metavar="TREE", default=None,
                   help="a checkout of the code before (its benchmarks/dash_speed.py is run after "
                        "this one, same steps and options) to print new/old ratios")
    p.add_argument("--rounds", type=int, default=3,
                   help="with --compare-with: alternating rounds of the two trees (medians compared)")
    args = p.parse_args(argv)

    import plotly.io as pio

    from dashboards import create_app
    from dashboards.panels.common import run_href

    import os

    print(f"load average at the start: {', '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    tmp = Path(tempfile.mkdtemp(prefix="dash-speed-"))
    run = tmp / "bench" / "long"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"experiment": "bench", "variant": "long"}))
    (run / "verdict.json").write_text(json.dumps({"verdict": "oscillation", "confidence": 0.7, "flags": [
        {"code": "oscillation", "severity": "warn", "summary": "periodic swings",
         "steps": [args.steps // 4, args.steps // 2], "evidence": {}, "advice": []}], "metrics": {}}))
    t, _ = timed(lambda: write_metrics(run / "metrics.jsonl", args.steps))
    size_mb = (run / "metrics.jsonl").stat().st_size / 1e6
    print(f"wrote {args.steps:,} steps ({size_mb:.0f} MB) in {t:.1f} s to {run}")

    app = create_app(tmp, refresh_ms=2000)
    global ZOOM_HASH  # Dash names a duplicate output "prop@hash"; the zoom callback has one
    ZOOM_HASH = next(k.split("@")[1] for k in app.callback_map if k.startswith("run-dynamics.figure@"))
    global DYN_OUTPUT
    DYN_OUTPUT = next(k for k in app.callback_map if "run-dynamics.figure" in k and "@" not in k)
    page = app.panels["run"]
    rid = "bench/long"

    def cold():
        view = app.store.view(rid)
        fig = page.dynamics(view, smoothing=0.6)  # the page's default: EMA 0.6, raw kept faint
        return view, pio.to_json(fig, validate=False)

    t_first, t_full, note = first_paint(app, page, rid)
    print(f"first paint, cold: curves view + decimate + figure + json {t_first * 1000:.0f} ms wall, "
          f"{CPU['first'] * 1000:.0f} ms CPU ({note or 'full figure, no preview'}); "
          f"full figure ready {t_full * 1000:.0f} ms after the start (background parse)")
    _cold(app)
    t_cold, (view, fig_json) = timed(cold, label="cold")
    t_parse, _ = timed(lambda: (app.store.metrics._entries.clear(), app.store.view(rid)), label="parse")
    n_points = sum(len(tr["x"]["bdata"]) if isinstance(tr["x"], dict) else len(tr["x"])
                   for tr in json.loads(fig_json)["data"])
    spike_kept = bool((view.columns.series("d_loss")[1] == 9.0).any())
    print(f"cold: parse+decimate+figure+json {t_cold * 1000:.0f} ms wall, {CPU['cold'] * 1000:.0f} ms CPU "
          f"(parse alone {t_parse * 1000:.0f} ms wall, {CPU['parse'] * 1000:.0f} ms CPU); "
          f"figure JSON {len(fig_json) / 1e6:.2f} MB")

    client = app.server.test_client()
    path = run_href(rid)
    sig = "s"
    t_warm, resp = timed(lambda: client.post("/_dash-update-component",
                                             json=callback_payload(path, sig)), repeat=7,
                           label="warm")
    assert resp.status_code == 200, resp.status_code
    warm_json = resp.get_data()
    zoom = {"xaxis.range[0]": args.steps * 0.40, "xaxis.range[1]": args.steps * 0.41}
    t_zoom, resp = timed(lambda: client.post("/_dash-update-component",
                                             json=callback_payload(path, sig, zoom)), repeat=7,
                           label="zoom")
    assert resp.status_code == 200, resp.status_code
    t_toggle, resp = timed(lambda: client.post("/_dash-update-component", json=callback_payload(
        path, sig, smooth=0.9, logy=["log"], split="separate")), repeat=7, label="toggle")
    assert resp.status_code == 200, resp.status_code
    print(f"controls callback (smoothing 0.9 + log y + separate axes, first EMA of that weight "
          f"then memo): {t_toggle * 1000:.0f} ms wall ({CPU['toggle'] * 1000:.0f} ms CPU) median of 7")
    print(f"warm callback (HTTP, cache hit): {t_warm * 1000:.0f} ms wall ({CPU['warm'] * 1000:.0f} ms CPU) "
          f"median of 7, response {len(warm_json) / 1e6:.2f} MB; zoomed to 1% of steps: "
          f"{t_zoom * 1000:.0f} ms wall ({CPU['zoom'] * 1000:.0f} ms CPU)")

    def undecimated():
        series = {n: view.columns.series(n) for n in view.columns.names}
        from dashboards.figures import dynamics_figure

        fig = dynamics_figure(series, view.flags, buckets=10 ** 9)
        return pio.to_json(fig, validate=False)

    t_base, base_json = timed(undecimated, label="base")
    warm_fig, _ = timed(lambda: pio.to_json(page.dynamics(app.store.view(rid)), validate=False), repeat=5,
                        label="warm_fig")
    print(f"baseline, undecimated figure+json: {t_base * 1000:.0f} ms, JSON {len(base_json) / 1e6:.1f} MB "
          f"(decimated figure from cache: {warm_fig * 1000:.0f} ms, {len(fig_json) / 1e6:.2f} MB) -> "
          f"{t_base / warm_fig:.1f}x faster, {len(base_json) / len(fig_json):.0f}x smaller")
    print(f"spike at step {args.steps // 3}: in the data {spike_kept}, kept after decimation "
          f"{_spike_in(fig_json)}")
    if not args.no_json_baseline:
        from diagnose.runs import read_jsonl

        t_json, _ = timed(lambda: read_jsonl(run / "metrics.jsonl"), label="json")
        print(f"baseline parse, diagnose.runs.read_jsonl (json.loads per line): {t_json * 1000:.0f} ms "
              f"-> columnar msgspec parse {t_json / t_parse:.1f}x faster")
    if not args.no_browser:
        t_paint = browser_paint(app, path)
        if t_paint is None:
            print("browser paint: skipped (no chromium/chromedriver)")
        else:
            print(f"browser paint, cold cache (open run page -> verdict shown): "
                  f"{t_paint[0] * 1000:.0f} ms")
            print(f"browser paint, cold cache (open run page -> curves drawn): {t_paint[1] * 1000:.0f} ms")
            print(f"browser paint, cold cache (open run page -> full curves drawn): "
                  f"{t_paint[2] * 1000:.0f} ms")
    for name, cold_s, warm_s in (("wall", t_first, t_warm), ("CPU", CPU["first"], CPU["warm"])):
        ok = "OK" if cold_s < 1.5 and warm_s < 0.2 else "OVER BUDGET"
        print(f"budgets ({name} time): first paint cold {cold_s * 1000:.0f} < 1500 ms, callback "
              f"{warm_s * 1000:.0f} < 200 ms: {ok}")
    if args.compare_with:
        new = {"first": t_first, "first_cpu": CPU["first"], "full": t_full,
               "cold": t_cold, "cold_cpu": CPU["cold"], "parse": t_parse, "parse_cpu": CPU["parse"],
               "warm": t_warm, "warm_cpu": CPU["warm"], "zoom": t_zoom, "toggle": t_toggle}
        if not args.no_browser and t_paint:
            new["verdict"], new["paint"], new["paint_full"] = t_paint

        def again() -> dict:
            """This tree's figures measured once more (cold caches again), for the next round."""
            got = dict(zip(("first", "full"), first_paint(app, page, rid)[:2]))
            got["first_cpu"] = CPU["first"]
            _cold(app)
            got.update({"cold": timed(cold, label="cold")[0], "cold_cpu": CPU["cold"]})
            got["parse"] = timed(lambda: (app.store.metrics._entries.clear(), app.store.view(rid)),
                                 label="parse")[0]
            got["parse_cpu"] = CPU["parse"]
            got["warm"] = timed(lambda: client.post("/_dash-update-component",
                                                    json=callback_payload(path, sig)), repeat=7,
                                label="warm")[0]
            got["warm_cpu"] = CPU["warm"]
            got["zoom"] = timed(lambda: client.post("/_dash-update-component",
                                                    json=callback_payload(path, sig, zoom)), repeat=7)[0]
            got["toggle"] = timed(lambda: client.post("/_dash-update-component", json=callback_payload(
                path, sig, smooth=0.9, logy=["log"], split="separate")), repeat=7)[0]
            if not args.no_browser:
                paint = browser_paint(app, path)
                if paint:
                    got["verdict"], got["paint"], got["paint_full"] = paint
            return got

        compare_with(args, new, again)
    print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


#: What --compare-with reads from the other tree's output (its format is this script's own).
#: A row may give several patterns, tried in order: a tree without a preview draws its first
#: curves from the full parse, so its "first paint" is its cold line and its "full curves drawn"
#: is its "curves drawn".
COMPARE_ROWS = (
    ("first", "first paint, cold: curves view + figure + JSON, wall",
     (r"first paint, cold: curves view \+ decimate \+ figure \+ json (\d+) ms wall",
      r"cold: parse\+decimate\+figure\+json (\d+) ms wall")),
    ("first_cpu", "first paint, cold: the same, CPU",
     (r"first paint, cold: curves view \+ decimate \+ figure \+ json \d+ ms wall, (\d+) ms CPU",
      r"cold: parse\+decimate\+figure\+json \d+ ms wall, (\d+) ms CPU")),
    ("full", "full figure ready (background parse), wall",
     (r"full figure ready (\d+) ms after", r"cold: parse\+decimate\+figure\+json (\d+) ms wall")),
    ("cold", "cold: parse + decimate + figure + JSON, wall",
     r"cold: parse\+decimate\+figure\+json (\d+) ms wall"),
    ("cold_cpu", "cold: the same, CPU", r"cold: parse\+decimate\+figure\+json \d+ ms wall, (\d+) ms CPU"),
    ("parse", "parse alone, wall", r"\(parse alone (\d+) ms wall"),
    ("parse_cpu", "parse alone, CPU", r"\(parse alone \d+ ms wall, (\d+) ms CPU"),
    ("warm", "warm callback (HTTP), wall", r"warm callback \(HTTP, cache hit\): (\d+) ms wall"),
    ("warm_cpu", "warm callback (HTTP), CPU",
     r"warm callback \(HTTP, cache hit\): \d+ ms wall \((\d+) ms CPU"),
    ("zoom", "zoom callback (1 % of steps), wall", r"zoomed to 1% of steps: (\d+) ms wall"),
    ("toggle", "controls callback (smoothing, log y, axes), wall", r"controls callback .*?: (\d+) ms wall"),
    ("verdict", "browser: open run page -> verdict shown", r"\(open run page -> verdict shown\): (\d+) ms"),
    ("paint", "browser: open run page -> curves drawn", r"\(open run page -> curves drawn\): (\d+) ms"),
    ("paint_full", "browser: open run page -> full curves drawn",
     (r"\(open run page -> full curves drawn\): (\d+) ms", r"\(open run page -> curves drawn\): (\d+) ms")),
)


def compare_with(args, new: dict, again) -> None:
    """Run the other tree's benchmark now (same steps, same load) and print new/old ratios.

    ``--rounds`` rounds alternate the two trees (this, other, this, other, ...) so a change of
    load on the shared machine falls on both; the table gives each tree's median.
    """
    import os
    import re
    import subprocess

    tree = Path(args.compare_with).resolve()
    if not (tree / "benchmarks" / "dash_speed.py").is_file():
        print(f"error: {tree} has no benchmarks/dash_speed.py", file=sys.stderr)
        return
    cmd = [sys.executable, str(tree / "benchmarks" / "dash_speed.py"), "--steps", str(args.steps),
           "--no-json-baseline"] + (["--no-browser"] if args.no_browser else [])
    mine = {k: [v] for k, v in new.items()}
    theirs: dict[str, list[float]] = {}
    for r in range(args.rounds):
        if r:
            for k, v in again().items():
                mine.setdefault(k, []).append(v)
        print(f"\n--- round {r + 1}: the same benchmark on {tree} (the code before), run now "
              f"(load {os.getloadavg()[0]:.1f}) ---", flush=True)
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, timeout=1800,
                             env={**os.environ, "PYTHONPATH": str(tree)}).stdout
        print(out.rstrip())
        for key, _, pats in COMPARE_ROWS:
            for pat in (pats,) if isinstance(pats, str) else pats:
                m = re.search(pat, out)
                if m:
                    theirs.setdefault(key, []).append(float(m.group(1)) / 1000)
                    break
    print(f"--- this tree / {tree.name}: medians of {args.rounds} alternating round(s) on the same "
          f"machine (< 1: this tree faster) ---")
    print(f"{'':50} {'this':>8} {'before':>8} {'ratio':>6}")
    for key, label, _ in COMPARE_ROWS:
        if mine.get(key) and theirs.get(key):
            a, b = statistics.median(mine[key]), statistics.median(theirs[key])
            ratio = f"{a / b:.2f}" if b > 0 else "-"
            print(f"{label:50} {a * 1000:6.0f}ms {b * 1000:6.0f}ms {ratio:>6}")
            print(f"{'':50} (this: {', '.join(f'{v * 1000:.0f}' for v in mine[key])}; before: "
                  f"{', '.join(f'{v * 1000:.0f}' for v in theirs[key])})")


def _spike_in(fig_json: str) -> bool:
    """Whether the 9.0 spike is among the decimated D-loss points."""
    import base64

    import numpy as np

    data = json.loads(fig_json)["data"]
    raw = "D loss (raw)" if any(tr.get("name") == "D loss (raw)" for tr in data) else "D loss"
    for tr in data:
        if tr.get("name") == raw:  # the raw curve (the smoothed one is drawn over it)
            y = tr["y"]
            if isinstance(y, dict):
                y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
            return bool(np.isclose(np.asarray(y, float), 9.0).any())
    return False


if __name__ == "__main__":
    sys.exit(main())
