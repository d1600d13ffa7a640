"""The dashboard's reading aids without a browser: TensorBoard smoothing, log/split axes, overlays,
metric tones against real data, sortable tables, sparklines, the verdict card, damaged runs, the
listing refresh, on-demand evaluation and ``dash --debug``."""
from __future__ import annotations

import json
import math
import os
import socket
import time

import numpy as np
import pytest

from diagnose.core.errors import UserError

from dashboards import figures as F
from dashboards import tables as T


@pytest.fixture(scope="module")
def example_root(tmp_path_factory):
    from dashboards.examples import write_example_runs

    root = tmp_path_factory.mktemp("runs")
    write_example_runs(root, steps=200)
    return root


# ----------------------------------------------------------------------------- smoothing
def test_ema_is_tensorboards_debiased_average_and_skips_nan():
    y = np.array([1.0, 3.0, 2.0, 8.0, 4.0])
    w = 0.6
    last, out = 0.0, []
    for i, v in enumerate(y):  # TensorBoard's loop, written out
        last = last * w + (1 - w) * v
        out.append(last / (1 - w ** (i + 1)))
    assert F.ema(y, w) == pytest.approx(out)
    assert F.ema(y, 0.0) is y or np.array_equal(F.ema(y, 0.0), y)  # 0: raw
    with_nan = np.array([1.0, np.nan, 3.0])
    got = F.ema(with_nan, 0.5)
    assert math.isnan(got[1]) and got[2] == pytest.approx(F.ema(np.array([1.0, 3.0]), 0.5)[1])
    big = np.random.default_rng(0).normal(size=1_000_000)
    t = time.perf_counter()
    sm = F.ema(big, 0.99)
    assert time.perf_counter() - t < 2.0 and sm.std() < big.std() / 5   # linear, and smooth


# ------------------------------------------------------------------------------- figures
def _series(n=500, d_scale=0.05, g_scale=15.0):
    x = np.arange(n, dtype=float)
    rng = np.random.default_rng(1)
    return {"d_loss": (x, d_scale * (1 + rng.random(n))), "g_loss": (x, g_scale * (1 + rng.random(n))),
            "d_real": (x, np.full(n, 0.99)), "d_fake": (x, np.full(n, 2e-6))}


def test_split_axes_when_d_and_g_scales_differ_and_not_when_alike():
    fig = F.dynamics_figure(_series())
    g = next(t for t in fig.data if t.name.startswith("G loss"))
    d = next(t for t in fig.data if t.name == "D loss")
    assert g.yaxis != d.yaxis and "right axis" in g.name           # D near 0 is not squashed
    alike = F.dynamics_figure(_series(d_scale=1.0, g_scale=1.2))
    assert len({t.yaxis for t in alike.data if t.name in ("D loss", "G loss")}) == 1
    forced = F.dynamics_figure(_series(d_scale=1.0, g_scale=1.2), split_axes=True)
    assert len({t.yaxis for t in forced.data if t.name.startswith(("D loss", "G loss"))}) == 2
    # the reference lines of the losses panel stay on D's (left) axis
    assert {s.yref for s in fig.layout.shapes if s.y0 == pytest.approx(math.log(2))} == {d.yaxis}


def test_smoothing_keeps_raw_faint_and_log_axis_draws_tiny_d_outputs():
    fig = F.dynamics_figure(_series(), smoothing=0.9, log_y=True)
    raw = next(t for t in fig.data if t.name == "D loss (raw)")
    smooth = next(t for t in fig.data if t.name == "D loss")
    assert raw.opacity < 0.5 and smooth.opacity == 1 and raw.showlegend is False
    assert np.std(smooth.y) < np.std(raw.y)
    assert all(ax.type == "log" for k, ax in fig.layout.to_plotly_json().items()
               if False) or fig.layout.yaxis.type == "log"
    assert {fig.layout[k].type for k in fig.layout if k.startswith("yaxis")} == {"log"}
    plain = F.dynamics_figure(_series())
    assert plain.layout.yaxis.type != "log" and not any("(raw)" in t.name for t in plain.data)


def test_overlays_add_dashed_curves_of_other_runs():
    other = {"d_loss": (np.arange(10.0), np.ones(10)), "g_loss": (np.arange(10.0), np.ones(10))}
    fig = F.dynamics_figure(_series(), overlays={"baseline": other})
    names = [t.name for t in fig.data]
    assert "baseline: D loss" in names and "baseline: G loss" in names
    assert next(t for t in fig.data if t.name == "baseline: D loss").line.dash == "dot"


def test_evals_figure_draws_real_reference_and_sample_flag_marks():
    evals = [{"step": s, "fid": {"value": 100.0 - s, "features": "mnist-lenet", "n": 500,
                                 "reference": 5.0}} for s in (0, 10, 20)]
    fig = F.evals_figure(evals, [{"step": 20, "code": "mode_collapse", "severity": "fail"}])
    shapes = fig.layout.shapes
    assert any(s.y0 == 5.0 and s.y1 == 5.0 for s in shapes)            # the real-data line
    assert any(s.x0 == 20 and s.x1 == 20 for s in shapes)              # the verdict's check
    assert any("mode_collapse" in (a.text or "") for a in fig.layout.annotations)


# -------------------------------------------------------------------------------- tables
def test_tone_follows_the_side_that_matters():
    assert T.tone("fid", 2158, 5.47) == "bad" and T.tone("fid", 6.0, 5.47) == "good"
    assert T.tone("fid", 12.0, 5.47) == "fair"
    assert T.tone("precision", 0.95, 0.99) == "good" and T.tone("precision", 0.0, 0.99) == "bad"
    assert T.tone("precision", 1.0, 0.8) == "good"                  # better than real: fine
    assert T.tone("duplicate_rate", 1.0, 0.0) == "bad"
    assert T.tone("modes", 7, 636) == "bad" and T.tone("modes", 600, 636) == "good"
    assert T.tone("fid", 3.0, None) == "" and T.tone("fid", "x", 1.0) == ""
    assert T.tone("nn_distance_ratio", 4.6, 1.0) == "bad" and T.tone("nn_distance_ratio", 0.9, 1.0) == "good"


def test_fmt_never_raises_on_odd_values():
    assert T.fmt(10 ** 400).startswith("~1e400") and T.fmt(1.998e-06) == "1.998e-06"
    assert T.fmt(None) == "-" and T.fmt(float("nan")) == "NaN" and T.fmt(True) == "true"
    assert T.fmt(123456) == "123,456" and len(T.fmt("x" * 500)) <= 40


def test_sortable_table_sorts_numbers_and_keeps_missing_last():
    rows = [{"cells": {"a": str(v)}, "sort": {"a": v}} for v in (3.0, None, 1.0, 2.0)]
    order = lambda st: [r["sort"]["a"] for r in T.sort_rows(rows, "a", st)]  # noqa: E731
    assert order(False) == [1.0, 2.0, 3.0, None] and order(True) == [3.0, 2.0, 1.0, None]
    tbl = T.sortable_table("t", [("a", "A", "")], rows, {"col": "a", "desc": True})
    body = tbl.children[1].children
    assert [tr.children[0].children for tr in body] == ["3.0", "2.0", "1.0", "None"]
    head = tbl.children[0].children.children[0]
    assert head.children.children.endswith("▼") and head.children.id["col"] == "a"
    assert T.next_sort({"col": "a", "desc": False}, "a") == {"col": "a", "desc": True}
    assert T.next_sort({"col": "a", "desc": True}, "b") == {"col": "b", "desc": False}


def test_sparkline_bounded_and_shaped():
    s = T.sparkline(list(range(1000)), width=24)
    assert len(s) == 24 and s[0] == "▁" and s[-1] == "█"
    assert T.sparkline([]) == "" and set(T.sparkline([2.0, 2.0, 2.0])) == {"▁"}


def test_metric_rows_put_real_reference_beside_value(example_root):
    from dashboards.panels.parts import metric_rows

    rows = metric_rows({"precision": {"value": 0.0, "features": "stacked-mnist", "n": 1000,
                                      "reference": 0.989},
                        "fid": {"value": 2158.4, "features": "stacked-mnist", "n": 1000,
                                "reference": 5.47}, "bad": "not a metric"})
    assert [r["cells"]["metric"] for r in rows] == ["fid", "precision"]   # headline order
    fid = rows[0]
    assert fid["cells"]["reference"] == "5.47" and fid["tones"]["value"] == "bad"
    assert fid["cells"]["gap"].endswith("×") and "stacked-mnist" in fid["title"]["value"]


# -------------------------------------------------------------------------------- store
def _run(root, name, verdict=None, rows=3):
    d = root / "exp" / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"experiment": "exp", "variant": name}))
    (d / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "d_loss": 1.0, "g_loss": 2.0})
                                             + "\n" for s in range(rows)))
    if verdict is not None:
        (d / "verdict.json").write_text(verdict if isinstance(verdict, str) else json.dumps(verdict))
    return d


def test_damaged_run_shows_as_damaged_and_others_still_render(tmp_path):
    from dashboards import create_app

    _run(tmp_path, "fine", {"verdict": "healthy", "confidence": 0.9, "flags": []})
    deep = "[" * 50_000 + "]" * 50_000
    _run(tmp_path, "deep", '{"verdict": ' + deep + "}")
    d = _run(tmp_path, "deep-metrics")
    with open(d / "metrics.jsonl", "a") as f:
        f.write('{"step": 9, "x": ' + deep + "}\n")
    # wrong types everywhere in verdict.json
    _run(tmp_path, "types", {"verdict": ["x"], "confidence": "high", "flags": [
        {"code": "d_overpowering", "severity": 3, "steps": ["a", None], "advice": "not a list"},
        "not a flag"], "metrics": {"fid": {"value": "big", "reference": [1]}, "n": 5}})
    app = create_app(tmp_path)
    children, _ = app.panels["browser"].render("")
    text = str(children)
    assert "fine" in text and "types" in text and "deep-metrics" in text
    by = {s.variant: s for s in app.store.summaries()}
    assert by["fine"].verdict == "healthy"
    page = app.panels["run"]
    from dashboards.panels.parts import verdict_card

    for rid in ("exp/types", "exp/deep-metrics", "exp/deep"):
        try:
            view = app.store.view(rid)
        except UserError as e:  # damaged: one message, never a traceback
            assert "damaged" in str(e) or "deep" in str(e)
            continue
        assert page.header(view) and verdict_card(view, "b") and page.dynamics(view).data
        page.metric_table(view, {})


def test_nul_byte_and_symlink_loop_are_clean_refusals(tmp_path):
    from dashboards import create_app

    _run(tmp_path, "a")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    app = create_app(tmp_path)
    for bad in ("exp/a\x00", "loop", "loop/x", "exp/" + "x" * 5000):
        with pytest.raises(UserError):
            app.store.resolve(bad)
    client = app.server.test_client()
    for url in ("/_runs-file/loop/samples/step_0000000.png", "/_runs-file/exp/a%00/x.png",
                "/_real-grid/loop.png", "/_real-grid/exp%00.png"):
        assert client.get(url).status_code == 404, url
    # a callback with a NUL in the URL answers with a message, not a 500
    body = {"output": "run-sig.data", "outputs": {"id": "run-sig", "property": "data"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/run/exp/a\x00"},
                       {"id": "run-interval", "property": "n_intervals", "value": 1}],
            "state": [{"id": "run-sig", "property": "data", "value": None}],
            "changedPropIds": ["url.pathname"]}
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200 and b"bad run id" in r.data


def test_listing_refresh_rebuilds_only_runs_that_changed(tmp_path):
    from dashboards.store import RunStore

    for k in range(30):
        _run(tmp_path, f"v{k:02d}")
    store = RunStore(tmp_path)
    assert len(store.summaries()) == 30 and store.rebuilt == 30
    store.summaries()
    assert store.rebuilt == 30                                   # nothing changed: nothing rebuilt
    with open(tmp_path / "exp" / "v07" / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 3, "d_loss": 0.5}) + "\n")
    got = {s.variant: s for s in store.summaries()}
    assert store.rebuilt == 31 and got["v07"].last["step"] == 3


def test_browser_callback_builds_nothing_when_nothing_changed(tmp_path):
    from dashboards import create_app

    _run(tmp_path, "a")
    app = create_app(tmp_path)
    client = app.server.test_client()
    body = {"output": "..browser-list.children...browser-sig.data..",
            "outputs": [{"id": "browser-list", "property": "children"},
                        {"id": "browser-sig", "property": "data"}],
            "inputs": [{"id": "browser-filter", "property": "value", "value": ""},
                       {"id": "browser-interval", "property": "n_intervals", "value": 1},
                       {"id": "browser-sort", "property": "data", "value": {}}],
            "state": [{"id": "browser-sig", "property": "data", "value": None}],
            "changedPropIds": ["browser-interval.n_intervals"]}
    first = client.post("/_dash-update-component", json=body)
    assert first.status_code == 200
    key = first.get_json()["response"]["browser-sig"]["data"]
    body["state"][0]["value"] = key
    assert client.post("/_dash-update-component", json=body).status_code == 204   # PreventUpdate


def test_sparklines_read_a_bounded_sample_of_a_long_log(tmp_path):
    from dashboards.store import sample_rows

    p = tmp_path / "metrics.jsonl"
    with open(p, "w") as f:
        for s in range(200_000):
            f.write(json.dumps({"step": s, "d_loss": s / 200_000}) + "\n")
    rows = sample_rows(p, k=32)
    assert 20 <= len(rows) <= 32 and rows[0]["step"] == 0 and rows[-1]["step"] > 190_000
    assert [r["step"] for r in rows] == sorted(r["step"] for r in rows)


def test_verdict_card_says_no_verdict_then_shows_it(tmp_path):
    from dashboards.panels.parts import verdict_card
    from dashboards.store import RunStore

    d = _run(tmp_path, "mine")
    store = RunStore(tmp_path)
    assert "No verdict.json yet" in str(verdict_card(store.view("exp/mine"), "b"))
    (d / "verdict.json").write_text(json.dumps({
        "verdict": "d_overpowering", "confidence": 0.8, "flags": [
            {"code": "d_overpowering", "severity": "fail", "summary": "D wins.", "steps": [0, 2],
             "advice": ["Lower lr_d."]},
            {"code": "mode_collapse", "severity": "fail", "summary": "One image.", "steps": None}],
        "metrics": {"fid": {"value": 300.0, "features": "mnist-lenet", "n": 500, "reference": 4.0}}}))
    card = str(verdict_card(store.view("exp/mine"), "b"))
    assert "d_overpowering" in card and "D wins." in card and "Lower lr_d." in card
    assert "mnist-lenet" in card and "n = 500" in card and "confidence 0.8" in card
    assert "marked on the samples" in card                    # the stepless sample flag


# ------------------------------------------------------------------------- evaluation
def test_evaluate_on_demand_appends_rows_and_reports_progress(tmp_path, monkeypatch):
    from diagnose.runs import read_run

    from dashboards.evaluate import EvalJobs

    d = _run(tmp_path, "ev")
    (d / "config.json").write_text(json.dumps({"experiment": "exp", "variant": "ev",
                                               "dataset": {"name": "mnist"}}))
    (d / "checkpoints").mkdir()
    for s in (10, 20):
        (d / "checkpoints" / f"step_{s:07d}.pt").write_bytes(b"x")
    calls = []

    class Loaded:
        module = object()

    monkeypatch.setattr("diagnose.generators.load.load_generator", lambda p, device="cpu": Loaded())
    monkeypatch.setattr("diagnose.analysis.snapshot_evaluator", lambda *a, **k: (
        lambda step, G: calls.append(step) or {"fid": {"value": 50.0 - step, "features": "f",
                                                       "n": 10, "reference": 1.0}}))
    jobs = EvalJobs()
    run = read_run(d, metrics=False)
    with pytest.raises(UserError, match="still being written"):
        jobs.start("exp/ev", d, run, live=True)
    jobs.start("exp/ev", d, run, live=False)
    until = time.time() + 20
    while jobs.status("exp/ev")["state"] == "running" and time.time() < until:
        time.sleep(0.05)
    st = jobs.status("exp/ev")
    assert st["state"] == "done" and st["done"] == st["total"] == 2 and calls == [10, 20]
    evals = read_run(d, metrics=False).evals
    assert [r["step"] for r in evals] == [10, 20] and evals[0]["fid"]["value"] == 40.0
    with pytest.raises(UserError, match="evaluated already"):
        jobs.start("exp/ev", d, read_run(d, metrics=False), live=False)


def test_evaluate_refuses_runs_without_checkpoints_or_dataset(tmp_path):
    from diagnose.runs import read_run

    from dashboards.evaluate import EvalJobs

    d = _run(tmp_path, "none")
    with pytest.raises(UserError, match="no checkpoints"):
        EvalJobs().start("exp/none", d, read_run(d, metrics=False), live=False)
    (d / "checkpoints").mkdir()
    (d / "checkpoints" / "step_0000001.pt").write_bytes(b"x")
    with pytest.raises(UserError, match="dataset"):
        EvalJobs().start("exp/none", d, read_run(d, metrics=False), live=False)


# ---------------------------------------------------------------------------------- CLI
def test_cli_debug_refuses_non_loopback_host_and_says_what_it_enables(tmp_path, capsys):
    from diagnose.cli import main

    assert main(["dash", "--runs", str(tmp_path), "--debug", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interactive console" in err[0] and "0.0.0.0" in err[0]
    with socket.socket() as s:  # a loopback --debug gets past the check (then the busy port stops it)
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["dash", "--runs", str(tmp_path), "--debug", "--port", str(port)]) == 2
        assert "already in use" in capsys.readouterr().err
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "diagnose", "dash", "--help"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)
    assert "interactive console" in " ".join(out.stdout.split())


def test_callbacks_answer_wrong_typed_inputs_without_a_500(example_root):
    """Every callback checks its inputs: odd values from a hand-made request get a page or a
    no-update, never an HTTP 500."""
    from dashboards import create_app

    app = create_app(example_root)
    client = app.server.test_client()
    odd = [None, 7, "x", [], {"a": 1}, -5, 1e308, "/run/\x00"]
    checked = 0
    for output, spec in app.callback_map.items():
        inputs = spec["inputs"] + spec.get("state", [])
        if any(isinstance(i["id"], dict) for i in inputs) or "." not in output:
            continue  # pattern-matching inputs are covered by the browser tests
        for value in odd:
            body = {"output": output, "outputs": _outputs(output),
                    "inputs": [{"id": i["id"], "property": i["property"], "value": value}
                               for i in spec["inputs"]],
                    "state": [{"id": s["id"], "property": s["property"], "value": value}
                              for s in spec.get("state", [])],
                    "changedPropIds": [f"{spec['inputs'][0]['id']}.{spec['inputs'][0]['property']}"]}
            r = client.post("/_dash-update-component", json=body)
            assert r.status_code in (200, 204), (output, value, r.data[:300])
            checked += 1
    assert checked > 50


def _outputs(output: str):
    if output.startswith(".."):
        parts = [p for p in output.strip(".").split("...") if p]
        return [_one(p) for p in parts]
    return _one(output)


def _one(p: str):
    ident, prop = p.rsplit(".", 1)
    return {"id": ident, "property": prop.split("@")[0]}
