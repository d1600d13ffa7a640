"""Plain-text training logs: any line shape in which names and numbers alternate, streamed.

Hand-written because no library parses free-form console output. The idea: in each line (and each
carriage-return segment of it, where tqdm and Keras redraw their bars) every number is a value and
the words just before it, after the last separator (``| , ; TAB [ ] { } < >``, `` - ``, a colon or
an equals sign that follows a heading), are its name. So

    Epoch [3/10] Batch 100/938 Loss D: 1.5341, loss G: 0.5156, D(x): 0.5398
    [0/5][50/1583]	Loss_D: 0.5 Loss_G: 3.1	D(x): 0.8	D(G(z)): 0.2 / 0.1
    epoch=2 it=300 lossD=0.41 lossG=2.9 D(G(z))=0.12
    (epoch: 355, iters: 100, time: 0.078) G_GAN: 18.230 G_L1: 12.882 D_real: 0.001 D_fake: 0.000
    0 [D loss: 0.693, acc.: 50.00%] [G loss: 0.69]
    1875/1875 [=====] - 45s 24ms/step - d_loss: 0.6445 - g_loss: 0.8012
    <epoch:  4, iter:   8,600, lr:1.000e-04> l_g_gan: 1.1278e-02 D_real: -4.8384e+01

all read as name/value pairs with no shape written down anywhere; ``tensor(0.5, device='cuda:0')``
and ``<tf.Tensor: ..., numpy=0.5>`` are unwrapped first. A count like ``3/10`` is a value with a
total (the batch counter's total gives the batches per epoch); leading unnamed integers (the
PyTorch DCGAN example's ``[0/5][50/1583]``, Keras-GAN's ``0 [D loss ...``) are epoch and batch.

A step's values may be spread over several lines: a line that only names an epoch or a batch
sets the counters of the lines that follow, and consecutive lines whose names do not repeat are
merged into one row. Lines with no measurement-like name (timestamps, warnings, prose) are skipped
and counted. What each name *means* is decided later, from all the evidence
(:mod:`diagnose.dynamics.roles`). Lines are streamed into a bounded
:class:`diagnose.dynamics.table.ColumnStore`, so a log of millions of lines is read in one pass.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Iterable

from diagnose.dynamics.table import ColumnStore, Table, canonical_name, parse_number

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A number standing alone (not part of a word such as "conv1" or "40.1it/s"); nan/inf included;
# "8,600" (a thousands separator) is one number, "0,100,0.5" is three.
_NUM = (r"[-+]?(?:\d{1,3}(?:,\d{3})+(?!,?\d)|\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
        r"|[-+]?(?:[nN][aA][nN]|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)")
# (the leading lookahead skips positions that cannot start a number before the costlier checks)
_VALUE = re.compile(
    rf"(?=[-+.\dnNiI])(?<![\w.])(?P<num>{_NUM})(?:\s*/\s*(?P<total>\d+)(?![\w.]))?(?![\w]|\.\d)")
# tensor(0.5, device='cuda:0'), array(0.5, dtype=float32), np.float32(0.5), tf.Tensor(0.5, shape=()),
# <tf.Tensor: shape=(), dtype=float32, numpy=0.5>
_WRAP = re.compile(
    rf"<tf\.Tensor:[^>]*?numpy=(?P<a>{_NUM})>|(?:tf\.Tensor|tensor|array|Tensor|(?:np\.|numpy\.)?"
    rf"float(?:16|32|64)?)\(\s*(?P<b>{_NUM})(?:[^()]|\([^()]*\))*\)", re.IGNORECASE)
_DELIMS = re.compile(r"[|,;\t\]\[{}<>]|\)(?=\s)|(?<=\s)\(|^\(|\s-+\s|\s-+$")
_BAR = re.compile(r"\d+%\||[\u2580-\u259f]|\d+(?:\.\d+)?(?:it|s)/(?:s|it)\b|\[=*>?\.*\]")
_MAX_LINE = 4000          # longer lines are cut: no real log line is longer, and regexes stay fast
_MAX_NAME = 48
_EXAMPLES = 5             # skipped lines quoted in the report
_LETTER = re.compile(r"[A-Za-z]")
_CLOCK = re.compile(r":\d|\d:$")
# "[D] real 0.1 fake 0.2 [G] fake 3.1": a bracketed player or phase names the values after it
_GROUP = re.compile(r"(?<![\w)])[\[(<]\s*([A-Za-z][A-Za-z _-]{0,15}?)\s*[\])>]")
_GROUP_WORDS = {"d", "g", "dis", "disc", "discriminator", "critic", "netd", "gen", "generator",
                "netg", "train", "training", "val", "valid", "validation", "test", "eval"}
# a table row or header: fields between | TAB , ; or runs of 2+ spaces
_FIELDS = re.compile(r"\s*[|\t,;]\s*|\s{2,}")
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")
# a name that may carry a GAN measurement: makes its line a data line
_MEASURE = re.compile(r"loss|err|score|gan|adv|critic|wasserstein|real|fake|d\(|(^|[^a-z])[dg]"
                      r"($|[^a-z])|lossd|lossg|dloss|gloss|errd|errg|netd|netg|disc|gen",
                      re.IGNORECASE)


# "generator loss | discriminator loss : 3.75 | 0.99" and "Loss D/G: 0.5/0.6": names listed, then
# their values in the same order
_SEP_OR = re.compile(r"[A-Za-z)]\s*[|/]\s*[A-Za-z(]")
_NAME_ITEM = r"[A-Za-z(][\w ()]{0,30}?"
_NAMES_THEN_VALUES = re.compile(
    rf"(?P<names>{_NAME_ITEM}(?:\s*[|/]\s*{_NAME_ITEM})+)\s*[:=]\s*"
    rf"(?P<values>(?:{_NUM})(?:\s*[|/]\s*(?:{_NUM}))+)", re.IGNORECASE)


def _pair_up(m: re.Match) -> str:
    names = [n.strip() for n in re.split(r"\s*[|/]\s*", m.group("names"))]
    values = [v.strip() for v in re.split(r"\s*[|/]\s*", m.group("values"))]
    if len(names) != len(values):
        return m.group(0)
    if len(names[0].split()) > 1 and len(names) > 1 and len(names[1].split()) == 1 \
            and m.group("names").count("/"):
        # "Loss D/G": the shared word goes with every name
        head = names[0].rsplit(" ", 1)[0]
        names = [names[0]] + [f"{head} {n}" for n in names[1:]]
    return " | ".join(f"{n}: {v}" for n, v in zip(names, values))


@functools.lru_cache(maxsize=8192)
def _key_before(text: str) -> str:
    """The name of a value: the words between the previous value (or separator) and this one."""
    parts = _DELIMS.split(text)
    key = ""
    for part in reversed(parts):          # "Epoch [" -> the part before the bracket is the name
        part = part.strip(" :=\"'\u00a0") if part else ""
        if part:
            key = part
            break
    # "Initial batch losses :  Generator loss" -> a heading, then the name
    for sep in (":", "="):
        head, s, tail = key.rpartition(sep)
        if s and tail.strip() and _LETTER.search(tail):
            key = tail
    key = key.strip(" :=-\u00a0")
    key = key.lstrip("(")
    words = key.split()
    if len(words) > 4:                    # prose before the name: keep its last words
        key = " ".join(words[-4:])
    if len(key) > _MAX_NAME or not _LETTER.search(key):
        return ""
    return _SPACE.sub(" ", key)


@functools.lru_cache(maxsize=8192)
def _template(texts: tuple) -> tuple:
    """For the texts between the values of a line: per value (name, counter kind or None),
    and whether the line carries a measurement at all. Cached: a log has few line shapes."""
    slots = []
    measure = False
    group = ""
    for t in texts:
        for label in _GROUP.findall(t):
            if set(label.lower().replace("-", " ").replace("_", " ").split()) <= _GROUP_WORDS:
                group = label
        key = _key_before(t)
        if key and group and not re.search(rf"(?<![A-Za-z]){re.escape(group)}(?![A-Za-z])", key,
                                           re.IGNORECASE):
            key = f"{group} {key}"
        kind = canonical_name(key) if key else None
        if kind not in ("epoch", "step"):
            kind = None
            if key and _MEASURE.search(key):
                measure = True
        slots.append((key, kind))
    return tuple(slots), measure


def parse_segment(seg: str):
    """Name/value pairs of one line segment.

    Returns (values {name: value}, counters {"epoch"|"step": (value, total or nan)}, measure,
    strong): ``measure`` says whether any name looks like a GAN measurement, ``strong`` whether
    a counter was named or had a total (bare leading integers alone do not make a counter line).
    """
    if "ensor" in seg or "rray(" in seg or "float" in seg:
        seg = _WRAP.sub(lambda m: m.group("a") or m.group("b"), seg)
    if _SEP_OR.search(seg):
        seg = _NAMES_THEN_VALUES.sub(_pair_up, seg)
    # one C call: [text, number, total, text, number, total, ..., text]
    parts = _VALUE.split(seg)
    n = len(parts) // 3
    if not n:
        return {}, {}, False, False
    texts = parts[0::3]
    shape = (tuple(texts), tuple(parts[2::3]))
    plan = _PLANS.get(shape, _NO_PLAN)
    if plan is _NO_PLAN:
        plan = _plan(shape, n)
    if plan is not None:
        # a line shaped like one seen before: where each name's number sits is known
        fvalues, fcounters, measure, strong = plan
        try:
            return ({k: float(parts[i]) for k, i in fvalues},
                    {k: (float(parts[i]), t) for k, i, t in fcounters}, measure, strong)
        except ValueError:
            pass                              # "8,600": the general path reads it
    return _parse_parts(parts, texts, n)


_PLANS: dict = {}
_NO_PLAN = object()
_MAX_PLANS = 4096


def _plan(shape: tuple, n: int):
    """What ``_parse_parts`` does with a line of this shape (its texts between the values and its
    printed totals), as (values [(name, part index)], counters [(kind, part index, total)],
    measure, strong); None when the outcome depends on the values themselves (an unnamed
    integer that may be a counter). Cached: a log has few line shapes."""
    texts, totals = shape
    slots, _ = _template(tuple(texts[:n]))
    plan = _NO_PLAN
    may_lead = True                       # no name or clock yet: a bare integer may be a counter
    for i in range(n):
        if texts[i + 1].startswith("%|") or totals[i] is not None:
            continue
        if slots[i][0] or texts[i] == ":" or (texts[i + 1] == ":" and i + 1 < n):
            may_lead = False
        elif may_lead:
            plan = None                   # an unnamed number: a counter or not by its value
            break
    if plan is _NO_PLAN:
        plan = _probe(texts, totals, n)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[shape] = plan
    return plan


def _probe(texts: tuple, totals: tuple, n: int):
    """The plan of a shape with no value-dependent choice, read off a parse of made-up numbers
    (checked against a second parse with other numbers)."""
    probe = [texts[0]]
    for i in range(n):
        # numbers no reader could take for an integer count: any decision that depends on the
        # value shows up as a difference between two probes
        probe += [f"{i}.5", totals[i], texts[i + 1]]
    other = list(probe)
    for i in range(n):
        other[3 * i + 1] = f"{i + 7}"
    a, b = _parse_parts(probe, texts, n), _parse_parts(other, texts, n)
    plan = None
    if list(a[0]) == list(b[0]) and list(a[1]) == list(b[1]) and a[2:] == b[2:]:
        index = {float(probe[3 * i + 1]): 3 * i + 1 for i in range(n)}
        plan = ([(k, index[v]) for k, v in a[0].items()],
                [(k, index[v], t) for k, (v, t) in a[1].items()], a[2], a[3])
    return plan


def _parse_parts(parts: list, texts: list, n: int):
    """``parse_segment`` on a line already split into texts, numbers and totals."""
    slots, measure = _template(tuple(texts[:n]))
    values: dict[str, float] = {}
    counters: dict[str, tuple[float, float]] = {}
    leading: list[tuple[float, float]] = []
    lead_open = True
    strong = False          # a named counter or a count with a total: may stand on its own line
    for i in range(n):
        key, kind = slots[i]
        num = parts[3 * i + 1]
        total = parts[3 * i + 2]
        after = texts[i + 1]
        if after.startswith("%|"):                    # a progress bar's percentage
            continue
        try:
            val = float(num)
        except ValueError:
            try:
                val = float(num.replace(",", ""))
            except ValueError:
                continue
        tot = float(total) if total is not None else math.nan
        if not key:
            if total is not None:
                leading.append((val, tot))
                strong = True
            elif texts[i] == ":" or (after == ":" and i + 1 < n):
                # a clock ("[01:07:50]", "12:30:01"): not counters
                leading = [x for x in leading if not math.isnan(x[1])]
                lead_open = False
            elif lead_open and val.is_integer() and len(leading) < 3:
                leading.append((val, tot))
            else:
                lead_open = False
            continue
        lead_open = False
        if kind is not None:
            counters.setdefault(kind, (val, tot))
            strong = True
            continue
        if key not in values:             # DCGAN's "D(G(z)): 0.2 / 0.1": the first is before D's step
            values[key] = val
    # unnamed counts: two are [epoch/n_epochs][batch/n_batches]; one alone is an iteration counter
    if 0 < len(leading) <= 2:
        names = ("epoch", "step") if len(leading) == 2 else ("step",)
        for name, (v, t) in zip([n for n in names if n not in counters], leading):
            counters[name] = (v, t)
    return values, counters, measure, strong


class _Reader:
    """Assembles rows from segments (multi-line steps, counter lines, redraws) into a store."""

    def __init__(self, pattern: str | None, mapping: dict | None = None):
        self.rx = re.compile(pattern) if pattern else None
        # names the user mapped with --map count as measurements whatever they are called
        self.mapped = {v for k, v in (mapping or {}).items() if k != "family"}
        self.store = ColumnStore()
        self.skipped: dict[str, int] = {"blank": 0, "no_numbers": 0, "no_series": 0}
        self.examples: list[str] = []
        self.lines = self.segments = 0
        self.ctx: dict[str, tuple[float, float]] = {}   # counters of a counter-only line
        self.pending: dict | None = None
        self.pending_counters: dict = {}
        self.last_sig = None
        self.totals: dict[str, float] = {}                 # largest printed total per counter
        self.header: list[str] | None = None               # names of a printed table's columns

    def _skip(self, key: str, seg: str) -> None:
        self.skipped[key] = self.skipped.get(key, 0) + 1
        if key == "no_series" and len(self.examples) < _EXAMPLES:
            ex = seg.strip()[:160]
            if ex not in self.examples:
                self.examples.append(ex)

    def feed(self, line: str) -> None:
        self.lines += 1
        line = _ANSI.sub("", line)[:_MAX_LINE] if "\x1b" in line else line[:_MAX_LINE]
        any_seg = False
        for seg in line.split("\r"):
            if not seg.strip():
                continue
            any_seg = True
            self.segments += 1
            self._segment(seg)
        if not any_seg:
            self.skipped["blank"] += 1

    def _table_row(self, seg: str):
        """A header of names (remembered), or a row of numbers under one (its values), or None.

        ``D_loss  acc  G_loss`` then ``0.004 | 100 | 6.2``; or ``component | loss | gen_loss``
        then ``generator (train) | 8.35 | 6.03`` (the row label joins each column's name)."""
        fields = [f.strip() for f in _FIELDS.split(seg.strip()) if f.strip()]
        if len(fields) < 2:
            return None
        if not _VALUE.search(seg):
            if all(_LETTER.search(f) and len(f) <= 40 and len(f.split()) <= 4
                   and ":" not in f and "=" not in f for f in fields) and \
                    any(_MEASURE.search(f) for f in fields):
                self.header = fields
                return "header"
            return None
        h = self.header
        if not h:
            return None
        nums = [parse_number(f.rstrip("%")) for f in fields]
        k = len(h)
        if len(fields) >= k and all(x is not None for x in nums[:k]):
            return {h[j]: nums[j] for j in range(k)}
        if len(fields) == k and nums[0] is None and all(x is not None for x in nums[1:]):
            return {f"{fields[0]} {h[j]}": nums[j] for j in range(1, k)}
        return None

    def _segment(self, seg: str) -> None:
        tab = None
        if self.rx is None and (self.header is not None or _VALUE.search(seg) is None):
            tab = self._table_row(seg)
        if tab == "header":
            self.skipped["table_header"] = self.skipped.get("table_header", 0) + 1
            return
        if tab:
            counters = {}
            for k in list(tab):
                kind = canonical_name(k)
                if kind in ("epoch", "step"):
                    counters[kind] = (tab.pop(k), math.nan)
            self._values(tab, counters, seg)
            return
        if self.rx is not None:
            m = self.rx.search(seg)
            got = {k: parse_number(v) for k, v in (m.groupdict() if m else {}).items() if v is not None}
            got = {k: v for k, v in got.items() if v is not None}
            counters = {k: (got.pop(k), math.nan) for k in ("epoch", "step") if k in got}
            values, measure, strong = got, bool(got), bool(counters)
        else:
            values, counters, measure, strong = parse_segment(seg)
            if not measure and self.mapped and self.mapped.intersection(values):
                measure = True
        if not values or not measure:
            if counters and strong and not _BAR.search(seg):
                # "Epoch 3/10" on a line of its own: the counters of the lines that follow
                self._flush()
                if "epoch" in counters and "step" not in counters:
                    self.ctx.pop("step", None)
                self.ctx.update(counters)
                self.skipped["counter_lines"] = self.skipped.get("counter_lines", 0) + 1
                return
            key = "no_numbers" if not _DIGIT.search(seg) else \
                "progress_bar" if _BAR.search(seg) else "no_series"
            self._skip(key, seg)
            return
        self._values(values, counters, seg)

    def _values(self, values: dict, counters: dict, seg: str) -> None:
        for k, v in self.ctx.items():
            counters.setdefault(k, v)
        p = self.pending
        if p is not None and (any(k in p for k in values) or
                              any(self.pending_counters.get(k, (None,))[0] != v[0]
                                  for k, v in counters.items() if k in self.pending_counters)):
            self._flush()
            p = None
        if p is None:
            self.pending = dict(values)
            self.pending_counters = dict(counters)
        else:
            p.update(values)
            for k, v in counters.items():
                self.pending_counters.setdefault(k, v)

    def _flush(self) -> None:
        if self.pending is None:
            return
        row = self.pending
        for k, (v, t) in self.pending_counters.items():
            row[k] = v
            if not math.isnan(t):
                self.totals[k] = max(self.totals.get(k, 0.0), t)
                if k == "step":
                    row["__step_total"] = t
        self.pending = None
        self.pending_counters = {}
        sig = tuple(row.items())
        if sig == self.last_sig:                  # a progress bar redrawn with the same numbers
            self.skipped["repeated"] = self.skipped.get("repeated", 0) + 1
            return
        self.last_sig = sig
        self.store.add(row)

    def table(self, source: str, mapping: dict | None) -> Table:
        self._flush()
        report = {"format": "text" if self.rx is None else "text+pattern", "lines": self.lines,
                  "segments": self.segments, "skipped": self.skipped,
                  "skipped_total": sum(v for k, v in self.skipped.items()
                                       if k not in ("blank", "counter_lines")),
                  "skipped_examples": self.examples, "notes": []}
        if self.totals:
            # "[Epoch 0/200] [Batch 11/938]": the run's planned length, so a log of its first
            # batches is known to be only its start
            report["planned"] = {"epochs": self.totals.get("epoch"),
                                 "batches_per_epoch": self.totals.get("step")}
        _global_steps(self.store, report)
        return self.store.table(source=source, report=report, mapping=mapping)


def parse_text(lines: Iterable[str], source: str = "", pattern: str | None = None,
               mapping: dict | None = None) -> Table:
    """Parse a text log (any iterable of lines, e.g. an open file) into a Table in one pass.

    Never raises on odd content (a bad ``pattern`` aside). The report says how many lines were
    read, how many became rows, how many were skipped (blank, no numbers, no measurement name,
    progress bars, redraws) with a few examples.
    """
    r = _Reader(pattern, mapping)
    for line in lines:
        r.feed(line.rstrip("\n"))
    return r.table(source, mapping)


def _global_steps(store: ColumnStore, report: dict) -> None:
    """Turn (epoch, batch) into one global step, in place in the store.

    With the batch total printed ("Batch 100/938"), step = (epoch - first epoch) * total + batch.
    Without it, a batch counter that restarts each epoch cannot be placed exactly: steps become a
    monotonic row counter. A log with only epochs uses the epoch as the step.
    """
    import numpy as np
    from array import array

    if not store.n:
        return
    cols, _ = store.arrays()
    tot = cols.pop("__step_total", None)
    store.cols.pop("__step_total", None)
    store.bad.pop("__step_total", None)
    epoch, step = cols.get("epoch"), cols.get("step")
    has_epoch = epoch is not None and np.isfinite(epoch).any()
    has_step = step is not None and np.isfinite(step).any()
    notes = report["notes"]

    def put(name: str, v) -> None:
        a = array("d")
        a.frombytes(np.ascontiguousarray(v, dtype=float).tobytes())
        store.cols[name] = a
        store._fast_keys = None                 # its fast path holds the replaced columns
        store.bad[name] = bytearray(len(a))

    if has_epoch and has_step:
        both = np.isfinite(epoch) & np.isfinite(step)
        per_epoch = float(np.nanmax(tot)) if tot is not None and np.isfinite(tot).any() else None
        if per_epoch:
            e0 = float(np.nanmin(epoch))
            put("batch", step)
            put("step", np.where(both, (epoch - e0) * per_epoch + step, step))
            notes.append(f"global step = epoch * {per_epoch:g} batches per epoch + batch")
        else:
            s = step[np.isfinite(step)]
            if (np.diff(s) < 0).any():
                put("batch", step)
                put("step", np.arange(store.n, dtype=float) * store.stride)
                notes.append("batch counter restarts each epoch and no total is printed: "
                             "steps are a monotonic row counter")
    elif has_epoch and not has_step:
        put("step", epoch)
        notes.append("only epoch numbers in the log: steps are epochs")
    report["steps_are"] = "epochs" if has_epoch and not has_step else "batches"
