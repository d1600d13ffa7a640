"""Verdict rules through the real pipeline (2D mixtures, identity features: fast), and `diagnose check`."""
import json
import warnings

import pytest
import torch
from torch import nn

from diagnose.analysis import detectors as rules
from diagnose.analysis.cache import StageCache
from diagnose.analysis.groundtruth import Mixture
from diagnose.analysis.judge import check_generator
from diagnose.cli import main
from diagnose.generators.load import wrap_generator

N = 600
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return StageCache(tmp_path_factory.mktemp("cache"))


class Fixed(nn.Module):
    """Points from a fixed table, chosen by the latent (copies / far-away points / NaN)."""

    def __init__(self, pts):
        super().__init__()
        self.register_buffer("pts", pts)
        self.latent_shape = (3,)

    def forward(self, z):
        u = 0.5 * (1 + torch.erf(z[:, 0] / 2 ** 0.5))
        return self.pts[(u * len(self.pts)).long().clamp(max=len(self.pts) - 1)] + 0 * z[:, 1:3]


def _check(module, cache, dataset="ring8"):
    return check_generator(wrap_generator(module), dataset, n_samples=N, progress=False,
                           cache=cache, kid_subsets=5)


def _codes(v):
    return [f["code"] for f in v["flags"] if f["severity"] != "info"]


def test_healthy_mixture_is_quiet(cache):
    v = _check(Mixture("ring8"), cache)
    assert v["verdict"] == "healthy" and _codes(v) == []
    assert v["metrics"]["modes_captured"]["value"] == 8
    assert v["metrics"]["fid"]["features"] == "identity" and v["metrics"]["fid"]["n"] == N
    assert v["reference"]["modes"]["modes_hit"] == 8   # the real-data reference panel


def test_partial_collapse_fires_with_evidence(cache):
    v = _check(Mixture("ring8", range(5)), cache)
    assert v["verdict"] == "partial_collapse"
    ev = v["flags"][0]["evidence"]["modes_hit"]
    assert ev["generated"] == 5 and ev["real_reference"] == 8 and v["flags"][0]["advice"]


def test_mode_collapse_fires(cache):
    v = _check(Mixture("ring8", [2]), cache)
    assert v["verdict"] == "mode_collapse"
    ev = v["flags"][0]["evidence"]["effective_modes"]
    assert ev["generated"] < ev["threshold"] < ev["real_reference"]


def test_not_converged_fires_on_points_off_the_modes(cache):
    g = torch.Generator().manual_seed(0)
    v = _check(Fixed(torch.randn(5000, 2, generator=g) * 3), cache)
    assert "not_converged" in _codes(v)


def test_memorization_fires_on_training_copies(cache):
    from diagnose.analysis.reference import SYNTHETIC_TRAIN, load_split

    train = load_split("ring8", "train", size=SYNTHETIC_TRAIN).get()
    v = _check(Fixed(train[:5000]), cache)
    assert v["verdict"] == "memorization"
    ev = v["flags"][0]["evidence"]
    assert ev["generated"]["copy_share"] > 0.9 and ev["real_reference"]["copy_share"] < 0.05


def test_diverged_fires_on_nan(cache):
    pts = torch.full((10, 2), float("nan"))
    v = _check(Fixed(pts), cache)
    assert v["verdict"] == "diverged" and v["nonfinite_share"] == 1.0


def test_range_rule_fires_and_stays_quiet():
    ref = {"panel": {}}
    bad = rules.verdict_from(subject="s", measured=None, reference=ref, profile=None,
                             range_info={"raw_range": [-1, 1], "data_range": [0, 1],
                                         "mismatch": True}, nonfinite=0.0, features="x")
    ok = rules.verdict_from(subject="s", measured=None, reference=ref, profile=None,
                            range_info={"raw_range": [-1, 1], "data_range": [-1, 1],
                                        "mismatch": False}, nonfinite=0.0, features="x")
    assert bad["verdict"] == "range_mismatch" and "Normalize" in " ".join(bad["flags"][0]["advice"])
    assert ok["verdict"] == "healthy"


def test_check_cli_on_torchscript(tmp_path, monkeypatch, capsys, cache):
    monkeypatch.setenv("GAN_DIAGNOSE_CACHE", str(cache.root))
    path = tmp_path / "ring.pt"
    torch.jit.script(Mixture("ring8", range(4))).save(str(path))
    rc = main(["check", str(path), "--dataset", "ring8", "--n-samples", str(N), "--json",
               "--out", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["verdict"] == "partial_collapse"
    assert (tmp_path / "ring_check_samples.png").is_file()
    assert (tmp_path / "ring_check.json").is_file()
    from diagnose.commands.check import render

    text = render(out, out["sample_grid"])   # the readable form of the same result
    assert text.startswith("verdict: partial_collapse")
    assert "real ref" in text and "sample grid:" in text and "identity" in text


@pytest.mark.parametrize("n", ["0", "-5", "2000000"])
def test_check_cli_rejects_bad_n_samples(tmp_path, capsys, n):
    path = tmp_path / "ring.pt"
    torch.jit.script(Mixture("ring8")).save(str(path))
    assert main(["check", str(path), "--dataset", "ring8", "--n-samples", n]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--n-samples" in err and "Traceback" not in err


class Scaled(nn.Module):
    """ring8 points scaled by ``s``: at 1.7 both ring8 and grid25 could be meant."""

    def __init__(self, s):
        super().__init__()
        self.m, self.s = Mixture("ring8"), s
        self.latent_shape = (3,)

    def forward(self, z):
        return self.m(z) * self.s


def test_check_cli_needs_a_dataset_when_the_file_has_none(tmp_path, capsys, monkeypatch):
    # Several shipped datasets fit the output and the file records none: one line naming them.
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "ring.pt"
    torch.jit.script(Scaled(1.7)).save(str(path))
    assert main(["check", str(path), "--n-samples", "100"]) == 2
    err = capsys.readouterr().err
    assert "--dataset" in err and "ring8" in err and "grid25" in err


def test_check_cli_infers_the_one_dataset_that_fits(tmp_path, capsys, monkeypatch, cache):
    monkeypatch.setenv("GAN_DIAGNOSE_CACHE", str(cache.root))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "ring.pt"
    torch.jit.script(Mixture("ring8")).save(str(path))
    assert main(["check", str(path), "--n-samples", "100", "--json"]) == 0
    cap = capsys.readouterr()
    v = json.loads(cap.out)
    assert v["dataset_summary"]["name"] == "ring8" and "inferred" in cap.err
    assert "2D points" in v["dataset_inferred"]
    # results go to ./diagnose_checks/, never beside the input
    assert (tmp_path / "diagnose_checks" / "ring_check.json").is_file()
    assert not (tmp_path / "ring_check.json").exists()


def test_snapshot_evaluator_row_has_dashboard_keys(cache):
    from diagnose.analysis import snapshot_evaluator

    evaluate = snapshot_evaluator("ring8", n_samples=N, cache=cache)
    row = evaluate(100, Mixture("ring8", range(6)))
    assert row["fid"]["features"] == "identity" and row["fid"]["n"] == N
    assert {"coverage", "modes", "precision", "recall"} <= set(row)
    hist = row["mode_histogram"]
    assert len(hist["generated"]) == len(hist["reference"]) == 8 and hist["generated"][7] == 0
    proj = row["projection"]
    assert proj["method"] == "pca" and 0 < len(proj["generated"]) <= 300 >= len(proj["real"])
    assert len(proj["real"][0]) == 2
    assert row["verdict"]["code"] == "partial_collapse"
    json.dumps(row)  # one evals.jsonl row body
