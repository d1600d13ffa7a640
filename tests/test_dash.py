"""Dashboard without a browser: decimation, the metrics column reader, figures, the run store,
path-traversal refusal, the file route, panels' renderers and the ``diagnose dash`` command."""
from __future__ import annotations

import json
import math
import socket

import numpy as np
import plotly.graph_objects as go
import pytest

from diagnose.core.errors import UserError
from diagnose.runs import RunWriter

from dashboards import figures as F
from dashboards.columns import ABSENT, MetricsCache
from dashboards.decimate import minmax_decimate


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def example_root(tmp_path_factory):
    """Two example runs written through Monitor (tiny torch generator)."""
    from dashboards.examples import write_example_runs

    root = tmp_path_factory.mktemp("runs")
    write_example_runs(root, steps=200)
    return root


def _write_jsonl(path, rows, tail=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


# ---------------------------------------------------------------------------- decimation
def test_decimation_keeps_extremes_and_bounds_length():
    rng = np.random.default_rng(0)
    y = rng.normal(size=1_000_003)
    y[123_457], y[999_000] = 50.0, -40.0
    x = np.arange(len(y), dtype=float)
    dx, dy = minmax_decimate(x, y, buckets=1000)
    assert len(dx) <= 2 * 1000 + 4
    assert dy.max() == 50.0 and dy.min() == -40.0
    assert dx[0] == 0 and dx[-1] == len(y) - 1          # ends kept
    assert np.all(np.diff(dx) > 0)                       # still in step order
    # every bucket's envelope survives: max of each original chunk appears in the output
    k = -(-len(y) // 1000)
    chunk_max = [y[i:i + k].max() for i in range(0, len(y), k)]
    assert set(np.round(chunk_max, 12)) <= set(np.round(dy, 12))


def test_decimation_short_series_untouched_and_nan_gaps_kept():
    x, y = np.arange(10.0), np.arange(10.0)
    dx, dy = minmax_decimate(x, y, buckets=100)
    assert np.array_equal(dx, x) and np.array_equal(dy, y)
    y = np.ones(100_000)
    y[50_000:60_000] = np.nan        # a diverged stretch: stays a visible gap
    y[10] = 7.0
    dx, dy = minmax_decimate(np.arange(len(y), dtype=float), y, buckets=500)
    assert np.isnan(dy).any() and np.nanmax(dy) == 7.0 and len(dy) <= 1002


def test_decimation_zoom_window_full_resolution_inside():
    x = np.arange(1_000_000, dtype=float)
    y = np.sin(x / 10)
    dx, dy = minmax_decimate(x, y, buckets=1000, x_range=(5000, 5999))
    assert len(dx) == 1002                                   # window + one point each side
    assert dx[0] == 4999 and dx[-1] == 6000


# ----------------------------------------------------------------------- metrics columns
def test_columns_partial_line_nulls_absent_fields_and_corrupt_lines(tmp_path):
    p = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "d_loss": 1.0 + s, "g_loss": 0.5} for s in range(5)]
    rows[2]["g_loss"] = None                    # a NaN written as null
    del rows[3]["g_loss"]                       # a field logged only on some steps
    text = "".join(json.dumps(r) + "\n" for r in rows)
    text = text.replace('{"step": 4', 'garbage\n{"step": 4')   # one corrupt line
    p.write_text(text + '{"step": 5, "d_lo')                     # a partial last line
    cols = MetricsCache().get(p)
    assert list(cols.steps) == [0, 1, 2, 3, 4]
    assert cols.skipped == 1
    x, y = cols.series("g_loss")
    assert list(x) == [0, 1, 2, 4] and math.isnan(y[2]) and y[3] == 0.5
    assert cols.last("d_loss") == 5.0 and cols.names == ["d_loss", "g_loss"]
    assert cols.values["g_loss"][3] == ABSENT


def test_columns_cache_reads_only_appended_bytes_and_rereads_on_shrink(tmp_path):
    p = tmp_path / "metrics.jsonl"
    _write_jsonl(p, [{"step": s, "d_loss": float(s)} for s in range(100)], tail='{"step": 100, "d_')
    cache = MetricsCache()
    first = cache.get(p)
    assert len(first) == 100
    assert cache.get(p) is first                               # unchanged file: same object
    entry = cache._entries[p]
    offset = entry.offset
    with open(p, "r+") as f:                                   # the writer repairs and appends
        f.truncate(offset)
        f.seek(offset)
        f.write("".join(json.dumps({"step": s, "d_loss": float(s)}) + "\n" for s in range(100, 150)))
    grown = cache.get(p)
    assert len(grown) == 150 and cache._entries[p].offset > offset
    assert np.array_equal(grown.series("d_loss")[1], np.arange(150.0))
    _write_jsonl(p, [{"step": s, "g_loss": 2.0} for s in range(3)])   # rewritten, shorter
    again = cache.get(p)
    assert len(again) == 3 and again.names == ["g_loss"]
    assert len(cache.get(tmp_path / "missing.jsonl")) == 0


def test_columns_new_field_in_appended_rows_triggers_full_read(tmp_path):
    p = tmp_path / "metrics.jsonl"
    _write_jsonl(p, [{"step": s, "d_loss": 1.0} for s in range(10)])
    cache = MetricsCache()
    cache.get(p)
    with open(p, "a") as f:
        f.write(json.dumps({"step": 10, "d_loss": 1.0, "fid_proxy": 3.0}) + "\n")
    cols = cache.get(p)
    assert "fid_proxy" in cols.names and cols.series("fid_proxy")[0].tolist() == [10]


# ---------------------------------------------------------------------------------- figures
def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_dynamics_figure_reference_lines_flags_and_decimation():
    n = 200_000
    x = np.arange(n, dtype=float)
    series = {"d_loss": (x, np.full(n, 1.38)), "g_loss": (x, np.full(n, 0.69)),
              "d_real": (x, np.full(n, 0.5)), "d_fake": (x, np.full(n, 0.5))}
    flags = [{"code": "d_not_learning", "severity": "warn", "summary": "D answers 0.5 for everything",
              "steps": [1000, 150_000]}, {"code": "healthy", "severity": "info", "summary": "no range"}]
    fig = F.dynamics_figure(series, flags, buckets=500)
    assert isinstance(fig, go.Figure)
    assert len(_trace(fig, "D loss").x) <= 1002 and len(_trace(fig, "D(G(z))").x) <= 1002
    ys = sorted(s.y0 for s in fig.layout.shapes)
    assert ys == pytest.approx(sorted([math.log(2), 2 * math.log(2), 0.5]))
    assert {a.text for a in fig.layout.annotations} >= {"ln 2", "2 ln 2", "0.5 (chance)",
                                                        "Losses", "D(x) and D(G(z))"}
    shaded = [t for t in fig.data if t.name == "flag: d_not_learning"]
    assert len(shaded) == 2                                   # one per subplot row
    assert shaded[0].fill == "toself" and shaded[0].hoveron == "fills"
    assert "D answers 0.5 for everything" in shaded[0].text
    assert min(shaded[0].x) == 1000 and max(shaded[0].x) == 150_000
    assert not any(t.name == "flag: healthy" for t in fig.data)   # no steps: not drawn


def test_dynamics_figure_missing_fields_and_empty():
    fig = F.dynamics_figure({"d_loss": ([0, 1, 2], [1.0, 0.9, 0.8]), "my_scalar": ([0, 1], [3, 4])})
    titles = [a.text for a in fig.layout.annotations]
    assert "Losses" in titles and "Other scalars" in titles and "Gradient norms" not in titles
    empty = F.dynamics_figure({})
    assert "no training metrics" in empty.layout.annotations[0].text


def test_evals_figure_names_the_extractor():
    evals = [{"step": 0, "fid": {"value": 80.0, "features": "mnist-lenet", "n": 1000},
              "coverage": {"value": 0.2, "features": "mnist-lenet", "n": 1000},
              "mode_histogram": {"features": "x", "generated": [1], "reference": [1]}},
             {"step": 100, "fid": {"value": 40.0, "features": "mnist-lenet", "n": 1000}}]
    fig = F.evals_figure(evals)
    names = {t.name for t in fig.data}
    assert names == {"fid [mnist-lenet]", "coverage [mnist-lenet]"}
    assert list(_trace(fig, "fid [mnist-lenet]").y) == [80.0, 40.0]
    assert "no evaluations" in F.evals_figure([]).layout.annotations[0].text


def test_mode_histogram_and_projection_figures():
    fig = F.mode_histogram_figure({"features": "stacked-mnist", "generated": [5, 0, 5, 0],
                                   "reference": [1, 1, 1, 1]})
    assert "2 of 4" in fig.layout.title.text and "stacked-mnist" in fig.layout.title.text
    assert list(_trace(fig, "generated").y) == [0.5, 0, 0.5, 0]
    proj = F.projection_figure({"method": "pca", "features": "identity",
                                "real": [[0, 0], [1, 1]], "generated": [[0.5, 0.5]]})
    assert len(_trace(proj, "real").x) == 2 and len(_trace(proj, "generated").x) == 1
    assert "identity" in proj.layout.title.text
    assert F.mode_histogram_figure(None).layout.annotations[0].text.startswith("no mode")


def test_compare_figure_one_colour_and_legend_entry_per_run():
    a = {"d_loss": ([0, 1], [1, 2]), "d_real": ([0, 1], [0.6, 0.7])}
    b = {"d_loss": ([0, 1, 2], [2, 1, 0])}
    fig = F.compare_figure({"base": a, "wide": b})
    legend = [t.name for t in fig.data if t.showlegend]
    assert legend == ["base", "wide"]
    assert {t.line.color for t in fig.data if t.name == "base"} != \
        {t.line.color for t in fig.data if t.name == "wide"}


# ------------------------------------------------------------------------ store and safety
def test_store_discovers_and_summarises_runs(example_root, tmp_path):
    from dashboards.store import RunStore

    store = RunStore(example_root)
    groups = store.experiments()
    assert list(groups) == ["example"]
    by_variant = {s.variant: s for s in groups["example"]}
    assert by_variant["collapse"].verdict == "mode_collapse"
    assert by_variant["collapse"].severity == "fail"
    assert by_variant["healthy"].verdict == "healthy" and by_variant["healthy"].severity == "ok"
    assert by_variant["collapse"].last["step"] == 200
    assert by_variant["collapse"].metrics["fid"]["features"] == "example-features"
    view = store.view("example/collapse")
    assert len(view.columns) == 201 and len(view.run.samples) == 3
    assert {f["code"] for f in view.flags} == {"mode_collapse", "d_overpowering"}


def test_traversal_refused(example_root, tmp_path):
    from dashboards.store import RunStore

    store = RunStore(example_root / "example")
    for bad in ("../example/healthy/../../..", "..", "/etc", "collapse/../../../etc",
                "../../", "nope"):
        with pytest.raises(UserError):
            store.resolve(bad)
    outside = tmp_path / "outside"
    RunWriter(outside).write_config({"experiment": "x"})
    (example_root / "example" / "link").symlink_to(outside, target_is_directory=True)
    try:
        with pytest.raises(UserError, match="outside"):
            store.resolve("link")
    finally:
        (example_root / "example" / "link").unlink()
    assert store.resolve("healthy").name == "healthy"


def test_file_route_serves_samples_only_inside_root(example_root):
    from dashboards import create_app

    # the root is one run; its sibling's grid exists and is a PNG in samples/, but lies outside
    app = create_app(example_root / "example" / "collapse")
    client = app.server.test_client()
    ok = client.get("/_runs-file/samples/step_0000000.png")
    assert ok.status_code == 200 and ok.data[:4] == b"\x89PNG"
    assert client.get("/_runs-file/../collapse/samples/step_0000000.png").status_code == 200
    for bad in ("/_runs-file/config.json", "/_runs-file/../healthy/samples/step_0000000.png",
                "/_runs-file/%2E%2E/healthy/samples/step_0000000.png",
                "/_runs-file/samples/none.png", "/_runs-file//etc/passwd"):
        r = client.get(bad)
        # refused by the route (404), or not matched by it at all (Dash's index page, HTML)
        assert r.status_code == 404 or (r.mimetype == "text/html" and b"<!DOCTYPE html>" in r.data), bad
        assert b"root:" not in r.data and b"PNG" not in r.data[:8], bad


def test_half_written_run_renders(tmp_path):
    """Only a partial metrics line and a corrupt verdict: every renderer still works."""
    from dashboards import create_app

    run = tmp_path / "exp" / "half"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 0, "d_loss": 1.0}\n{"step": 1, "d_lo')
    (run / "verdict.json").write_text('{"verdict": ')
    (run / "samples").mkdir()
    (run / "samples" / "step_0000000.png.tmp").write_bytes(b"partial")
    app = create_app(tmp_path)
    browser, page = app.panels["browser"], app.panels["run"]
    children, _ = browser.render("")
    assert "half" in str(children)
    view = app.store.view("exp/half")
    assert len(view.columns) == 1 and view.run.samples == [] and view.severity == "pending"
    assert page.header(view) and page.dynamics(view).data
    assert page.sample_src(view, 0) == (None, "No sample grids yet.")


def test_browser_filter_and_compare_table(example_root):
    from dashboards import create_app

    app = create_app(example_root)
    children, _ = app.panels["browser"].render("collapse")
    text = str(children)
    assert "collapse" in text and "'healthy'" not in text
    none, _ = app.panels["browser"].render("zzz-no-such")
    assert "No run matches" in str(none)
    cmp = app.panels["compare"]
    views = cmp.views("example")
    fig = cmp.figure(views, ["d_loss", "d_real"])
    assert {t.name for t in fig.data} == {"healthy", "collapse"}
    with pytest.raises(UserError):
        cmp.views("nope")


def test_relayout_parsing():
    from dashboards.panels.run_page import x_range_from_relayout

    assert x_range_from_relayout({"xaxis2.range[0]": 10, "xaxis2.range[1]": 20}) == (10, 20)
    assert x_range_from_relayout({"xaxis.autorange": True}) is None
    assert x_range_from_relayout({"autosize": True}) is False
    assert x_range_from_relayout(None) is False


def test_create_app_reads_nothing_and_refuses_missing_root(tmp_path):
    import importlib
    import sys

    sys.modules.pop("dashboards", None)
    mod = importlib.import_module("dashboards")
    assert not hasattr(mod, "app")
    with pytest.raises(UserError):
        mod.create_app(tmp_path / "missing")


# ---------------------------------------------------------------------------------- CLI
def test_cli_missing_runs_dir_exit_2(tmp_path, capsys):
    from diagnose.cli import main

    assert main(["dash", "--runs", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "runs directory not found" in err[0]


def test_cli_port_in_use_exit_2_and_host_warning(tmp_path, capsys):
    from diagnose.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["dash", "--runs", str(tmp_path), "--port", str(port)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "already in use" in err[0]
        assert main(["dash", "--runs", str(tmp_path), "--port", str(port), "--host", "0.0.0.0"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("warning: binding 0.0.0.0")


def test_loopback_detection():
    from diagnose.commands.dash import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_run_urls_round_trip_including_the_root_run():
    from dashboards.panels.common import run_href, run_id_from_path

    for rid in (".", "exp/variant", "exp with space/v%1"):
        assert run_id_from_path(run_href(rid)) == rid
    assert run_href(".") == "/run/" and run_id_from_path("/compare/x") is None


# ------------------------------------------------------------------- speed without waiting
def test_figures_built_without_validation_are_valid_plotly():
    """The figures skip plotly's per-property validation for speed: every key they set must
    still pass it (a validated figure is rebuilt from each one's JSON, and equals it)."""
    import plotly.io as pio

    n = 5000
    x = np.arange(n, dtype=float)
    rng = np.random.default_rng(0)
    series = {"d_loss": (x, 0.05 + rng.random(n)), "g_loss": (x, 15 + rng.random(n)),
              "d_real": (x, rng.random(n)), "d_fake": (x, rng.random(n)),
              "grad_norm_d": (x, rng.random(n)), "my_scalar": (x[::5], rng.random(n // 5))}
    flags = [{"code": "oscillation", "severity": "warn", "summary": "s", "steps": [10, 900]}]
    evals = [{"step": s, "fid": {"value": 9.0 - s, "features": "mnist-lenet", "n": 10, "reference": 1.0},
              "precision": {"value": 0.5, "features": "mnist-lenet", "n": 10},
              "recall": {"value": 0.5, "features": "mnist-lenet", "n": 10},
              "kid": {"value": None, "features": "inception", "n": 10}} for s in (0, 5)]
    figs = [F.dynamics_figure(series, flags, smoothing=0.6, log_y=True),
            F.dynamics_figure(series, flags, split_axes=False, x_range=(100, 200),
                              overlays={"other": {"d_loss": (x[:50], np.ones(50))}}),
            F.evals_figure(evals, [{"step": 5, "code": "mode_collapse", "severity": "fail"}]),
            F.compare_figure({"a": series, "b": series}, log_y=True)]
    for fig in figs:
        as_json = pio.to_json(fig, validate=False)
        checked = go.Figure(json.loads(as_json))              # validated: raises on a bad key
        assert json.loads(pio.to_json(checked)) == json.loads(as_json)


def test_peek_and_other_files_do_not_wait_for_a_parse_in_progress(tmp_path, monkeypatch):
    import threading

    import dashboards.columns as C

    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    _write_jsonl(big, [{"step": s, "d_loss": 1.0} for s in range(10)])
    _write_jsonl(small, [{"step": s, "d_loss": 2.0} for s in range(5)])
    started, release = threading.Event(), threading.Event()
    real = C._parse_range

    def slow_parse(path, start, names):
        if path == big:
            started.set()
            release.wait(10)
        return real(path, start, names)

    monkeypatch.setattr(C, "_parse_range", slow_parse)
    cache = MetricsCache()
    got = {}
    worker = threading.Thread(target=lambda: got.setdefault("big", cache.get(big)))
    worker.start()
    try:
        assert started.wait(10)
        assert cache.peek(big) is None                      # answered now, not after the parse
        assert len(cache.get(small)) == 5                   # another file parses meanwhile
        waiter = threading.Thread(target=lambda: got.setdefault("again", cache.get(big)))
        waiter.start()                                      # the same file: waits, parses once
    finally:
        release.set()
    worker.join(10)
    waiter.join(10)
    assert len(got["big"]) == 10 and got["again"] is got["big"]
    assert cache.peek(big) is got["big"]


def test_run_page_request_starts_parsing_a_long_log(tmp_path, monkeypatch):
    import time

    import dashboards.store as S
    from dashboards import create_app

    run = tmp_path / "exp" / "long"
    _write_jsonl(run / "metrics.jsonl", [{"step": s, "d_loss": 1.0, "g_loss": 2.0} for s in range(2000)])
    (run / "config.json").write_text(json.dumps({"experiment": "exp", "variant": "long"}))
    monkeypatch.setattr(S, "LIGHT_BYTES", 1000)            # this log counts as long
    app = create_app(tmp_path)
    m_path = app.store.resolve("exp/long") / "metrics.jsonl"
    assert app.store.metrics.peek(m_path) is None
    assert app.server.test_client().get("/run/exp/long").status_code == 200
    deadline = time.time() + 20
    while app.store.metrics.peek(m_path) is None and time.time() < deadline:
        time.sleep(0.05)
    assert len(app.store.metrics.peek(m_path)) == 2000     # parsed before any callback asked
    assert not app.store.warm("exp/long")                   # cached: nothing started again
    assert not app.store.warm("../outside")                 # refused ids start nothing


# ------------------------------------------------------------------ preview of a long log
def _counting_open(counter):
    """``open`` that adds up the bytes every read() of the file returns."""
    import builtins

    class Counted:
        def __init__(self, f):
            self._f = f

        def read(self, *a):
            data = self._f.read(*a)
            counter["bytes"] += len(data)
            return data

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    return lambda *a, **k: Counted(builtins.open(*a, **k))


def test_preview_reads_a_bounded_number_of_bytes_whatever_the_length(tmp_path, monkeypatch):
    import dashboards.columns as C

    windows, window = 16, 2048
    bound = windows * window + 2 * C._PROBE
    got = {}
    for n in (20_000, 200_000):                           # about 1 MB and 10 MB
        p = tmp_path / f"m{n}.jsonl"
        _write_jsonl(p, [{"step": s, "d_loss": s / 7, "epoch": s // 100} for s in range(n)])
        counter = {"bytes": 0}
        monkeypatch.setattr(C, "open", _counting_open(counter), raising=False)
        cols = C.preview(p, windows=windows, window=window)
        monkeypatch.delattr(C, "open")
        assert 0 < counter["bytes"] <= bound < p.stat().st_size
        assert cols.sampled and 0 < len(cols) < n
        assert abs(cols.total_estimate - n) < 0.05 * n    # "N of about M rows"
        steps, values = cols.series("d_loss")             # real rows, from start to end of file
        assert np.array_equal(values, steps / 7) and steps[0] == 0 and steps[-1] > 0.9 * n
        assert "epoch" not in cols.names                  # the same fields as the full parse
        got[n] = counter["bytes"]
    assert got[200_000] <= 1.1 * got[20_000]             # ten times the log, not ten times the cost
    small = tmp_path / "small.jsonl"                      # shorter than the windows: every row
    _write_jsonl(small, [{"step": s, "d_loss": 1.0} for s in range(50)])
    whole = C.preview(small, windows=windows, window=window)
    assert not whole.sampled and len(whole) == 50
    wide = tmp_path / "wide.jsonl"                        # every line longer than a window
    _write_jsonl(wide, [{"step": s, "d_loss": 1.0, "note": "x" * 3000} for s in range(100)])
    none = C.preview(wide, windows=windows, window=window)
    assert none.sampled and len(none) == 0                # still a preview: the parse must follow


def test_store_curves_preview_first_then_full_columns_with_the_spike(tmp_path, monkeypatch):
    import threading
    import time

    import dashboards.columns as C
    import dashboards.store as S
    from dashboards.store import RunStore

    run = tmp_path / "exp" / "long"
    rows = [{"step": s, "d_loss": 1.0, "g_loss": 2.0} for s in range(20_000)]
    rows[12_345]["d_loss"] = 99.0                         # a spike between the preview's windows
    rows[12_346]["d_loss"] = None                         # and a NaN
    _write_jsonl(run / "metrics.jsonl", rows)
    (run / "config.json").write_text(json.dumps({"experiment": "exp", "variant": "long"}))
    monkeypatch.setattr(S, "LIGHT_BYTES", 1000)           # this log counts as long
    monkeypatch.setattr(C, "PREVIEW_WINDOWS", 8)
    monkeypatch.setattr(C, "PREVIEW_WINDOW", 1024)
    release = threading.Event()
    real = C._parse_range
    monkeypatch.setattr(C, "_parse_range", lambda *a: (release.wait(20), real(*a))[1])
    store = RunStore(tmp_path)
    try:
        first = store.curves("exp/long")                 # answered now, not after the parse
        assert first.columns.sampled and store.parsing("exp/long")
        assert 0 < len(first.columns) < 2000
        assert not (first.columns.series("d_loss")[1] == 99.0).any()
    finally:
        release.set()
    deadline = time.time() + 20
    while store.parsing("exp/long") and time.time() < deadline:
        time.sleep(0.02)
    full = store.curves("exp/long")
    assert not full.columns.sampled and len(full.columns) == 20_000
    d = full.columns.series("d_loss")[1]
    assert (d == 99.0).sum() == 1 and np.isnan(d).sum() == 1
    # a live run that grew: the appended rows are read, the curves stay full (no preview again)
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 20_000, "d_loss": 0.5, "g_loss": 2.0}) + "\n")
    grown = store.curves("exp/long")
    assert not grown.columns.sampled and len(grown.columns) == 20_001
