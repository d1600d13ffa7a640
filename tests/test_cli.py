"""CLI skeleton: help is fast and light, user errors exit 2 with one line."""
import subprocess
import sys
import time

import pytest

from diagnose.cli import main


def test_help_does_not_import_torch():
    code = ("import sys, diagnose.cli as c\n"
            "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'sklearn', 'dash', 'trainers', 'dashboards') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    t = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert time.time() - t < 10


@pytest.mark.parametrize("argv", [["--bogus"], ["data", "--split", "nope"], ["data", "no-such-set"],
                                  ["no-such-verb"]])
def test_user_errors_exit_2_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_data_json(capsys):
    assert main(["data", "ring8", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out[0]["name"] == "ring8" and out[0]["n_modes"] == 8


def test_bad_data_root_path_still_works_with_note(capsys, tmp_path):
    assert main(["data", "mnist", "--data-root", str(tmp_path / "nope")]) == 0
    assert "no MNIST" in capsys.readouterr().out
