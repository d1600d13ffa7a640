"""Plain-text training logs: find the loss / D(x) / D(G(z)) series with no configuration.

Hand-written because no library parses free-form console output. The idea: in each line (and each
carriage-return segment of it, where tqdm redraws its bar) every number is a value and the words
just before it are its name. So

    Epoch [3/10] Batch 100/938 Loss D: 1.5341, loss G: 0.5156, D(x): 0.5398
    [0/5][50/1583]	Loss_D: 0.5 Loss_G: 3.1	D(x): 0.8	D(G(z)): 0.2 / 0.1
    epoch=2 it=300 lossD=0.41 lossG=2.9 D(G(z))=0.12

all read as name/value pairs, and the names go through :func:`diagnose.dynamics.table.canonical_name`.
A count like ``3/10`` is a value with a total (the total of the batch counter gives the batches per
epoch); leading unnamed counts (the PyTorch DCGAN example's ``[0/5][50/1583]``) are epoch and batch.
Timestamps, progress bars, warnings and prose have no name/value pair that maps to a series, and are
skipped and counted. ``pattern`` (a regex with named groups d_loss, g_loss, d_real, d_fake, step,
epoch) replaces the automatic reading for shapes it does not cover.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Iterable

from diagnose.dynamics.table import SIGNAL, Table, _num, canonical_name

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A number standing alone (not part of a word such as "conv1" or "40.1it/s"); nan/inf included.
_NUM = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)"
_VALUE = re.compile(
    rf"(?<![\w.])(?P<num>{_NUM})(?:\s*/\s*(?P<total>\d+)(?![\w.]))?(?![\w]|\.\d)", re.IGNORECASE)
_DELIMS = re.compile(r"[|,;\t\]\[]")
_TENSOR = re.compile(r"tensor\(\s*$", re.IGNORECASE)
_BAR = re.compile(r"\d+%\||[\u2580-\u259f]|\d+(?:\.\d+)?(?:it|s)/(?:s|it)\b")
_MAX_LINE = 4000          # longer lines are cut: no real log line is longer, and regexes stay fast
_EXAMPLES = 5             # skipped lines quoted in the report


_LETTER = re.compile(r"[A-Za-z]")
# unknown names still kept as extra series: they look like training measurements
_EXTRA = re.compile(r"loss|err|score|acc|grad|norm|lr|fid|kid|penalty|gp|wasserstein|real|fake",
                    re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=4096)
def _key_before(text: str) -> str:
    """The name of a value: the words between the previous value (or delimiter) and this one."""
    text = _TENSOR.sub("", text)
    parts = _DELIMS.split(text)
    key = ""
    for part in reversed(parts):          # "Epoch [" -> the part before the bracket is the name
        part = part.strip(" :=\"'\u00a0")
        if part:
            key = part
            break
    key = key.strip(" :=-\u00a0(")
    words = key.split()
    if len(words) > 4:                    # prose before the name: keep its last words
        key = " ".join(words[-4:])
    return key if _LETTER.search(key) else ""


def parse_segment(seg: str) -> tuple[dict, dict, list[float]]:
    """Name/value pairs of one line segment: (values by name, totals by name, unnamed counts)."""
    values: dict[str, float] = {}
    totals: dict[str, float] = {}
    unnamed: list[tuple[float, float]] = []
    prev = 0
    for m in _VALUE.finditer(seg):
        key = _key_before(seg[prev:m.start()])
        prev = m.end()
        try:
            val = float(m.group("num"))
        except ValueError:
            continue
        total = m.group("total")
        if not key:
            if total is not None:
                unnamed.append((val, float(total)))
            continue
        if key not in values:             # DCGAN's "D(G(z)): 0.2 / 0.1": the first is before D's step
            values[key] = val
            if total is not None:
                totals[key] = float(total)
    return values, totals, unnamed


def _segments(line: str) -> list[str]:
    line = _ANSI.sub("", line)[:_MAX_LINE]
    return [s for s in line.split("\r") if s.strip()]


def _row_from(values: dict, totals: dict, unnamed: list) -> tuple[dict, dict]:
    """Canonical row and the totals of its epoch/step counters."""
    row: dict[str, float] = {}
    tot: dict[str, float] = {}
    for k, v in values.items():
        name = canonical_name(k)
        if name is None:
            if not _EXTRA.search(k):
                continue                  # prose numbers ("INFO 2024", "took 12 s") are not series
            name = _SPACE.sub("_", k.strip())
        if name in row:
            continue
        row[name] = v
        if k in totals and name in ("epoch", "step"):
            tot[name] = totals[k]
    # unnamed counts: two are [epoch/n_epochs][batch/n_batches] (PyTorch DCGAN example); one alone
    # is an iteration counter (tqdm's "70/600")
    names = ("epoch", "step") if len(unnamed) >= 2 else ("step",)
    for name, (v, t) in zip([n for n in names if n not in row], unnamed):
        row[name] = v
        tot[name] = t
    return row, tot


def parse_text(lines: Iterable[str], source: str = "", pattern: str | None = None) -> Table:
    """Parse a text log into a Table; never raises on odd content (bad ``pattern`` aside).

    The report says how many lines were read, how many became rows, how many were skipped (blank,
    no numbers, numbers but no known series, non-finite garbage) with a few examples.
    """
    rx = re.compile(pattern) if pattern else None
    rows: list[dict] = []
    totals: dict[str, list[float]] = {"epoch": [], "step": []}
    skipped = {"blank": 0, "no_numbers": 0, "no_series": 0}
    examples: list[str] = []
    n_lines = n_segments = 0
    last_sig = None
    for line in lines:
        n_lines += 1
        segs = _segments(line)
        if not segs:
            skipped["blank"] += 1
            continue
        for seg in segs:
            n_segments += 1
            if rx is not None:
                m = rx.search(seg)
                row = {canonical_name(k) or k: float(v)
                       for k, v in (m.groupdict() if m else {}).items()
                       if v is not None and _num(v) is not None}
                tot = {}
            else:
                values, tots, unnamed = parse_segment(seg)
                row, tot = _row_from(values, tots, unnamed)
            if not any(k in row for k in SIGNAL):
                key = "no_numbers" if not _DIGIT.search(seg) else \
                    "progress_bar" if _BAR.search(seg) else "no_series"
                skipped[key] = skipped.get(key, 0) + 1
                ex = seg.strip()[:160]
                if len(examples) < _EXAMPLES and key == "no_series" and ex not in examples:
                    examples.append(ex)
                continue
            sig = tuple(sorted(row.items()))
            if sig == last_sig:                   # a progress bar redrawn with the same numbers
                skipped["repeated"] = skipped.get("repeated", 0) + 1
                continue
            last_sig = sig
            rows.append(row)
            for k in ("epoch", "step"):
                totals[k].append(tot.get(k, math.nan))
    report = {"format": "text" if rx is None else "text+pattern", "lines": n_lines,
              "segments": n_segments, "skipped": skipped,
              "skipped_total": sum(skipped.values()) - skipped["blank"],
              "skipped_examples": examples, "notes": []}
    _global_steps(rows, totals, report)
    return Table.from_rows(rows, source=source, report=report)


def _global_steps(rows: list[dict], totals: dict, report: dict) -> None:
    """Turn (epoch, batch) into one global step, in place.

    With the batch total printed ("Batch 100/938"), step = (epoch - first epoch) * total + batch.
    Without it, a batch counter that restarts each epoch cannot be placed exactly: steps become a
    monotonic row counter. A log with only epochs uses the epoch as the step.
    """
    if not rows:
        return
    has_epoch = any("epoch" in r for r in rows)
    has_step = any("step" in r for r in rows)
    notes = report["notes"]
    if has_epoch and has_step:
        step_tot = [t for t in totals["step"] if math.isfinite(t)]
        e0 = min(r["epoch"] for r in rows if "epoch" in r)
        if step_tot:
            per_epoch = max(step_tot)
            for r in rows:
                if "step" in r and "epoch" in r:
                    r["batch"] = r["step"]
                    r["step"] = (r["epoch"] - e0) * per_epoch + r["step"]
            notes.append(f"global step = epoch * {per_epoch:g} batches per epoch + batch")
        else:
            steps = [r.get("step") for r in rows]
            if any(b is not None and a is not None and b < a for a, b in zip(steps, steps[1:])):
                for i, r in enumerate(rows):
                    r["batch"] = r.pop("step", math.nan)
                    r["step"] = float(i)
                notes.append("batch counter restarts each epoch and no total is printed: "
                             "steps are a monotonic row counter")
    elif has_epoch and not has_step:
        for r in rows:
            if "epoch" in r:
                r["step"] = r["epoch"]
        notes.append("only epoch numbers in the log: steps are epochs")
