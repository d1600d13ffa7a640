"""Held-out real training logs (tests/data/reallogs_heldout): logs from sources the first corpus
does not use, kept apart so the log reader is measured on files its author has not tuned against.

Every file is judged exactly as in tests/test_reallogs.py (`diagnose logs --json`, then its
expected.json), but the bar is the one the project set for unseen logs: at least 90 % of the files
judged right. Each file's result is still reported on its own, so a regression names the file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnose.dynamics import corpus as logcorpus
from diagnose.cli import main

HELDOUT = Path(__file__).parent / "data" / "reallogs_heldout"
FIRST = Path(__file__).parent / "data" / "reallogs"
EXPECTED = json.loads((HELDOUT / "expected.json").read_text(encoding="utf-8"))
REQUIRED_ACCURACY = 0.90


def _judge(name: str, capsys) -> list[str]:
    """What `diagnose logs --json` gets wrong on one held-out file (empty when it is right)."""
    rc = main(["logs", str(HELDOUT / name), "--json"])
    out = capsys.readouterr()
    if rc != 0:
        return [f"refused (exit {rc}): {out.err.strip()}"]
    return logcorpus.problems(json.loads(out.out), EXPECTED[name])


def test_heldout_files_listed_documented_and_schema_valid():
    files = {p.name for p in logcorpus.corpus_files(HELDOUT)}
    assert files == set(EXPECTED), {"unlisted": sorted(files - set(EXPECTED)),
                                    "missing": sorted(set(EXPECTED) - files)}
    sources = (HELDOUT / "SOURCES.md").read_text(encoding="utf-8")
    assert [n for n in EXPECTED if f"## {n}" not in sources] == []
    assert logcorpus.load_expected(HELDOUT) == EXPECTED
    # every entry says why, so a failure can be argued with evidence rather than tool output
    assert [n for n, e in EXPECTED.items() if len(e.get("why", "")) < 40] == []


def test_heldout_is_big_and_not_all_broken():
    # a tool that always answers "broken" must fail: at least 30 % of the files are healthy runs
    healthy = [n for n, e in EXPECTED.items() if e["verdict_any"] == ["healthy"]]
    broken = [n for n, e in EXPECTED.items() if "healthy" not in e["verdict_any"]]
    assert len(EXPECTED) >= 25
    assert len(healthy) >= 0.30 * len(EXPECTED), healthy
    assert len(broken) >= 5, broken          # and a tool that always says "healthy" fails too


def test_no_constant_answer_reaches_the_bar():
    # a tool that answers the same verdict (and no findings) for every log must stay under 90 %
    from diagnose.core.verdict import CODES
    for code in CODES:
        right = sum(code in e["verdict_any"] and not e["must_flag"] for e in EXPECTED.values())
        assert right < REQUIRED_ACCURACY * len(EXPECTED), (code, right, len(EXPECTED))


def test_heldout_shares_no_file_with_the_first_corpus():
    first = {p.read_bytes() for p in logcorpus.corpus_files(FIRST)}
    same = [p.name for p in logcorpus.corpus_files(HELDOUT) if p.read_bytes() in first]
    assert same == []
    first_sources = (FIRST / "SOURCES.md").read_text(encoding="utf-8")
    first_threads = {line.split()[2] for line in first_sources.splitlines()
                     if line.startswith("- Address: https://github.com/") and "/issues/" in line}
    held_sources = (HELDOUT / "SOURCES.md").read_text(encoding="utf-8")
    held_threads = {line.split()[2] for line in held_sources.splitlines()
                    if line.startswith("- Address: https://github.com/") and "/issues/" in line}
    assert first_threads & held_threads == set()


def test_heldout_accuracy_at_least_90_percent(capsys):
    wrong = {name: problems for name in sorted(EXPECTED)
             if (problems := _judge(name, capsys))}
    right = len(EXPECTED) - len(wrong)
    detail = "\n".join(f"  {n}: {'; '.join(p)} -- expected because: {EXPECTED[n]['why']}"
                       for n, p in wrong.items())
    assert right >= REQUIRED_ACCURACY * len(EXPECTED), (
        f"{right}/{len(EXPECTED)} held-out logs judged right "
        f"(need {REQUIRED_ACCURACY:.0%}):\n{detail}")


def test_validate_logs_runs_on_the_heldout_folder(capsys):
    # the same command the closing note quotes; exit 0 only when every file passes
    rc = main(["validate", "--logs", str(HELDOUT), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == len(EXPECTED)
    assert {r["file"] for r in data["files"]} == set(EXPECTED)
    assert rc == (0 if data["passed"] == data["total"] else 1)
    assert all(r["verdict"] != "missing" for r in data["files"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_heldout_log_is_read(name, capsys):
    # whatever the verdict, a real log must be read: refusing one (exit 2) is never right here
    rc = main(["logs", str(HELDOUT / name), "--json"])
    out = capsys.readouterr()
    assert rc == 0, f"{name} refused: {out.err.strip()}"
    assert json.loads(out.out)["verdict"]
