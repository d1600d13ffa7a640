"""The dashboard while runs are being written: no request ever answers with a server error.

A writer thread trains nothing but writes like a live run does: Monitor logs steps, saves sample
grids (PNG) and checkpoints, writes verdicts; a second run gets metrics.jsonl appended in pieces
that stop mid-line, mid-number and mid-UTF-8 character; a third run appears, and a fourth
disappears, while the main thread keeps requesting every page and firing every callback through
Flask's test client. Every response must be < 500, and a served sample grid must be a whole PNG.
"""
from __future__ import annotations

import json
import shutil
import threading
import time

import pytest
import torch

from badinputs import lib as B
from badinputs.dashclient import fire_all, get_pages


def _writer(root, stop: threading.Event, errors: list) -> None:
    from diagnose.monitor import Monitor

    try:
        torch.manual_seed(0)
        G = torch.nn.Linear(4, 2)
        live = root / "exp" / "live"
        mon = Monitor(live, {"experiment": "exp", "variant": "live"}, latent_shape=(4,),
                      kind="points", flush_every=3, n_fixed=16, quiet=True)
        raw = root / "exp" / "raw" / "metrics.jsonl"
        step = 0
        pieces = [b'{"step": %d, "d_loss": 0.69', b'3, "g_loss": 0.7, "note": "\xc3', b'\xa9"}\n']
        while not stop.is_set() and step < 5000:
            step += 1
            mon.log(step, d_loss=torch.tensor(0.7 + 0.01 * (step % 7)), g_loss=0.69,
                    d_real=0.5, d_fake=0.5)
            if step % 5 == 0:
                mon.snapshot(step, G)            # PNG + checkpoint, written atomically
                mon.write_verdict({"subject": "live", "verdict": "healthy", "confidence": 0.4,
                                   "flags": [], "metrics": {}})
            with open(raw, "ab") as f:           # one third of a line per step: often mid-line
                piece = pieces[step % 3]
                f.write(piece % (step // 3) if b"%d" in piece else piece)
            if step == 10:
                B.run_dir(root / "exp", "newcomer", metrics=B.healthy_metrics(10),
                          config='{"experiment": "exp", "variant": "newcomer"}')
            if step == 20:
                shutil.rmtree(root / "exp" / "doomed")
            time.sleep(0.002)
        mon.close()
    except Exception as e:  # surfaced by the test
        errors.append(e)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_no_server_errors_while_runs_are_written(tmp_path):
    from dashboards import create_app

    root = tmp_path / "runs"
    B.run_dir(root / "exp", "raw", metrics="", config='{"experiment": "exp", "variant": "raw"}')
    B.run_dir(root / "exp", "doomed", metrics=B.healthy_metrics(30),
              config='{"experiment": "exp", "variant": "doomed"}')
    app = create_app(root, refresh_ms=100)
    client = app.server.test_client()
    stop, errors = threading.Event(), []
    t = threading.Thread(target=_writer, args=(root, stop, errors), daemon=True)
    t.start()
    pages = ["/", "/run/exp/live", "/run/exp/raw", "/run/exp/doomed", "/run/exp/newcomer",
             "/compare/exp", "/run/../../etc/passwd"]
    codes: list[int] = []
    served = 0
    memo: dict = {}
    n = 0
    rounds = 8          # the writer keeps writing until every round is done
    while n < rounds and t.is_alive():
        n += 1
        codes += get_pages(client, ["/", "/_dash-layout", "/_dash-dependencies"])
        for page in pages:
            codes += fire_all(app, client, page, n, memo)
        for step, png in app.store.view("exp/live").run.samples[-2:]:
            r = client.get(f"/_runs-file/exp/live/samples/{png.name}")
            codes.append(r.status_code)
            if r.status_code == 200:
                assert r.data.startswith(b"\x89PNG") and r.data.rstrip().endswith(b"IEND\xaeB`\x82")
                served += 1
    writing_to_the_end = t.is_alive()
    stop.set()
    t.join(30)
    assert not errors, errors
    assert writing_to_the_end, "the writer stopped before the requests did"
    from collections import Counter

    print(n, served, Counter(codes))
    bad = [c for c in codes if c >= 500]
    assert not bad, f"{len(bad)} server errors out of {len(codes)} responses"
    assert n == rounds and served >= 1 and len(codes) > 100
    # after the writer stopped, the live run is whole and its every logged step is readable
    from diagnose.runs import read_run

    run = read_run(root / "exp" / "live")
    steps = [r["step"] for r in run.metrics]
    assert steps == sorted(set(steps)) and run.verdict["verdict"] == "healthy"
    json.loads((root / "exp" / "live" / "config.json").read_text())
