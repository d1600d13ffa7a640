"""The graded ground-truth suite behind ``diagnose validate --sweep``.

Each *dial* is a family of generators built in code with a setting that moves them from healthy
to broken, and a truth known at every setting (written next to the dial, decided by how the
generator is built, never by what the tool measures):

distinct   k distinct held-out digits (1 ... 1,000), or continuous warps. Truth: mode_collapse
           when k <= 100 (a 64-sample grid repeats itself), healthy from 300 on.
classes    warps of held-out digits with k of the 10 classes dropped. Truth: healthy at 0,
           mode_collapse with one class left, partial_collapse in between.
copies     a share of exact training digits among warps of held-out ones. Truth: memorization
           from one sample in five (20 %) on; healthy below.
near       a share of lightly warped training digits. Truth as for copies.
noise      warps plus pixel noise of std sigma ([-1, 1] units). Truth: not_converged from
           sigma 0.3 (noise at half the digits' own pixel std) on.
blur       warps blurred by a Gaussian of sigma pixels. Truth: not_converged from 2 px (strokes
           smeared into blobs) on.
range      warps written in [lo, hi] against data in [-1, 1]. Truth: range_mismatch unless the
           range is the data's.
mix        a share of one repeated digit among warps (a good generator mixed with a collapsed
           one). Truth: mode_collapse from a quarter of the samples on.
untrained  generators that never learned (random init). Truth: not_converged, and
           mode_collapse + not_converged when the outputs barely vary (pixel spread of
           independent latents under a fifth of real digits', measured on the pixels).
ring8 / grid25   2D mixtures with m modes dropped. Truth: healthy at 0, mode_collapse with one
           mode left, partial_collapse in between.

The split is fixed: the settings of each dial alternate between the *fit* half (thresholds and
confidence calibration are chosen there: ``fit_thresholds``, ``fit_confidence``) and the
*report* half, where accuracy and reliability are reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from diagnose.analysis import groundtruth as gt

#: Spread (mean pixel distance between outputs of independent latents, as a share of real
#: digits') under which an untrained generator's truth includes mode_collapse.
COLLAPSED_PIXEL_SPREAD = 0.2
#: Headline classes, in the confusion matrix's order.
CLASSES = ("healthy", "mode_collapse", "mode_collapse+not_converged", "partial_collapse",
           "memorization", "not_converged", "range_mismatch", "diverged")


@dataclass
class Setting:
    """One point of a dial: its value, the truth (a headline class) and how to build it."""

    dial: str
    value: str
    truth: str
    build: Callable[[dict], torch.nn.Module]
    dataset: str = "mnist"
    value_range: tuple | None = (-1.0, 1.0)
    half: str = "fit"          # "fit" or "report" (set by settings())
    order: float = 0.0         # position on the dial (for flip points)


def headline_class(verdict: dict) -> str:
    """The verdict's headline as a class: its code, or 'mode_collapse+not_converged'."""
    codes = {f["code"] for f in verdict.get("flags", []) if f["severity"] in ("warn", "fail")}
    if verdict["verdict"] == "mode_collapse" and "not_converged" in codes:
        return "mode_collapse+not_converged"
    return verdict["verdict"]


def _pixel_spread(module, data: dict) -> float:
    """Mean pixel distance between outputs of independent latents, as a share of real digits'."""
    g = torch.Generator().manual_seed(3)
    shape = getattr(module, "latent_shape", (gt.LATENT,))
    with torch.no_grad():
        a = module(torch.randn((256, *shape), generator=g)).flatten(1)
        b = module(torch.randn((256, *shape), generator=g)).flatten(1)
    real = data["test"][0][:512].flatten(1) * 2 - 1
    rd = (real[:256] - real[256:512]).norm(dim=1).mean()
    return float((a - b).norm(dim=1).mean() / rd)


def settings() -> list[Setting]:
    """Every setting of every dial, with its truth and half of the split."""
    def held(d):
        return d["test"][0]

    def warps(d):
        return gt.Warp(held(d))

    out: list[Setting] = []

    def dial(name, rows, dataset="mnist", value_range=(-1.0, 1.0)):
        for i, (value, truth, build) in enumerate(rows):
            out.append(Setting(name, str(value), truth, build, dataset, value_range,
                               "fit" if i % 2 == 0 else "report", float(i)))

    ks = [1, 2, 5, 10, 30, 100, 300, 1000]
    dial("distinct", [(k, "mode_collapse" if k <= 100 else "healthy",
                       (lambda d, k=k: gt.Pick(held(d)[:k]))) for k in ks]
         + [("continuous", "healthy", warps)])

    def drop(k):
        def build(d):
            lab = d["test"][1]
            return gt.Warp(held(d)[lab >= k])
        return build
    dial("classes", [(k, "healthy" if k == 0 else "mode_collapse" if k == 9 else "partial_collapse",
                      drop(k)) for k in (0, 1, 2, 3, 5, 7, 9)])

    def copies(share, near=False):
        def build(d):
            train = d["train"][0]
            bad = gt.Warp(train, strength=0.15) if near else gt.Pick(train)
            return gt.Blend(warps(d), bad, share)
        return build
    dial("copies", [(f"{s:.0%}", "memorization" if s >= 0.2 else "healthy", copies(s))
                    for s in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)])
    dial("near", [(f"{s:.0%}", "memorization" if s >= 0.2 else "healthy", copies(s, True))
                  for s in (0.1, 0.25, 0.5, 1.0)])
    dial("noise", [(s, "not_converged" if s >= 0.3 else "healthy",
                    (lambda d, s=s: gt.Noisy(warps(d), s))) for s in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)])
    dial("blur", [(s, "not_converged" if s >= 2 else "healthy",
                   (lambda d, s=s: gt.Blurred(warps(d), s))) for s in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)])
    dial("range", [(f"[{lo:g},{hi:g}]", "healthy" if (lo, hi) == (-1.0, 1.0) else "range_mismatch",
                    (lambda d, lo=lo, hi=hi: gt.Warp(held(d), out_range=(lo, hi))))
                   for lo, hi in ((-1.0, 1.0), (0.0, 1.0), (-0.4, 0.4))])
    dial("mix", [(f"{s:.0%}", "mode_collapse" if s >= 0.25 else "healthy",
                  (lambda d, s=s: gt.Blend(warps(d), gt.Pick(held(d)[1:2]), s)))
                 for s in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)])
    dial("untrained", [("dcgan N(0,0.02)", "untrained", lambda d: gt.RandomDCGAN(0)),
                       ("mlp default init", "untrained", lambda d: gt.RandomMLP(0)),
                       ("dcgan default init", "untrained", lambda d: gt.RandomDCGAN(1, None))])
    for name, total, drops in (("ring8", 8, (0, 1, 2, 3, 5, 7)), ("grid25", 25, (0, 1, 3, 5, 10, 20, 24))):
        dial(name, [(m, "healthy" if m == 0 else "mode_collapse" if m == total - 1 else
                     "partial_collapse", (lambda d, name=name, m=m, total=total:
                                          gt.Mixture(name, range(total - m))))
                    for m in drops], dataset=name, value_range=None)
    return out


def _truth(s: Setting, module, data) -> str:
    if s.truth != "untrained":
        return s.truth
    return ("mode_collapse+not_converged" if _pixel_spread(module, data) < COLLAPSED_PIXEL_SPREAD
            else "not_converged")


def measure_all(*, n_samples: int = 1000, only: str | None = None, cache=None, device: str = "cpu",
                on_row: Callable | None = None) -> list[dict]:
    """Run every setting through the check; each row keeps what re-judging needs.

    Rows: dial, value, truth, half, order, verdict (the dict), headline class.
    """
    from diagnose.analysis.judge import check_generator
    from diagnose.generators.load import wrap_generator

    data = gt.lazy_digits()
    rows = []
    for s in settings():
        if only and only not in s.dial:
            continue
        torch.manual_seed(0)
        module = s.build(data)
        truth = _truth(s, module, data) if s.dataset == "mnist" else s.truth
        gen = wrap_generator(module, device=device)
        v = check_generator(gen, s.dataset, n_samples=n_samples, device=device, progress=False,
                            value_range=s.value_range, cache=cache,
                            subject=f"{s.dial}={s.value}", kid_subsets=10)
        row = {"dial": s.dial, "value": s.value, "truth": truth, "half": s.half, "order": s.order,
               "verdict": v, "predicted": headline_class(v)}
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


# ------------------------------------------------------------------ re-judging and fitting
def rejudge(row: dict, thresholds: dict | None = None) -> dict:
    """The verdict of a measured row under other thresholds (no new measurement)."""
    from diagnose.analysis import detectors as rules

    v = row["verdict"]
    panel = {k: val for k, val in (v.get("reference") or {}).items() if k != "features"}
    measured = {"matched": v["matched"], "full": v["matched"]} if v.get("matched") else None
    return rules.verdict_from(subject=v["subject"], measured=measured, reference={"panel": panel},
                              profile=v.get("latent"), range_info=v.get("range"),
                              nonfinite=v.get("nonfinite_share") or 0.0,
                              features=(v.get("reference") or {}).get("features", ""),
                              extra={"loading": v.get("loading")}, thresholds=thresholds)


#: Candidate values tried for each threshold when fitting (the default is always among them).
GRID = {
    "dup_excess": (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6),
    "support_share": (0.1, 0.15, 0.25, 0.4, 0.6),
    "effective_modes_share": (0.1, 0.15, 0.2, 0.3, 0.4),
    "spread_share": (0.05, 0.1, 0.15, 0.2, 0.3),
    "copy_factor": (2.0, 3.0, 5.0, 8.0),
    "copy_floor": (0.05, 0.1, 0.15, 0.2, 0.3),
    "memo_distance": (0.0, 0.5, 0.6, 0.7, 0.8, 0.9),
    "precision_share": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    "fid_factor": (1.5, 2.0, 3.0, 5.0, 10.0),
    "distance_factor": (0.0, 1.0, 1.1, 1.2, 1.3, 1.5, 2.0),
    "missing_share": (0.02, 0.05, 0.1, 0.2),
    "off_manifold_share": (0.1, 0.2, 0.3, 0.5),
    "kl_excess": (0.1, 0.25, 0.5),
    "ndb_excess": (0.1, 0.2, 0.3, 0.5),
}


def accuracy(rows: list[dict], thresholds: dict | None = None) -> float:
    """Share of rows whose headline class equals the truth under ``thresholds``."""
    if not rows:
        return float("nan")
    return sum(headline_class(rejudge(r, thresholds)) == r["truth"] for r in rows) / len(rows)


def fit_thresholds(rows: list[dict], base: dict | None = None, passes: int = 2) -> dict:
    """Coordinate search over GRID maximizing accuracy on ``rows``.

    For each parameter in turn every grid value is tried; among the values that reach the best
    accuracy the one closest to the current value (in ratio) is kept, so a parameter moves only
    as far as the suite asks it to.
    """
    from diagnose.analysis.calibration import THRESHOLDS

    th = dict(base or THRESHOLDS)

    def dist(a, b):
        if a == b:
            return 0.0
        if a <= 0 or b <= 0:
            return math.inf
        return abs(math.log(a / b))

    for _ in range(passes):
        for key, grid in GRID.items():
            accs = {val: accuracy(rows, {**th, key: val}) for val in set(grid) | {th[key]}}
            best = max(accs.values())
            th[key] = min((v for v, a in accs.items() if a >= best - 1e-9),
                          key=lambda v: (dist(v, th[key]), v))
    return th


def _margin_and_right(row: dict, v: dict) -> tuple[str, float, bool]:
    """(code the confidence is read for, its margin, whether the headline is right)."""
    scores = v.get("scores") or {}
    code = v["verdict"]
    if code == "healthy":
        finite = [s for s in scores.values() if s is not None]
        margin = -max(finite) if finite else 10.0
    else:
        margin = scores.get(code)
        margin = 10.0 if margin is None else margin
    return code, max(-10.0, min(10.0, margin)), headline_class(v) == row["truth"]


def held_out_margins(rows: list[dict], passes: int = 1) -> list[tuple[str, float, bool]]:
    """(code, margin, right) of each row judged under thresholds fitted WITHOUT its dial.

    Judged under thresholds fitted on the same rows every headline tends to be right, which
    says nothing about how sure to be near a threshold; leaving the row's whole dial out of the
    fit gives the mistakes a calibration needs.
    """
    out = []
    for dial in sorted({r["dial"] for r in rows}):
        th = fit_thresholds([r for r in rows if r["dial"] != dial], passes=passes)
        for r in rows:
            if r["dial"] == dial:
                out.append(_margin_and_right(r, rejudge(r, th)))
    return out


def _logistic(pts):
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1.0).fit([[m] for m, _ in pts], [int(ok) for _, ok in pts])
    return round(float(lr.intercept_[0]), 3), round(float(lr.coef_[0][0]), 3)


def fit_confidence(rows: list[dict], thresholds: dict | None = None,
                   points: list[tuple[str, float, bool]] | None = None) -> dict:
    """Per verdict code, a logistic P(right) on the margin.

    points: (code, margin, right) triples (default: ``rows`` judged under ``thresholds``; the
    refit passes ``held_out_margins``). A code with at least 4 points of both kinds gets its own
    curve; otherwise the curve fitted on all codes' points, when they hold both kinds; otherwise
    a constant, the share right with one pseudo-observation each way (a = log-odds, b = 0).
    """
    if points is None:
        points = [_margin_and_right(r, rejudge(r, thresholds)) for r in rows]
    by: dict[str, list] = {}
    for code, m, ok in points:
        by.setdefault(code, []).append((m, ok))
    everything = [(m, ok) for code, m, ok in points]
    pooled = _logistic(everything) if 0 < sum(ok for _, ok in everything) < len(everything) else None
    table = {}
    for code, pts in by.items():
        ys = [int(ok) for _, ok in pts]
        if len(pts) >= 4 and 0 < sum(ys) < len(ys):
            table[code] = _logistic(pts)
        elif pooled is not None:
            table[code] = pooled
        else:
            p = (sum(ys) + 1) / (len(ys) + 2)
            table[code] = (round(math.log(p / (1 - p)), 3), 0.0)
    return table


# ------------------------------------------------------------------ reports
def confusion(rows: list[dict], key: str = "predicted") -> dict:
    """{truth: {predicted: count}} over the rows."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["truth"], {}).setdefault(r[key], 0)
        out[r["truth"]][r[key]] += 1
    return out


def reliability(rows: list[dict], edges=(0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)) -> list[dict]:
    """Confidence bins: count, mean confidence, share whose headline is right."""
    out = []
    for lo, hi in zip(edges, edges[1:]):
        inb = [r for r in rows if lo <= r["verdict"]["confidence"] < hi]
        right = sum(r["predicted"] == r["truth"] for r in inb)
        out.append({"bin": f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}",
                    "count": len(inb),
                    "mean_confidence": (sum(r["verdict"]["confidence"] for r in inb) / len(inb)
                                        if inb else None),
                    "share_right": right / len(inb) if inb else None})
    return out


def flip_points(rows: list[dict]) -> list[dict]:
    """Per dial: between which settings the truth changes, and where the verdict does."""
    out = []
    dials: dict[str, list] = {}
    for r in rows:
        dials.setdefault(r["dial"], []).append(r)
    for name, rs in dials.items():
        rs = sorted(rs, key=lambda r: r["order"])

        def flips(key):
            return [f"{a['value']}->{b['value']}: {a[key]} -> {b[key]}"
                    for a, b in zip(rs, rs[1:]) if a[key] != b[key]]
        out.append({"dial": name, "truth_flips": flips("truth"), "verdict_flips": flips("predicted"),
                    "agree": flips("truth") == flips("predicted"),
                    "right": sum(r["truth"] == r["predicted"] for r in rs), "settings": len(rs)})
    return out


def apply(rows: list[dict], thresholds: dict | None = None) -> list[dict]:
    """Rows re-judged under ``thresholds`` (verdict and predicted class replaced)."""
    out = []
    for r in rows:
        v = rejudge(r, thresholds)
        out.append({**r, "verdict": v, "predicted": headline_class(v)})
    return out
