"""Model files run tensor maths only; user generator code runs under a time limit and stops on Ctrl+C.

A TorchScript generator whose forward maps a file with ``torch.from_file(path, shared=True)`` and
copies bytes into it, and an exported program with an ``aten.from_file`` node, are refused before
they run (the target file stays as it was); positive controls show both payloads do write when
trusted. Real generators (DCGAN-like conv transposes, BatchNorm, Upsample, Tanh, reshape, cat, and
every trainers generator) are scripted, traced and exported and none is refused. A forward that
loops forever is stopped by the time limit with one line, and by Ctrl+C.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Tuple

import pytest
import torch
import torch.nn as nn

from badinputs.hostile import FromFileG
from diagnose.generators import safety
from diagnose.cli import main
from diagnose.core.errors import UserError
from diagnose.generators.load import load_generator

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL = "original contents of a shell start-up file\n"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _quiet():
    warnings.simplefilter("ignore", FutureWarning)


class LoopG(nn.Module):
    latent_dim = 8

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, z):
        x = self.fc(z)
        i = 0
        while i >= 0:                                   # never ends
            x = x + 0.0
            i = i + 1
        return x


class SetStateG(nn.Module):
    """Its __setstate__ writes to ``path``: code that torch.jit.load itself runs."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.register_buffer("w", torch.randn(8, 2))

    def forward(self, z):
        return z @ self.w

    @torch.jit.export
    def __getstate__(self) -> Tuple[str, bool, torch.Tensor]:
        return (self.path, self.training, self.w)

    @torch.jit.export
    def __setstate__(self, state: Tuple[str, bool, torch.Tensor]) -> None:
        self.path = state[0]
        self.training = state[1]
        t = torch.from_file(self.path, shared=True, size=8, dtype=torch.uint8)
        t.copy_(torch.full((8,), 66, dtype=torch.uint8))
        self.w = state[2] + t[:1].float() * 0       # use t so the compiler keeps the write


class DCGAN(nn.Module):
    """What real generators are made of: conv transposes, BatchNorm, Upsample, Tanh, reshape, cat."""

    def __init__(self, nz: int = 16):
        super().__init__()
        self.fc = nn.Linear(nz, 32 * 4 * 4)
        self.ln = nn.LayerNorm(32 * 4 * 4)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(32, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(True),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(32, 16, 3, 1, 1),
            nn.InstanceNorm2d(16), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.PixelShuffle(2),
            nn.Conv2d(4, 3, 3, 1, 1), nn.Tanh())

    def forward(self, z):
        h = self.ln(self.fc(z.flatten(1))).reshape(-1, 32, 4, 4)
        x = self.net(h)
        x = torch.cat([x, x.flip(1)], 1)[:, :3]
        return nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)


def _target(tmp_path: Path) -> Path:
    t = tmp_path / "dot_bashrc"
    t.write_text(ORIGINAL)
    return t


def _script(module, path: Path) -> Path:
    _quiet()
    torch.jit.script(module).save(str(path))
    return path


def _evil_exported(tmp_path: Path, target: Path) -> Path:
    """An exported program with an aten.from_file node whose result is written over (export
    itself cannot trace from_file, so the node is added to a benign program's graph)."""

    class Ok(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 2)

        def forward(self, z):
            return self.fc(z), torch.full((8,), 65, dtype=torch.uint8)

    ep = torch.export.export(Ok(), (torch.randn(4, 8),))
    g = ep.graph
    full = next(n for n in g.nodes if n.op == "call_function" and "full" in str(n.target))
    with g.inserting_after(full):
        ff = g.call_function(torch.ops.aten.from_file.default, (str(target), True, 8),
                             {"dtype": torch.uint8})
        ff.meta["val"] = full.meta["val"]
    with g.inserting_after(ff):
        cp = g.call_function(torch.ops.aten.copy_.default, (ff, full))
        cp.meta["val"] = full.meta["val"]
    ep.graph_module.recompile()
    out = tmp_path / "evil.pt2"
    torch.export.save(ep, str(out))
    return out


# ------------------------------------------------------------------------------ the allow-list
def test_allow_list_comes_from_the_registry():
    info = safety.describe_policy()
    assert info["allowed"] > 2000                     # derived, not a hand list of names
    for op in ("aten::from_file", "aten::save", "prim::Print", "prim::PythonOp", "prim::rpc_async",
               "c10d::allreduce_", "profiler::_record_function_enter", "mylib::anything",
               "aten::no_such_operator"):
        assert safety.refusal(op), op
    for op in ("aten::conv_transpose2d", "aten::batch_norm", "aten::upsample_nearest2d", "aten::tanh",
               "aten::reshape", "aten::cat", "aten::add_", "prim::Loop", "prim::If", "prim::Constant",
               "prim::RaiseException", "aten::format", "aten::warn"):
        assert safety.refusal(op) is None, op


def _trainers_generators():
    from trainers.build import build_generator, model_specs
    from trainers.experiments import EXPERIMENTS, get_experiment

    seen = {}
    for name in EXPERIMENTS.names():
        for v in get_experiment(name).variants.values():
            g, _ = model_specs(v.config)
            key = (g["name"], repr(sorted(g["kwargs"].items())))
            if key not in seen:
                seen[key] = (f"{name}/{v.name}", build_generator({"generator": g}))
    return list(seen.values())


def test_real_generators_are_not_refused(tmp_path):
    """DCGAN-like layers and every trainers generator, scripted, traced and exported: all allowed."""
    _quiet()
    mods = [("dcgan", DCGAN())] + _trainers_generators()
    assert len(mods) >= 4
    for i, (name, g) in enumerate(mods):
        g = g.eval()
        z = torch.randn(2, *getattr(g, "latent_shape", (16,)))
        forms = {"trace": torch.jit.trace(g, z, check_trace=False)}
        try:
            forms["script"] = torch.jit.script(g)
        except Exception:               # not every module is scriptable; tracing covers it
            pass
        for form, sm in forms.items():
            p = tmp_path / f"{i}_{form}.pt"
            sm.save(str(p))
            loaded = load_generator(p, latent_shape=tuple(z.shape[1:]))
            assert loaded.form == "torchscript", (name, form)
        ep = torch.export.export(g, (z,))
        p = tmp_path / f"{i}.pt2"
        torch.export.save(ep, str(p))
        assert load_generator(p).form == "exported-program", name


# --------------------------------------------------------------------------- refused payloads
def test_torchscript_from_file_is_refused_and_target_untouched(tmp_path, capsys):
    target = _target(tmp_path)
    ck = _script(FromFileG(str(target)), tmp_path / "gen.pt")
    code = main(["check", str(ck), "--dataset", "ring8", "--n-samples", "20", "--device", "cpu",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and target.read_text() == ORIGINAL
    line = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and "aten::from_file" in line[0] and "--trust-code" in line[0]
    # positive control: the payload is live, and --trust-code (or its alias) lets it run
    load_generator(ck, trust_pickle=True, latent_shape=(8,))
    assert target.read_text().startswith("AAAAAAAA")


def test_exported_from_file_is_refused_and_target_untouched(tmp_path, capsys):
    target = _target(tmp_path)
    ck = _evil_exported(tmp_path, target)
    code = main(["check", str(ck), "--dataset", "ring8", "--n-samples", "20", "--device", "cpu",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and target.read_text() == ORIGINAL
    assert "aten::from_file" in err.splitlines()[-1]
    code = main(["check", str(ck), "--dataset", "ring8", "--n-samples", "20", "--device", "cpu",
                 "--out", str(tmp_path / "out"), "--trust-pickle"])
    capsys.readouterr()
    assert target.read_text().startswith("AAAAAAAA")     # positive control through the alias


def _pickled_weight_pt2(tmp_path: Path, marker: Path) -> Path:
    """A valid exported program whose weight is switched to a pickled member carrying a payload
    (torch.export.load reads such members with weights_only=False)."""
    import json
    import zipfile

    from badinputs import lib as B

    ok = tmp_path / "ok.pt2"
    torch.export.save(torch.export.export(nn.Linear(8, 2), (torch.randn(4, 8),)), str(ok))
    payload = B.malicious_checkpoint(tmp_path / "payload.pt", marker).read_bytes()
    evil = tmp_path / "evil_weights.pt2"
    with zipfile.ZipFile(ok) as z, zipfile.ZipFile(evil, "w") as out:
        cfg_name = next(n for n in z.namelist() if n.endswith("model_weights_config.json"))
        cfg = json.loads(z.read(cfg_name))
        entry = next(iter(cfg["config"].values()))
        entry["use_pickle"] = True
        for info in z.infolist():
            data = z.read(info.filename)
            if info.filename == cfg_name:
                data = json.dumps(cfg).encode()
            elif info.filename.endswith("/" + entry["path_name"]):
                data = payload
            out.writestr(info, data)
    return evil


def test_exported_program_with_a_pickled_payload_is_refused_before_loading(tmp_path):
    marker = tmp_path / "MARKER"
    evil = _pickled_weight_pt2(tmp_path, marker)
    with pytest.raises(UserError, match="needs code to load"):
        load_generator(evil)
    assert not marker.exists()
    assert load_generator(tmp_path / "ok.pt2").form == "exported-program"
    with pytest.raises(Exception):                    # positive control: torch's loader runs it
        torch.export.load(str(evil))
    assert marker.exists()


def test_archive_with_setstate_is_refused_before_loading(tmp_path):
    target = _target(tmp_path)
    ck = _script(SetStateG(str(target)), tmp_path / "s.pt")
    target.write_text(ORIGINAL)
    with pytest.raises(UserError, match="__setstate__"):
        load_generator(ck, latent_shape=(8,))
    assert target.read_text() == ORIGINAL
    load_generator(ck, latent_shape=(8,), trust_pickle=True)    # positive control: loading ran it
    assert target.read_text().startswith("BBBBBBBB")


def test_trust_flag_is_documented():
    from diagnose.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices["check"]
    text = sub.format_help()
    assert "--trust-code" in text and "--trust-pickle" in text and "--time-limit" in text
    readme = (ROOT / "README.md").read_text()
    assert "--trust-code" in readme


# ------------------------------------------------------------------------- time limit, Ctrl+C
def _cli(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "diagnose", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_endless_torchscript_loop_is_stopped_by_the_time_limit(tmp_path):
    ck = _script(LoopG(), tmp_path / "loop.pt")
    t0 = time.time()
    p = _cli(["check", str(ck), "--dataset", "ring8", "--n-samples", "20", "--device", "cpu",
              "--out", str(tmp_path / "o"), "--time-limit", "2"])
    out, err = p.communicate(timeout=120)
    took = time.time() - t0
    lines = [x for x in err.splitlines() if x.strip()]
    assert p.returncode == 2, err[-500:]
    assert lines[-1].startswith("error:") and "did not return within 2 s" in lines[-1]
    assert "Traceback" not in err
    assert took < 60


def test_endless_loop_stops_on_ctrl_c(tmp_path):
    ck = _script(LoopG(), tmp_path / "loop.pt")
    p = _cli(["check", str(ck), "--dataset", "ring8", "--n-samples", "20", "--device", "cpu",
              "--out", str(tmp_path / "o")])
    time.sleep(8)                 # imports, loading, then inside the endless forward
    assert p.poll() is None
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert time.time() - t0 < 15


def test_python_generator_code_is_stopped_in_process(tmp_path):
    """An --arch module that loops in Python gets a one-line UserError and the process goes on."""
    from diagnose.core.guard import set_time_limit

    f = tmp_path / "arch.py"
    f.write_text("import torch.nn as nn\n\nclass Spin(nn.Module):\n    latent_dim = 8\n\n"
                 "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(8, 2)\n\n"
                 "    def forward(self, z):\n        while True:\n            pass\n")
    mod = {}
    exec(f.read_text(), mod)
    torch.save(mod["Spin"]().state_dict(), tmp_path / "sd.pt")
    set_time_limit(1.0)
    try:
        t0 = time.time()
        with pytest.raises(UserError, match="did not return within 1 s"):
            load_generator(tmp_path / "sd.pt", arch=f"{f}:Spin")
        assert time.time() - t0 < 10
    finally:
        set_time_limit(None)


def test_guard_overhead_is_small():
    from diagnose.core.guard import user_code

    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        with user_code("x"):
            pass
    per = (time.perf_counter() - t0) / n
    print(f"guard overhead: {per * 1e6:.1f} us per call (loaded machine)")
    assert per < 2e-3
