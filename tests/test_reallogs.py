"""Real training logs people posted (tests/data/reallogs): `diagnose logs --json` must judge each
one as its SOURCES.md says, and `diagnose validate --logs` prints the accuracy table."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnose.dynamics import corpus as logcorpus
from diagnose.cli import main
from diagnose.dynamics import synthetic as S

CORPUS = Path(__file__).parent / "data" / "reallogs"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_log_judged_as_expected(name, capsys):
    rc = main(["logs", str(CORPUS / name), "--json"])
    out = capsys.readouterr()
    assert rc == 0, f"{name} refused: {out.err.strip()}"
    verdict = json.loads(out.out)
    wrong = logcorpus.problems(verdict, EXPECTED[name])
    found = [(f["code"], f["severity"]) for f in verdict["flags"]]
    assert not wrong, f"{name}: {'; '.join(wrong)} (flags {found}); expected because: " \
                      f"{EXPECTED[name]['why']}"


def test_every_file_listed_and_every_listed_file_present():
    files = {p.name for p in logcorpus.corpus_files(CORPUS)}
    assert files == set(EXPECTED), {"unlisted": sorted(files - set(EXPECTED)),
                                    "missing": sorted(set(EXPECTED) - files)}
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert [n for n in EXPECTED if f"## {n}" not in sources] == []
    assert logcorpus.load_expected(CORPUS) == EXPECTED      # the schema check accepts it


def test_corpus_is_big_and_not_all_broken():
    # a tool that always answers "broken" must fail here: a quarter of the files are healthy runs
    healthy = [n for n, e in EXPECTED.items() if e["verdict_any"] == ["healthy"]]
    assert len(EXPECTED) >= 30
    assert len(healthy) >= 0.25 * len(EXPECTED), healthy


def _tiny_corpus(tmp_path: Path, expect_for_bad: str) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir(parents=True)
    rows = "\n".join(json.dumps(r) for r in S.healthy()) + "\n"
    (folder / "good.jsonl").write_text(rows)
    (folder / "other.jsonl").write_text(rows)
    (folder / "expected.json").write_text(json.dumps({
        "good.jsonl": {"verdict_any": ["healthy"], "must_flag": [], "must_not_flag": ["diverged"],
                       "why": "synthetic healthy run"},
        "other.jsonl": {"verdict_any": [expect_for_bad], "must_flag": [], "must_not_flag": [],
                        "why": "same healthy run"}}))
    return folder


def test_validate_logs_table_and_exit_codes(tmp_path, capsys):
    ok = _tiny_corpus(tmp_path / "a", "healthy")
    assert main(["validate", "--logs", str(ok)]) == 0
    text = capsys.readouterr().out
    assert "2/2 files correct" in text and "good.jsonl" in text and "FAIL" not in text

    bad = _tiny_corpus(tmp_path / "b", "diverged")       # an expectation the run does not meet
    assert main(["validate", "--logs", str(bad), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["passed"], data["total"]) == (1, 2)
    row = next(r for r in data["files"] if r["file"] == "other.jsonl")
    assert row["verdict"] == "healthy" and not row["passed"]
    assert row["problems"] == ["verdict healthy not in diverged"]


def test_validate_logs_reports_unlisted_and_missing_files(tmp_path, capsys):
    folder = _tiny_corpus(tmp_path, "healthy")
    (folder / "stray.txt").write_text("epoch 1 d_loss 0.5 g_loss 0.9\n")
    (folder / "good.jsonl").unlink()
    assert main(["validate", "--logs", str(folder), "--json"]) == 1
    rows = {r["file"]: r for r in json.loads(capsys.readouterr().out)["files"]}
    assert rows["stray.txt"]["problems"] == ["not listed in expected.json"]
    assert rows["good.jsonl"]["verdict"] == "missing" and rows["other.jsonl"]["passed"]


@pytest.mark.parametrize("setup", ["no_folder", "no_expected", "bad_json", "unknown_code"])
def test_validate_logs_bad_corpus_is_one_line_exit_2(tmp_path, capsys, setup):
    folder = tmp_path / "c"
    if setup != "no_folder":
        folder.mkdir()
        (folder / "a.txt").write_text("d_loss 0.5 g_loss 0.7\n")
    if setup == "bad_json":
        (folder / "expected.json").write_text("{not json")
    elif setup == "unknown_code":
        (folder / "expected.json").write_text(json.dumps({"a.txt": {"verdict_any": ["fine"]}}))
    assert main(["validate", "--logs", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_validate_logs_default_is_the_shipped_corpus():
    assert logcorpus.default_dir() == CORPUS.resolve()
