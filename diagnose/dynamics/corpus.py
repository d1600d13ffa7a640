"""Judge a folder of real training logs against what each one is known to show.

A corpus folder holds log files and ``expected.json``::

    {"<file name>": {"verdict_any": ["<code>", ...],    # acceptable headline verdicts
                     "must_flag": ["<code>", ...],      # findings that must be present
                     "must_not_flag": ["<code>", ...],  # findings that must be absent
                     "why": "<the evidence>"}}

A *finding* is a flag of severity warn or fail; info flags are notes and are not checked. Each file
is read and judged by :func:`diagnose.dynamics.analyze`, exactly as ``diagnose logs`` does. Used by
``diagnose validate --logs`` and by the corpus test.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

EXPECTED = "expected.json"
FINDING = ("warn", "fail")
_KEYS = ("verdict_any", "must_flag", "must_not_flag")


def default_dir() -> Path | None:
    """The corpus shipped with a source checkout (tests/data/reallogs), or None when absent."""
    here = Path(__file__).resolve().parents[2] / "tests" / "data" / "reallogs"
    return here if (here / EXPECTED).is_file() else None


def load_expected(folder: str | Path) -> dict[str, dict]:
    """Read and check ``expected.json`` of a corpus folder; a UserError names what is wrong."""
    from diagnose.core.errors import UserError
    from diagnose.core.verdict import CODES

    path = Path(folder) / EXPECTED
    if not path.is_file():
        raise UserError(f"no {EXPECTED} in {folder}: a log corpus needs one (file -> expectations)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or not data:
        raise UserError(f"{path} must be a non-empty object mapping file names to expectations")
    for name, exp in data.items():
        if not isinstance(exp, dict) or not exp.get("verdict_any"):
            raise UserError(f"{path}: entry {name!r} needs a non-empty 'verdict_any' list")
        for key in _KEYS:
            codes = exp.get(key, [])
            if not isinstance(codes, list):
                raise UserError(f"{path}: {name!r} {key} must be a list of codes")
            unknown = [c for c in codes if c not in CODES]
            if unknown:
                raise UserError(f"{path}: {name!r} {key} has unknown code(s) {', '.join(unknown)}")
    return data


def judge(path: str | Path, expectation: dict) -> dict:
    """Judge one log against its expectation: a row with the verdict, findings and what failed."""
    from diagnose.dynamics import analyze
    from diagnose.core.errors import UserError

    row = {"file": Path(path).name, "expected": list(expectation["verdict_any"]),
           "verdict": None, "flags": [], "passed": False, "problems": []}
    try:
        verdict = analyze(path)
    except UserError as e:
        # what `diagnose logs` would refuse with exit 2: the file counts as misread
        row["verdict"] = "unreadable"
        # the message names the file by its full path; the row already names it
        msg = " ".join(str(e).replace(str(path), Path(path).name).split())
        row["problems"].append(f"unreadable: {msg}")
        return row
    row["verdict"] = verdict["verdict"]
    row["confidence"] = verdict.get("confidence")
    row["flags"] = [f["code"] for f in verdict["flags"] if f["severity"] in FINDING]
    row["problems"] = problems(verdict, expectation)
    row["passed"] = not row["problems"]
    return row


def problems(verdict: dict, expectation: dict) -> list[str]:
    """What a verdict dict gets wrong against an expectation (empty when it is right)."""
    found = {f["code"] for f in verdict.get("flags", []) if f["severity"] in FINDING}
    out = []
    if verdict["verdict"] not in expectation["verdict_any"]:
        out.append(f"verdict {verdict['verdict']} not in {'|'.join(expectation['verdict_any'])}")
    out += [f"missing {c}" for c in expectation.get("must_flag", []) if c not in found]
    out += [f"unwanted {c}" for c in expectation.get("must_not_flag", []) if c in found]
    return out


def corpus_files(folder: str | Path) -> list[Path]:
    """The log files of a corpus folder: every plain file except expected.json and markdown notes."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and p.name != EXPECTED and p.suffix.lower() != ".md")


def run_corpus(folder: str | Path, on_file: Callable[[dict], None] | None = None) -> list[dict]:
    """Judge every file of a corpus folder; files without an expectation, and expectations
    without a file, are failing rows too (a corpus must say what each of its logs shows)."""
    expected = load_expected(folder)
    files = {p.name: p for p in corpus_files(folder)}
    rows = []
    for name in sorted(set(files) | set(expected)):
        if name not in expected:
            row = {"file": name, "expected": [], "verdict": None, "flags": [], "passed": False,
                   "problems": [f"not listed in {EXPECTED}"]}
        elif name not in files:
            row = {"file": name, "expected": list(expected[name]["verdict_any"]),
                   "verdict": "missing", "flags": [], "passed": False,
                   "problems": ["listed but the file does not exist"]}
        else:
            row = judge(files[name], expected[name])
        rows.append(row)
        if on_file:
            on_file(row)
    return rows


def table(rows: list[dict]) -> str:
    """The accuracy table as text: file, expected, verdict, pass/FAIL, other findings."""
    w = max([len(r["file"]) for r in rows] + [4])
    exp = [("|".join(r["expected"]) or "-") for r in rows]
    we = max([len(e) for e in exp] + [8])
    lines = [f"{'file':<{w}}  {'expected':<{we}}  {'verdict':<20}result  other flags"]
    for r, e in zip(rows, exp):
        other = ", ".join(c for c in r["flags"] if c != r["verdict"]) or "-"
        lines.append(f"{r['file']:<{w}}  {e:<{we}}  {str(r['verdict']):<20}"
                     f"{'pass' if r['passed'] else 'FAIL':<8}{other}")
        if not r["passed"]:
            lines.append(f"{'':<{w}}    why: {'; '.join(r['problems'])}")
    ok = sum(r["passed"] for r in rows)
    lines.append(f"{ok}/{len(rows)} files correct")
    return "\n".join(lines)
