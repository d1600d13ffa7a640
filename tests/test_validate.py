"""`diagnose validate`: the ground-truth suite gets every verdict right."""
import json

import pytest

from diagnose.cli import main


def test_validate_mixture_cases_in_process(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_DIAGNOSE_CACHE", str(tmp_path))
    rc = main(["validate", "--only", "ring8", "--n-samples", "600", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["passed"] == out["total"] == 3
    assert {c["expected"] for c in out["cases"]} == {"healthy", "partial_collapse", "mode_collapse"}


def test_validate_rejects_unknown_case(capsys):
    assert main(["validate", "--only", "no such case"]) == 2


@pytest.mark.slow
def test_validate_full_suite_passes(capsys, tmp_path, monkeypatch):
    lenet = pytest.importorskip("diagnose.features.mnist_lenet")
    if not lenet.weights_available()[0]:
        pytest.skip("mnist-lenet weights not present")
    monkeypatch.setenv("GAN_DIAGNOSE_CACHE", str(tmp_path))
    rc = main(["validate", "--n-samples", "1000"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "15/15 cases correct" in text
