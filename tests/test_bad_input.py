"""The bad-input corpus: every CLI verb fed what real users throw at it.

One table, one parametrized test: each case builds its input under tmp_path, runs
``diagnose.cli.main(argv)`` in-process and expects exit code 2 with exactly one ``error:`` line on
stderr that names the problem (an expected substring), and never a traceback. Cases whose verb
belongs to a part of the tool that cannot be imported are skipped, not silently passed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from badinputs import lib as B
from diagnose.cli import main

HAVE_CHECK = B.importable("diagnose.generators.load", "diagnose.analysis", "diagnose.commands.check")
HAVE_LOGS = B.importable("diagnose.dynamics", "diagnose.commands.logs")
HAVE_RUN = B.importable("trainers.experiments", "trainers.loop", "diagnose.commands.run")
HAVE_FEATURES = B.importable("diagnose.features", "diagnose.commands.features")
HAVE_VALIDATE = B.importable("diagnose.analysis.groundtruth", "diagnose.commands.validate")
HAVE = {"check": HAVE_CHECK, "logs": HAVE_LOGS, "run": HAVE_RUN, "experiments": HAVE_RUN,
        "features": HAVE_FEATURES, "validate": HAVE_VALIDATE, "dash": True, "data": True}


@dataclass
class Case:
    """One bad input: ``argv(tmp)`` builds files under tmp and returns the CLI arguments."""

    kind: str                                  # short id of the problem
    argv: Callable[[Path], list[str]]          # builds the input, returns argv
    expect: str | tuple[str, ...]              # substring(s) the error line must contain (any)
    code: int = 2                              # expected exit code
    cleanup: list = field(default_factory=list)

    @property
    def verb(self) -> str:
        return self.kind.split(":", 1)[0]


def _chk(*extra: str) -> Callable[[Path], list[str]]:
    """check on PointG's state dict with --arch arch.py:<cls> on ring8 and a few samples."""
    def build(t: Path) -> list[str]:
        sd = B.point_state(t)
        return ["check", str(sd), "--dataset", "ring8", "--n-samples", "200", "--device", "cpu",
                "--out", str(t / "out"), *extra]
    return build


def _arch(cls: str, *extra: str) -> Callable[[Path], list[str]]:
    def build(t: Path) -> list[str]:
        return _chk("--arch", f"{B.arch_file(t)}:{cls}", *extra)(t)
    return build


def _file(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(t: Path) -> Path:
        p = t / name
        p.write_bytes(data)
        return p
    return make


def _busy_port_argv(t: Path) -> list[str]:
    s, port = B.busy_port()
    _OPEN_SOCKETS.append(s)
    (t / "runs").mkdir()
    return ["dash", "--runs", str(t / "runs"), "--port", str(port)]


_OPEN_SOCKETS: list = []
_RAND = bytes((i * 7919 + 13) % 256 for i in range(4096))      # fixed "random" bytes
_TEXT = b"this is a README, not a checkpoint\n" * 20
_NONUTF8 = ("\xe9t\xe9 \xfcber ".encode("latin-1") + b"\xff\xfe\xc3\x28 ") * 400 + b"\n"
_NUMBERLESS = b"starting training\nloading data\nall good, see you later\n" * 50

CASES: list[Case] = [
    # ------------------------------------------------------------------ check: the file itself
    Case("check:missing-file", lambda t: ["check", str(t / "nope.pt")], "no such file"),
    Case("check:empty-file", lambda t: ["check", str(_file("e.pt", b"")(t))], "empty"),
    Case("check:random-bytes", lambda t: ["check", str(_file("r.pt", _RAND)(t))], "not a"),
    Case("check:text-as-checkpoint", lambda t: ["check", str(_file("README.pt", _TEXT)(t))],
         "text file"),
    Case("check:truncated-checkpoint", lambda t: ["check", str(B.truncated_checkpoint(t))],
         ("truncated", "corrupt")),
    Case("check:directory-as-checkpoint", lambda t: ["check", str(t)], "directory"),
    Case("check:discriminator-as-generator",
         lambda t: ["check", str(B.discriminator_checkpoint(t)), "--dataset", "ring8"], "discriminator"),
    Case("check:pickle-needs-code",
         lambda t: ["check", str(B.malicious_checkpoint(t / "evil.pt", t / "MARKER"))], "--trust-pickle"),
    # ------------------------------------------------------------------ check: state dict + arch
    Case("check:state-dict-without-arch", _chk(), "--arch"),
    Case("check:arch-missing-module", _chk("--arch", "no_such_module_xyz:G"), "no_such_module_xyz"),
    Case("check:arch-missing-class", _arch("NoSuchClass"), "NoSuchClass"),
    Case("check:arch-missing-file", _chk("--arch", "/nonexistent/arch.py:G"), "no such file"),
    Case("check:arch-without-colon", _chk("--arch", "arch.py"), "--arch"),
    Case("check:arch-shape-mismatch", _arch("WideG"), "do not fit"),
    Case("check:arch-kwargs-bad-json", _arch("PointG", "--arch-kwargs", "{nz: 8"), "--arch-kwargs"),
    Case("check:arch-constructor-fails", _arch("NeedsArg"), "NeedsArg"),
    Case("check:wrong-latent-dim", _arch("PointG", "--latent-dim", "5"), ("latent", "5")),
    Case("check:negative-latent-dim", _arch("PointG", "--latent-dim", "-3"), "--latent-dim"),
    # ------------------------------------------------------------------ check: generator behaviour
    Case("check:generator-raises", _arch("RaisingG"), "raised"),
    Case("check:generator-wrong-shape", _arch("ScalarG"), ("one number per sample", "shape")),
    Case("check:generator-ignores-batch", _arch("BadBatchG"), ("batch", "shape", "samples")),
    Case("check:generator-nan-is-a-verdict", _arch("NaNG", "--json"), "diverged", code=0),
    # ------------------------------------------------------------------ check: flags
    Case("check:unknown-dataset", _arch("PointG", "--dataset", "imagenet-9000"), "imagenet-9000"),
    Case("check:negative-n-samples", _arch("PointG", "--n-samples", "-5"), "--n-samples"),
    Case("check:absurd-n-samples", _arch("PointG", "--n-samples", "1000000000000"), "--n-samples"),
    Case("check:unknown-features", _arch("PointG", "--features", "no-such-extractor"),
         "no-such-extractor"),
    Case("check:bad-data-range", _arch("PointG", "--data-range", "1,-1"), "--data-range"),
    Case("check:non-integer-flag", _arch("PointG", "--n-samples", "many"), "--n-samples"),
    Case("check:unwritable-out", lambda t: _arch("PointG")(t) + ["--out", str(B.unwritable_path(t))],
         ("--out", "sub", "not a directory", "ermission")),
    Case("check:cuda-without-cuda", _arch("PointG", "--device", "cuda"), "cuda"),
    Case("check:missing-inception-weights", _arch("PointG", "--features", "inception-v3",
         "--inception-weights", "/nonexistent/inception.pth"), "/nonexistent/inception.pth"),
    # ------------------------------------------------------------------ logs
    Case("logs:missing-path", lambda t: ["logs", str(t / "nothing.log")], "no such"),
    Case("logs:empty-file", lambda t: ["logs", str(_file("e.log", b"")(t))], "empty"),
    Case("logs:no-numbers", lambda t: ["logs", str(_file("plain.log", _NUMBERLESS)(t))],
         ("no ", "numbers", "loss")),
    Case("logs:random-bytes", lambda t: ["logs", str(_file("r.log", _RAND)(t))], "binary"),
    Case("logs:non-utf8-text", lambda t: ["logs", str(_file("latin.log", _NONUTF8)(t))],
         ("no ", "log")),
    Case("logs:huge-line", lambda t: ["logs", str(_file("huge.log", b"x" * (8 << 20) + b"\n")(t))],
         ("no ", "log", "line")),
    Case("logs:tensorboard-no-scalars", lambda t: ["logs", str(B.tensorboard_without_scalars(t))],
         "no scalars"),
    Case("logs:empty-dir", lambda t: ["logs", str((t / "d").mkdir() or t / "d")], "directory"),
    Case("logs:run-dir-corrupt-json", lambda t: ["logs", str(B.run_dir(
        t, config="{not json", metrics="{\"step\": 1, \"d_lo\n%%%%\n[1,2\n"))], ("run directory", "metric")),
    Case("logs:csv-header-only", lambda t: ["logs", str(_file("h.csv", b"step,d_loss,g_loss\n")(t))],
         ("csv", "CSV", "no ")),
    Case("logs:bad-pattern-regex", lambda t: ["logs", str(_file("a.log", b"d_loss 1.0\n")(t)),
                                              "--pattern", "(?P<d_loss>[0-9"], "--pattern"),
    Case("logs:pattern-without-groups", lambda t: ["logs", str(_file("a.log", b"d_loss 1.0\n")(t)),
                                                   "--pattern", "[0-9]+"], "--pattern"),
    # a folder of readable runs is judged run by run (tests/test_cmd_logs.py); one whose runs are
    # all unreadable is bad input
    Case("logs:two-runs-in-dir", lambda t: ["logs", str(
        (B.run_dir(t / "root", "a", metrics="{broken\n", config="{}"),
         B.run_dir(t / "root", "b", metrics="{broken\n", config="{}")) and t / "root")],
         "run director"),
    Case("logs:jsonl-of-arrays", lambda t: ["logs", str(_file("a.jsonl", b"[1, 2]\n[3, 4]\n" * 20)(t))],
         ("no recognisable", "no ")),
    Case("logs:csv-with-words-for-numbers", lambda t: ["logs", str(_file(
        "w.csv", b"step,d_loss,g_loss\n" + b"".join(b"%d,abc,def\n" % i for i in range(30)))(t))],
         ("no recognisable", "no ")),
    Case("logs:unknown-format", lambda t: ["logs", str(t), "--format", "xml"], "--format"),
    # ------------------------------------------------------------------ run / experiments
    Case("run:unknown-experiment", lambda t: ["run", "--exp", "no_such_experiment", "--out", str(t)],
         "no_such_experiment"),
    Case("run:unknown-variant", lambda t: ["run", "--exp", "mixtures", "--variants", "ring9",
                                           "--out", str(t)], "ring9"),
    Case("run:zero-steps", lambda t: ["run", "--exp", "mixtures", "--variants", "ring8",
                                      "--steps", "0", "--out", str(t)], "--steps"),
    Case("run:negative-epochs", lambda t: ["run", "--exp", "mixtures", "--variants", "ring8",
                                           "--epochs", "-1", "--out", str(t)], "--epochs"),
    Case("run:unwritable-out", lambda t: ["run", "--exp", "mixtures", "--variants", "ring8",
                                          "--steps", "2", "--no-progress", "--out",
                                          str(B.unwritable_path(t))], ("sub", "directory")),
    Case("run:resume-truncated-checkpoint", lambda t: _resume_with(t, "cut"), ("truncated", "corrupt",
                                                                              "checkpoint")),
    Case("run:resume-pickle-needs-code", lambda t: _resume_with(t, "evil"), ("code", "checkpoint")),
    Case("run:cuda-without-cuda", lambda t: ["run", "--exp", "mixtures", "--variants", "ring8",
                                             "--steps", "1", "--device", "cuda", "--out", str(t)],
         ("cuda", "CUDA")),
    Case("experiments:unknown-flag", lambda t: ["experiments", "--bogus"], "--bogus"),
    # ------------------------------------------------------------------ dash
    Case("dash:port-in-use", _busy_port_argv, "in use"),
    Case("dash:missing-runs-dir", lambda t: ["dash", "--runs", str(t / "none")], "not found"),
    Case("dash:runs-is-a-file", lambda t: ["dash", "--runs", str(_file("f.txt", b"x")(t))], "not found"),
    Case("dash:negative-refresh", lambda t: ["dash", "--runs", str(t), "--refresh-ms", "-5"],
         "--refresh-ms"),
    Case("dash:invalid-port", lambda t: ["dash", "--runs", str(t), "--port", "70000"], "--port"),
    # ------------------------------------------------------------------ data
    Case("data:unknown-dataset", lambda t: ["data", "imagenet-9000"], "imagenet-9000"),
    Case("data:missing-folder", lambda t: ["data", f"folder:{t / 'nope'}"], "nope"),
    Case("data:folder-without-images", lambda t: ["data", f"folder:{(t / 'e').mkdir() or t / 'e'}"],
         ("image", "no ")),
    Case("data:folder-with-corrupt-image", lambda t: ["data", f"folder:{_corrupt_images(t)}"],
         ("bad.png", "image")),
    Case("data:folder-is-a-file", lambda t: ["data", f"folder:{_file('f.txt', b'x')(t)}"], "f.txt"),
    Case("data:negative-resolution", lambda t: ["data", "mnist", "--resolution", "-4"], "resolution"),
    # ------------------------------------------------------------------ features / validate
    Case("features:zero-epochs", lambda t: ["features", "train", "mnist-lenet", "--epochs", "0"],
         "--epochs"),
    Case("features:unknown-extractor", lambda t: ["features", "train", "resnet-9000"], "resnet-9000"),
    Case("validate:negative-n-samples", lambda t: ["validate", "--n-samples", "-1"], "--n-samples"),
    Case("validate:only-matches-nothing", lambda t: ["validate", "--only", "zzz-no-such-case"],
         "zzz-no-such-case"),
    Case("validate:absurd-n-samples", lambda t: ["validate", "--n-samples", "999999999"], "--n-samples"),
    # ------------------------------------------------------------------ issue 15: code, writers, odd content
    Case("check:torchscript-writes-a-file", lambda t: ["check", str(B.file_writing_torchscript(t)),
                                                       "--dataset", "ring8"], "aten::from_file"),
    Case("check:time-limit-zero", _arch("PointG", "--time-limit", "0"), "time limit"),
    Case("check:checkpoint-config-wrong-types", lambda t: [
        "check", str(B.odd_trainers_checkpoint(t)), "--n-samples", "100", "--device", "cpu",
        "--out", str(t / "out"), "--json"], '"verdict"', code=0),
    *[Case(f"logs:odd-run-{k}", (lambda k: lambda t: ["logs", str(B.odd_run(t, k))])(k), "verdict:",
           code=0)
      for k in ("deep-config", "deep-verdict", "deep-line", "bigint-step", "bigint-value",
                "slash-keys", "config-types", "verdict-types", "metrics-types")],
    Case("run:out-holds-a-run", lambda t: ["run", "--exp", "mixtures", "--variants", "ring8",
                                           "--steps", "2", "--no-progress", "--out", str(
        (B.run_dir(t / "runs" / "mixtures", "ring8", metrics=B.healthy_metrics()) and t / "runs"))],
         "already holds a run"),
    Case("run:resume-checkpoint-wrong-types", lambda t: [
        "run", "--exp", "mixtures", "--variants", "ring8", "--steps", "8", "--resume", "--no-progress",
        "--device", "cpu", "--out", str(B.odd_resume_checkpoint(t))], ("cannot resume", "checkpoint")),
    # ------------------------------------------------------------------ the parser itself
    Case("cli:unknown-verb", lambda t: ["frobnicate"], "frobnicate"),
]


def _corrupt_images(t: Path) -> Path:
    d = t / "imgs"
    d.mkdir()
    (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _RAND[:200])
    return d


def _resume_with(t: Path, what: str) -> list[str]:
    """A runs root whose mixtures/ring8 run has a broken or malicious last checkpoint."""
    ck = t / "runs" / "mixtures" / "ring8" / "checkpoints" / "step_0000005.pt"
    ck.parent.mkdir(parents=True)
    (ck.parent.parent / "metrics.jsonl").write_text(B.healthy_metrics(5))
    if what == "cut":
        ck.write_bytes(B.truncated_checkpoint(t).read_bytes())
    else:
        B.malicious_checkpoint(ck, t / "MARKER")
    return ["run", "--exp", "mixtures", "--variants", "ring8", "--steps", "8", "--resume",
            "--no-progress", "--device", "cpu", "--out", str(t / "runs")]


def _params():
    out = []
    for c in CASES:
        ok = HAVE[c.verb] if c.verb in HAVE else True
        out.append(pytest.param(c, id=c.kind, marks=pytest.mark.skipif(
            not ok, reason=f"the part behind `diagnose {c.verb}` cannot be imported yet")))
    return out


@pytest.fixture(autouse=True)
def _restore_modes(tmp_path):
    yield
    for s in _OPEN_SOCKETS:
        s.close()
    _OPEN_SOCKETS.clear()
    ro = tmp_path / "readonly"
    if ro.exists():
        ro.chmod(0o700)        # let pytest delete tmp_path


def test_corpus_is_broad():
    """At least 25 kinds, every verb covered."""
    assert len(CASES) >= 25
    assert len({c.kind for c in CASES}) == len(CASES)
    verbs = {c.verb for c in CASES}
    assert {"check", "logs", "run", "experiments", "dash", "data", "features", "validate"} <= verbs


@pytest.mark.timeout(120)    # a case whose check is missing could start a server or a long job
@pytest.mark.parametrize("case", _params())
def test_bad_input(case: Case, tmp_path, capsys, monkeypatch):
    """Exit code 2 and ONE readable error line naming the problem; never a traceback."""
    monkeypatch.chdir(tmp_path)
    argv = case.argv(tmp_path)
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    expects = (case.expect,) if isinstance(case.expect, str) else case.expect
    if case.code == 2:
        assert code == 2, f"exit {code}; stderr: {err[-500:]!r}"
        assert len(errors) == 1, f"expected one error line, got: {err[-800:]!r}"
        line = errors[0]
        assert len(line) < 500, line
        assert any(e.lower() in line.lower() for e in expects), line
        assert err.rstrip("\n").splitlines()[-1] == line       # the error is the last word
    else:
        assert code == case.code, f"exit {code}; stderr: {err[-500:]!r}"
        assert not errors, err
        assert any(e in out for e in expects), out[:500]
    if (tmp_path / "MARKER").exists():
        pytest.fail("a pickle payload ran while loading an untrusted file")
    target = tmp_path / "target.txt"
    if target.exists() and target.read_text() != "untouched\n":
        pytest.fail("a model file wrote to a file while being checked")


def test_nan_generator_verdict_is_diverged(tmp_path, capsys, monkeypatch):
    """A generator returning NaN is a finding (verdict diverged, exit 0), not an error."""
    if not HAVE_CHECK:
        pytest.skip("diagnose check cannot be imported yet")
    import json

    monkeypatch.chdir(tmp_path)
    argv = _arch("NaNG", "--json")(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err[-500:]
    v = json.loads(out)
    assert v["verdict"] == "diverged"
    assert any(f["code"] == "diverged" for f in v["flags"])
    assert os.path.exists(tmp_path / "out")
