"""TensorBoard event directories, read with tensorboard's own EventMultiplexer (all events kept).

Every run under the directory (a sub-folder with event files) is loaded with ``size_guidance`` 0 for
scalars and tensors, i.e. no reservoir sampling. Tag names are matched by their common spellings
("Loss/D", "loss_d", "D(x)" ...); ``writer.add_scalars("Loss", {"D": .., "G": ..})`` writes runs
named ``Loss_D`` / ``Loss_G`` with tag ``Loss``, so the run name is tried with the tag when the tag
alone means nothing. When two sources map to one series, the one with more points wins (noted).
"""
from __future__ import annotations

import math
from pathlib import Path

from diagnose.dynamics.table import Table, canonical_name
from diagnose.core.errors import UserError


def has_event_files(path: Path) -> bool:
    """True when ``path`` is an event file or a directory holding one (searched 3 levels deep)."""
    if path.is_file():
        return "tfevents" in path.name
    for depth in range(4):
        pat = "/".join(["*"] * depth + ["*tfevents*"])
        if any(path.glob(pat)):
            return True
    return False


def _scalars(acc) -> dict[str, list[tuple[int, float]]]:
    """Scalar series of one EventAccumulator: simple values and 0-d tensor summaries."""
    out: dict[str, list[tuple[int, float]]] = {}
    tags = acc.Tags()
    for tag in tags.get("scalars", []):
        out[tag] = [(int(e.step), float(e.value)) for e in acc.Scalars(tag)]
    if tags.get("tensors"):
        from tensorboard.util import tensor_util

        for tag in tags["tensors"]:
            pts = []
            for e in acc.Tensors(tag):
                try:
                    arr = tensor_util.make_ndarray(e.tensor_proto)
                except Exception:  # noqa: BLE001 - a non-numeric tensor summary is skipped
                    break
                if arr.size != 1 or arr.dtype.kind not in "fiu":
                    break
                pts.append((int(e.step), float(arr.reshape(()))))
            else:
                if pts:
                    out.setdefault(tag, pts)
    return out


def tb_runs(path: str | Path) -> list[Path]:
    """The training runs of a TensorBoard logdir: the top-most folders holding event files.

    Folders nested in a run's folder (``add_scalars`` writes ``Loss_D``/``Loss_G`` sub-runs there)
    belong to that run; sibling folders (``runs/exp1``, ``runs/exp2``, Lightning's ``version_N``)
    are separate runs.
    """
    path = Path(path)
    if path.is_file():
        return [path.parent]
    dirs = sorted({p.parent for p in path.rglob("*tfevents*") if p.is_file()},
                  key=lambda d: (len(d.parts), str(d)))
    tops: list[Path] = []
    for d in dirs:
        if not any(t == d or t in d.parents for t in tops):
            tops.append(d)
    return tops


def read_tensorboard(path: str | Path, mapping: dict | None = None) -> Table:
    """Load every scalar of a TensorBoard log dir (one training run) into a Table aligned by step."""
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    path = Path(path)
    guidance = {"scalars": 0, "tensors": 0, "histograms": 1, "images": 1,
                "audio": 1, "compressedHistograms": 1}
    mux = EventMultiplexer(size_guidance=guidance)
    if path.is_file():
        mux.AddRun(str(path.parent), name=".")
    else:
        mux.AddRunsFromDirectory(str(path))
    try:
        mux.Reload()
    except Exception as e:  # noqa: BLE001 - a corrupt event file is the user's input, not our bug
        raise UserError(f"{path}: unreadable TensorBoard events ({type(e).__name__})") from None
    chosen: dict[str, tuple[str, list]] = {}
    unknown = []
    notes = []
    for run in sorted(mux.Runs()):
        try:
            series = _scalars(mux.GetAccumulator(run))
        except Exception as e:  # noqa: BLE001 - a corrupt event file: skip that run, say so
            notes.append(f"run {run!r} unreadable: {type(e).__name__}")
            continue
        for tag, pts in series.items():
            run_name = Path(run).name if run not in (".", "") else ""
            # add_scalars("Loss", {"D": ...}) -> run "Loss_D", tag "Loss": the run names the series
            name = tag if canonical_name(tag) or not run_name else f"{run_name}/{tag}"
            label = f"{run}:{tag}" if run_name else tag
            if canonical_name(name) is None:
                unknown.append(label)
            if name in chosen and len(chosen[name][1]) >= len(pts):
                notes.append(f"{label} ignored: {chosen[name][0]} is also {name}")
                continue
            chosen[name] = (label, pts)
    if not chosen:
        raise UserError(f"{path}: TensorBoard log with no scalars")
    steps = sorted({s for _, pts in chosen.values() for s, _ in pts})
    index = {s: i for i, s in enumerate(steps)}
    rows = [{"step": s} for s in steps]
    for name, (_, pts) in chosen.items():
        for s, v in pts:                              # a step logged twice: the last value wins
            rows[index[s]][name] = v if math.isfinite(v) else None
    report = {"format": "tensorboard", "lines": sum(len(p) for _, p in chosen.values()),
              "tags": {name: label for name, (label, _) in chosen.items()},
              "skipped": {"unmatched_tags": len(unknown)}, "skipped_total": 0,
              "skipped_examples": unknown[:5], "notes": notes}
    return Table.from_rows(rows, source=str(path), report=report, mapping=mapping)
