"""Shared parts of the training-dynamics detectors: thresholds, advice, smoothing, the Context.

Every detector works on rows (not steps), so logs written every step, every 100 batches or once
per epoch are judged alike. Noise is handled three ways: a running median (window grows with the
log's length), conditions must hold for a persistent stretch (a fraction of the rows, never fewer
than a few), and confidence falls with the number of points. Thresholds live in one frozen
dataclass, each with the reason for its value.

Hand-written (no library detects GAN failure modes); numpy/scipy do the numerics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diagnose.dynamics import conventions as conv
from diagnose.dynamics.table import SERIES, SIGNAL, Table
from diagnose.core.verdict import Flag


@dataclass(frozen=True)
class Thresholds:
    """Detector thresholds (defaults tuned on synthetic curves and on the bundled trainers' runs)."""

    # at chance a BCE term is exactly ln 2; a D that barely moves (lr 1e-6) stays within ~3 %
    chance_rel_tol: float = 0.06
    # D(x), D(G(z)) within 0.5 +- this count as chance: 0.07 is a ~0.15 logit, far below learning D
    chance_prob_tol: float = 0.07
    # relative std of a loss pinned at chance; a learning D's per-batch loss moves 5-20 %
    flat_rel_std: float = 0.05
    # batch-to-batch noise of D(x) for a D whose weights do not move: its output barely depends on
    # the input, so batch means of D(x) differ by < 0.01; a D that learned anything varies more
    frozen_noise: float = 0.01
    # D(x) above D(G(z)) by more than this: D has begun to separate reals from fakes (not frozen)
    separation_margin: float = 0.03
    # a stretch must cover this fraction of the rows to count as "for long"
    persist_frac: float = 0.3
    # overpowering counts from a shorter stretch: D that wins for a fifth of the run already starves G
    overpower_frac: float = 0.2
    # D(G(z)) must exceed D(x) by this much: below it, the two are within batch noise
    fooled_margin: float = 0.05
    # D loss below this (per ln-2 unit of the convention) means D(x) > ~0.9 and D(G(z)) < ~0.1
    near_zero_d: float = 0.1
    # G loss above this under -ln D(G(z)) means D(G(z)) < 0.1: G gets almost no signal
    overpower_g: float = 2.3
    # both losses below this at once is impossible for one D (see inconsistent_losses)
    near_zero_both: float = 0.1
    # autocorrelation at the swing period: white noise gives ~0, a clean swing ~1
    osc_acf: float = 0.4
    # swing peak-to-peak relative to the level: smaller swings are ordinary noise
    osc_rel_amp: float = 0.3
    # growth of |loss| or grad norm over its early median that counts as explosive
    explode_ratio: float = 1e3
    # and the absolute size it must also reach (BCE losses stay below ~100 by clamping)
    explode_abs: float = 50.0
    # a loss whose typical size over the end of the log is this large has blown up whatever its
    # start: BCE/hinge/least-squares losses are clamped or bounded far below it, and a WGAN-GP
    # critic whose gradient penalty works keeps |D loss| in the tens
    blowup_abs: float = 1e3
    # a series unchanged (to its printed digits) for this many rows and this share of the log is
    # frozen: a learning network's loss moves in its printed digits from one report to the next
    frozen_rows: int = 5
    frozen_frac: float = 0.3
    # warm-up: D sits at chance at initialisation; the first few percent of a run (or, when the
    # run's length is unknown, the first few hundred batches) cannot show d_not_learning
    warmup_frac: float = 0.03
    warmup_batches: int = 500
    # a G loss this close to 0 means D(G(z)) ~ 1: D calls every fake real with certainty
    g_zero: float = 1e-3
    # beside it, a D loss this large (over 7 ln 2) means D is confidently wrong, not at chance
    d_huge: float = 5.0
    # D's raw output on reals above its output on fakes by this many logits: D's (relativistic)
    # probability that a real is more real than a fake is over 0.9 (ln 9 = 2.2)
    logit_gap: float = 2.2
    # D winning by trend: G's loss grown to this multiple of its early level while D's fell to
    # under 1/this of its own (D(G(z)) down by a factor e^(2 x early G loss))
    trend_factor: float = 3.0


DEFAULT = Thresholds()
#: Multiples of ln 2 a loss sits at when D is at chance (see diagnose.dynamics.conventions).
LN2_UNITS = {"d": conv.D_MULTIPLES, "g": conv.G_FACTORS}
_ADVICE = {
    "d_not_learning": [
        "check the discriminator's learning rate: a D learning rate 100x below G's keeps D at chance",
        "check that D's optimizer holds D's parameters and that optimizer_d.step() is called",
        "balance the learning rates (e.g. lr_d = lr_g = 2e-4 with Adam betas (0.5, 0.999))"],
    "d_fooled": [
        "D rates fakes above reals: D is too weak or too slow (raise lr_d, widen D, check its "
        "architecture and normalization)",
        "look at the samples: a G that fools a weak D often collapses to a few outputs"],
    "d_overpowering": [
        "weaken D: lower lr_d, fewer/smaller D layers (e.g. an AvgPool instead of a conv), dropout",
        "use the non-saturating G loss, label smoothing (real targets 0.9) or instance noise",
        "a spectral-normalized D or a gradient penalty keeps G's gradients alive"],
    "inconsistent_losses": [
        "BatchNorm in D with real and fake in separate batches lets D tell them apart by batch "
        "statistics: pass real and fake through D in one concatenated batch, or use no BatchNorm "
        "in D (LayerNorm / spectral norm)",
        "check the logging: the G loss may be computed after D's step on a different batch, "
        "the losses may be swapped, averaged over the wrong axis or the targets inverted",
        "check the data range: real images in [0, 1] and fakes in [-1, 1] are trivially separable"],
    "oscillation": [
        "lower both learning rates or use Adam beta1 = 0.5; try TTUR (lr_d > lr_g) with smaller steps",
        "add a gradient penalty or spectral normalization to damp the D/G cycle"],
    "diverged": [
        "lower the learning rates; clip gradients; check for log(0) (use BCEWithLogitsLoss, not "
        "Sigmoid + BCELoss), and for mixed precision overflow",
        "resume from the last checkpoint before the first non-finite value"],
}


def evidence_weight(n: int) -> float:
    """Confidence factor for ``n`` points: 0.37 with one point, 1.0 from 40 points on."""
    return 0.35 + 0.65 * min(1.0, n / 40.0)


def smooth_window(n: int) -> int:
    """Running-median window (odd): 1 below 50 points, then ~n/25, at most 51."""
    w = int(min(51, max(1, n // 25)))
    return w if w % 2 else w + 1 if w > 1 else 1


def running_median(v: np.ndarray, w: int) -> np.ndarray:
    """Centred running median, edges padded with the edge value (numpy only: scipy.ndimage costs
    seconds to import, which a live check inside a training loop should not pay)."""
    if w <= 1 or v.size < 2:
        return v
    h = w // 2
    padded = np.concatenate((np.full(h, v[0]), v, np.full(h, v[-1])))
    view = np.lib.stride_tricks.sliding_window_view(padded, w)
    # in blocks: np.median copies its input, and n x w values at once is too much for long logs
    block = 1 << 16
    return np.concatenate([np.median(view[i:i + block], axis=1)
                           for i in range(0, view.shape[0], block)])


def min_stretch(n: int, frac: float, floor: int = 3) -> int:
    """Rows a stretch needs to persist: ``frac`` of the log, at least ``floor`` (or all of a short log)."""
    return max(1, min(n, max(floor, math.ceil(frac * n))))


def longest_run(mask: np.ndarray) -> tuple[int, int, int]:
    """(start, end inclusive, length) of the longest run of True; length 0 when none."""
    if mask.size == 0 or not mask.any():
        return 0, -1, 0
    m = np.concatenate(([0], mask.astype(np.int8), [0]))
    d = np.diff(m)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i] - 1), int(ends[i] - starts[i])


class Context:
    """What every detector reads: rows with a signal, raw and smoothed series, the conventions."""

    def __init__(self, table: Table, th: Thresholds = DEFAULT):
        self.th = th
        cols = SERIES + ("d_real_logit", "d_fake_logit")
        signal = np.zeros(len(table), bool)
        for c in SIGNAL:
            if c in table.columns:
                signal |= np.isfinite(table.columns[c]) | table.nonfinite.get(c, False)
        self.rows = np.flatnonzero(signal)
        self.n = int(self.rows.size)
        self.steps = table.steps[self.rows]
        self.raw = {c: table.columns[c][self.rows] for c in cols if table.has(c)}
        self.nonfinite = {c: table.nonfinite[c][self.rows] for c in cols if c in table.nonfinite}
        self.window = smooth_window(self.n)
        self.s: dict[str, np.ndarray] = {}
        for c, v in self.raw.items():
            ok = np.isfinite(v)
            if not ok.any():
                continue
            idx = np.arange(v.size)
            filled = np.interp(idx, idx[ok], v[ok])     # gaps (other series' rows) bridged
            self.s[c] = running_median(filled, self.window)
        self.conv = conv.infer(self.s.get("d_loss"), self.s.get("g_loss"), self.s.get("d_real"),
                               self.s.get("d_fake"), th.chance_rel_tol)
        self.inferred_fake = False
        fam = (table.family or {}).get("name", "bce")
        if "d_fake" not in self.s and "g_loss" in self.s and fam == "bce":
            est = conv.infer_d_fake(self.s["g_loss"], self.conv["g_factor"])
            if est is not None:
                self.s["d_fake"] = est
                self.inferred_fake = True
        g_role = ((table.report.get("roles") or {}).get("mapping") or {}).get("g_loss") or {}
        # G's adversarial term beside its auxiliary terms: possibly printed times its weight
        self.g_beside_terms = list(g_role.get("beside_terms") or [])
        self.weight = evidence_weight(self.n)
        self.family = (table.family or {}).get("name", "bce")
        self.steps_are = table.report.get("steps_are", "batches")
        self.only_start = False
        self.warm = self._warmup(table.report.get("planned") or {},
                                 table.report.get("format") not in ("live", "run"))

    def _warmup(self, planned: dict, from_file: bool) -> int:
        """Rows that belong to the run's warm-up (see Thresholds.warmup_*); sets ``only_start``
        when the whole log lies inside it (a log of a run's first batches)."""
        if not self.n:
            return 0
        total = None
        if self.steps_are == "epochs" and planned.get("epochs"):
            total = planned["epochs"]
        elif planned.get("epochs") and planned.get("batches_per_epoch"):
            total = planned["epochs"] * planned["batches_per_epoch"]
        first, last = float(self.steps[0]), float(self.steps[-1])
        if not np.all(np.diff(self.steps) >= 0):
            return 0
        if total:
            end = first + self.th.warmup_frac * total
            if self.steps_are == "epochs":
                end = max(end, first + 1)
            self.only_start = last < end
        else:
            # unknown run length: the first few percent of the log; a log that spans only a few
            # hundred batches from step 0 is a run's start (Monitor's live checks and our own run
            # directories have their own warm-up: Monitor's min_rows)
            end = first + self.th.warmup_frac * (last - first)
            if self.steps_are == "epochs":
                end = max(end, first + 1)
            elif from_file and first <= 1 and last < self.th.warmup_batches:
                self.only_start = True
        warm = int(np.searchsorted(self.steps, end, side="left"))
        return self.n if self.only_start else warm

    def span(self, a: int, b: int) -> list[int]:
        """[first, last] step of rows a..b."""
        return [int(self.steps[a]), int(self.steps[b])]

    def med(self, name: str, a: int, b: int, smooth: bool = False) -> float | None:
        """Median of a series over rows a..b (raw by default; the smoothed, gap-bridged series when
        asked or when the raw rows hold no finite value). None when the series is absent."""
        for src in ((self.s,) if smooth else (self.raw, self.s)):
            if name in src:
                v = src[name][a:b + 1]
                v = v[np.isfinite(v)]
                if v.size:
                    return round(float(np.median(v)), 5)
        return None

    def flag(self, code: str, severity: str, summary: str, evidence: dict, a: int, b: int,
             base: float) -> Flag:
        """A Flag with the shared evidence (points, window, stretch) and confidence scaled by n."""
        ev = {"points": self.n, "smoothing_window": self.window, "stretch_rows": b - a + 1,
              "stretch_fraction": round((b - a + 1) / max(1, self.n), 3), **evidence}
        return Flag(code=code, severity=severity, summary=summary, evidence=ev,
                    steps=self.span(a, b), advice=list(_ADVICE.get(code, [])),
                    confidence=round(base * self.weight, 3))
