"""Which logged series plays which role, and which loss family the run used: meaning from evidence.

A name alone is not enough: ``D_real`` is D(x) as a probability in one trainer, D's loss on the
real batch in pix2pix (beside ``G_GAN``) and a raw logit of -48 in ESRGAN. So every series is
judged on three kinds of evidence:

- its name: the player (D/critic or G), what it measures (loss, a real/fake term, a score, an
  auxiliary term such as L1/VGG/cycle/gradient penalty, the adversarial part ``GAN``/``adv``);
- its values: a probability stays in [0, 1]; a value below 0 is a logit or a critic score; a value
  above 1 that is never negative is a loss term;
- the other series present: ``D_real``/``D_fake`` with no D total but an adversarial G term
  (``G_GAN``) are D's two loss terms; a D total that equals their sum or mean says the same; a
  total G loss logged beside its adversarial part gives way to the adversarial part.

The loss family (BCE / non-saturating, WGAN critic, hinge, least squares, relativistic) comes from
the names when they say it, else from the signs of the losses (a D loss that goes negative is a
critic's; a G loss that goes negative beside a non-negative D loss is hinge's), else BCE is
assumed and said so. ``overrides`` ({role: series, "family": name}, from ``--map``) win over all
of it. Hand-written: no library maps GAN log names to meanings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from diagnose.dynamics.names import COMPACT, D_WORDS, G_WORDS, canonical_name, tokens
from diagnose.core.errors import UserError

ROLES = ("d_loss", "g_loss", "d_real", "d_fake")
OTHER_ROLES = ("grad_norm_d", "grad_norm_g", "lr_d", "lr_g")
LOGIT_ROLES = ("d_real_logit", "d_fake_logit")
FAMILIES = ("bce", "wgan", "hinge", "lsgan", "relativistic")
FAMILY_TEXT = {
    "bce": "BCE / non-saturating (chance: ln 2 per term)",
    "wgan": "Wasserstein critic (no chance level; the critic's loss may be negative)",
    "hinge": "hinge (D at chance: 1 per term; G loss = -D(G(z)) may be negative)",
    "lsgan": "least squares (D at chance: 0.25 per term)",
    "relativistic": "relativistic (RaGAN/RSGAN; BCE on differences of D's logits)",
}

_AUX = {"l1", "l2", "pix", "pixel", "fea", "feat", "feature", "features", "vgg", "percep",
        "perceptual", "cycle", "cyc", "idt", "identity", "rec", "recon", "reconstruction",
        "content", "tv", "kl", "klloss", "ssim", "style", "cls", "class", "aux", "ce", "ss",
        "ssl", "mask", "latent", "lpips", "gp", "penalty", "r1", "r2", "reg", "pl", "path",
        "grad", "gradient", "norm", "lr", "acc", "accuracy", "info", "mi", "code", "vq",
        "commit", "entropy", "fm", "match", "l1loss", "mse", "dist", "distance", "w", "em"}
_ADV = {"gan", "adv", "adversarial", "advers", "ganloss", "advloss", "generation"}
_HELD_OUT = {"test", "val", "valid", "validation", "eval", "evaluation", "epoch"}
_LOSS = {"loss", "err", "error", "cost", "bce", "nll"}
_PROB = {"score", "prob", "probability", "out", "output", "pred", "prediction", "mean", "sigmoid"}
_TOTAL = {"total", "all", "sum", "overall", "full"}
_INDEX = {"step", "epoch", "batch", "iteration", "time", "wall_time", "timestamp"}
_FAMILY_WORDS = [
    # (a gradient penalty alone says nothing: R1/GP regularise non-saturating and hinge GANs too)
    ("wgan", re.compile(r"wgan|wasserstein|critic|w_?dist|em_?dist")),
    ("hinge", re.compile(r"hinge")),
    ("lsgan", re.compile(r"lsgan|least_?sq")),
    ("relativistic", re.compile(r"relativ|ragan|rsgan|rgan|(^|[^a-z])ra($|[^a-z])")),
]


@dataclass
class _Name:
    raw: str
    player: str | None             # "d", "g" or None
    toks: set
    canonical: str | None
    prob_form: bool                # written D(x) / D(G(z)): a mean D output by notation


def _analyse(raw: str) -> _Name:
    canon = canonical_name(raw)
    toks = tokens(raw)
    s = set(toks)
    if toks and toks[0] == "l" and len(toks) > 1:          # BasicSR's l_g_gan, l_d_real: a loss
        s.add("loss")
    compact = "".join(toks)
    player = None
    if canon in ("d_loss", "d_real", "d_fake", "grad_norm_d", "lr_d") or s & D_WORDS:
        player = "d"
    if canon in ("g_loss", "grad_norm_g", "lr_g") or (s & G_WORDS and player is None):
        player = "g"
    if COMPACT.get(compact, "").startswith(("d_", "grad_norm_d", "lr_d")):
        player = "d"
    prob_form = "(" in raw and canon in ("d_real", "d_fake")
    if canon in ("d_real", "d_fake"):
        s.add("real" if canon == "d_real" else "fake")
    if canon in ("d_loss", "g_loss"):
        s.add("loss")
    return _Name(raw, player, s, canon, prob_form)


@dataclass
class Roles:
    """The outcome: a column per role, what each was taken from and why, and the loss family."""

    columns: dict = field(default_factory=dict)        # role -> (values, nonfinite mask | None)
    chosen: dict = field(default_factory=dict)         # role -> {"series", "as", "why"}
    family: dict = field(default_factory=dict)         # {"name", "why", "description"}
    others: dict = field(default_factory=dict)         # raw -> what it was taken to be

    @property
    def mapping(self) -> dict:
        """{raw series name: role} for the series that fill a role."""
        return {c["series"]: role for role, c in self.chosen.items() if "+" not in c["series"]}

    def describe(self) -> dict:
        """JSON-ready account of the mapping and the family (the report's ``roles``)."""
        return {"mapping": {r: dict(c) for r, c in self.chosen.items()},
                "family": dict(self.family), "other_series": dict(self.others)}


def _stats(v: np.ndarray) -> dict:
    fin = v[np.isfinite(v)]
    if not fin.size:
        return {"n": 0}
    return {"n": int(fin.size), "min": float(fin.min()), "max": float(fin.max()),
            "neg": float((fin < -1e-3).mean()), "above1": float((fin > 1 + 1e-6).mean()),
            "median": float(np.median(fin))}


def _first(cands: list, stats: dict) -> str | None:
    # training series before held-out ones (test/val, Lightning's *_epoch averages), then most
    # points, then order of appearance
    def rank(r):
        held = bool(set(tokens(r)) & _HELD_OUT)
        return (not held, stats[r]["n"], -cands.index(r))
    return max(cands, key=rank) if cands else None


def _terms_of(total: np.ndarray, a: np.ndarray, b: np.ndarray) -> str | None:
    """'sum' or 'mean' when ``total`` equals a + b or (a + b) / 2 on nearly every row."""
    ok = np.isfinite(total) & np.isfinite(a) & np.isfinite(b) & (np.abs(a + b) > 1e-6)
    if ok.sum() < 2:
        return None
    r = total[ok] / (a[ok] + b[ok])
    for name, target in (("sum", 1.0), ("mean", 0.5)):
        if (np.abs(r - target) < 0.02 * target + 1e-3).mean() > 0.9:
            return name
    return None


def assign(raw: dict[str, np.ndarray], bad: dict[str, np.ndarray],
           overrides: dict | None = None) -> Roles:
    """Decide the roles of the raw series (see the module docstring)."""
    overrides = dict(overrides or {})
    out = Roles()
    names = [k for k in raw if k not in ("step", "epoch", "batch")
             and canonical_name(k) not in ("step", "epoch")]
    info = {k: _analyse(k) for k in names}
    stats = {k: _stats(raw[k]) for k in names}
    live = [k for k in names if stats[k]["n"] or (k in bad and bad[k].any())]
    for role in [r for r in overrides if r != "family"]:
        if role not in ROLES + OTHER_ROLES + LOGIT_ROLES:
            raise UserError(f"--map: unknown role {role!r}; roles are "
                            f"{', '.join(ROLES + OTHER_ROLES + LOGIT_ROLES)} and family")
        if overrides[role] not in raw:
            raise UserError(f"--map {role}={overrides[role]}: no series named "
                            f"{overrides[role]!r} in the log (series: {', '.join(names[:20])})")

    def take(role: str, series: str, as_: str, why: str) -> None:
        out.columns[role] = (raw[series], bad.get(series))
        out.chosen[role] = {"series": series, "as": as_, "why": why}

    # --- D(x) / D(G(z)) candidates: real/fake series that are not G's and not auxiliary
    real_fake = {"real": [], "fake": []}
    for k in live:
        n = info[k]
        side = "real" if "real" in n.toks or n.canonical == "d_real" else \
            "fake" if "fake" in n.toks or n.canonical == "d_fake" else None
        if side is None or n.player == "g" or n.toks & ({"acc", "accuracy", "grad", "gradient",
                                                         "gp", "penalty", "r1", "cls", "aux"}):
            continue
        real_fake[side].append(k)
    # --- D losses: D's player, not a real/fake term, not auxiliary
    d_cands = [k for k in live if info[k].player == "d" and not info[k].toks & {"real", "fake", "x", "gz"}
               and not info[k].toks & (_AUX - {"w", "dist", "distance", "em", "mse"})
               and info[k].canonical not in ("d_real", "d_fake")
               and (info[k].toks & _LOSS or info[k].canonical == "d_loss"
                    or len(info[k].toks - D_WORDS) <= 1)]
    # --- G losses: adversarial part preferred to a total (adv + L1 + ...)
    g_all = [k for k in live if info[k].player == "g" and not info[k].toks & {"real", "x"}
             and info[k].canonical not in ("grad_norm_g", "lr_g")]
    plain_adv = G_WORDS | _ADV | _LOSS | {"l", "train", "training", "total"}
    g_adv = [k for k in g_all if info[k].toks & _ADV and not info[k].toks - plain_adv - {"a", "b"}]
    g_plain = [k for k in g_all if not info[k].toks & (_AUX | _ADV)
               and (info[k].toks & _LOSS or info[k].canonical == "g_loss"
                    or len(info[k].toks - G_WORDS - _TOTAL) <= 1)]
    if not g_adv:                                 # "adv_loss", "GAN_loss" with no player named
        g_adv = [k for k in live if info[k].player is None and info[k].toks & _ADV
                 and not info[k].toks - plain_adv]

    # kinds of the real/fake series
    kind: dict[str, str] = {}
    has_d_total = bool(d_cands)
    # D's loss terms already logged under loss names (l_d_real/l_d_fake): another real/fake pair
    # beside them is D's outputs, and values above 1 make those raw scores, not more loss terms
    named_terms = all(any(info[k].toks & _LOSS for k in real_fake[side]) for side in ("real", "fake"))
    for side in ("real", "fake"):
        for k in real_fake[side]:
            n, st = info[k], stats[k]
            if n.toks & _LOSS:
                kind[k] = "loss term"
            elif st.get("neg", 0) > 0.01:
                kind[k] = "logit"
            elif st.get("above1", 0) > 0:
                kind[k] = "logit" if named_terms else "loss term"
            elif n.prob_form or n.toks & _PROB:
                kind[k] = "probability"
            elif not has_d_total and g_adv:
                kind[k] = "loss term"
            else:
                kind[k] = "probability"
    # the two halves of a pair ("D real"/"D fake", "l_d_real"/"l_d_fake") are the same kind: one
    # above 1 shows both are loss terms, one below 0 that both are logits
    for k in real_fake["real"]:
        twin = re.sub("real", "fake", k, flags=re.IGNORECASE)
        twin = twin if twin in kind else re.sub("Real", "Fake", k)
        if twin in kind and kind[twin] != kind[k]:
            strong = "logit" if "logit" in (kind[k], kind[twin]) else "loss term"
            if "probability" in (kind[k], kind[twin]) and not (info[k].prob_form or
                                                                info[twin].prob_form):
                kind[k] = kind[twin] = strong
    # a D total equal to the sum/mean of a real and a fake series: they are its terms
    rt = [k for k in real_fake["real"] if kind[k] == "probability"]
    ft = [k for k in real_fake["fake"] if kind[k] == "probability"]
    d_total = _first(d_cands, stats)
    if d_total and rt and ft and not (info[rt[0]].prob_form or info[ft[0]].prob_form) \
            and np.nanstd(raw[rt[0]]) > 0 and _terms_of(raw[d_total], raw[rt[0]], raw[ft[0]]):
        # (only from series that move: constant values fit any arithmetic)
        kind[rt[0]] = kind[ft[0]] = "loss term"

    why_kind = {"probability": "a mean D output in [0, 1]",
                "loss term": "one of D's loss terms (values or name say loss, or D_real/D_fake "
                             "beside an adversarial G term and no D total)",
                "logit": "a raw D output (negative values: a logit or critic score, not a "
                         "probability)"}
    for k, kd in kind.items():
        out.others[k] = kd

    # --- choose
    d_adv = [k for k in d_cands if info[k].toks & _ADV]
    if "d_loss" in overrides:
        take("d_loss", overrides["d_loss"], "loss", "--map")
    elif d_adv:
        k = _first(d_adv, stats)
        why = f"the adversarial part of D's loss ({k!r})"
        rest = [x for x in d_cands if x not in d_adv]
        if rest:
            why += f", preferred to the total {_first(rest, stats)!r}"
        take("d_loss", k, "adversarial loss", why)
    elif d_total:
        take("d_loss", d_total, "loss", f"named as D's loss ({d_total!r})")
    else:
        rterm = [k for k in real_fake["real"] if kind[k] == "loss term"]
        fterm = [k for k in real_fake["fake"] if kind[k] == "loss term"]
        if rterm and fterm:
            a, b = _first(rterm, stats), _first(fterm, stats)
            v = raw[a] + raw[b]
            m = (bad.get(a, np.zeros(v.size, bool)) | bad.get(b, np.zeros(v.size, bool)))
            out.columns["d_loss"] = (v, m)
            out.chosen["d_loss"] = {"series": f"{a}+{b}", "as": "sum of D's loss terms",
                                    "why": f"no D total logged; {a!r} and {b!r} are D's loss "
                                           "terms on real and fake batches"}
    if "g_loss" in overrides:
        take("g_loss", overrides["g_loss"], "loss", "--map")
    elif g_adv:
        k = _first(g_adv, stats)
        why = f"the adversarial part of G's loss ({k!r})"
        if g_plain:
            why += f", preferred to the total {_first(g_plain, stats)!r}"
        take("g_loss", k, "adversarial loss", why)
    elif g_plain:
        k = _first(g_plain, stats)
        take("g_loss", k, "loss", f"named as G's loss ({k!r})")
    # D's raw outputs (logits) are kept too: their gap says how well D separates reals from
    # fakes whatever the loss's scale or weight
    for role, side in (("d_real_logit", "real"), ("d_fake_logit", "fake")):
        logits = [k for k in real_fake[side] if kind[k] == "logit"]
        if role in overrides:
            take(role, overrides[role], "logit", "--map")
        elif logits:
            k = _first(logits, stats)
            take(role, k, "logit", f"{k!r}: {why_kind['logit']}")
    # an adversarial G term logged beside G's auxiliary terms (pixel, perceptual, L1...) is often
    # printed already multiplied by its weight (ESRGAN: 5e-3): its size alone is no D(G(z))
    if out.chosen.get("g_loss", {}).get("as") == "adversarial loss":
        aux = [k for k in g_all if info[k].toks & _AUX and k != out.chosen["g_loss"]["series"]]
        if aux:
            out.chosen["g_loss"]["beside_terms"] = sorted(aux)
    for role, side in (("d_real", "real"), ("d_fake", "fake")):
        if role in overrides:
            take(role, overrides[role], "probability", "--map")
            continue
        probs = [k for k in real_fake[side] if kind[k] == "probability"]
        if probs:
            k = _first(probs, stats)
            take(role, k, "probability", f"{k!r}: {why_kind['probability']}")
    for role in OTHER_ROLES:
        if role in overrides:
            take(role, overrides[role], role, "--map")
            continue
        cands = [k for k in live if info[k].canonical == role]
        if cands:
            k = _first(cands, stats)
            take(role, k, role, f"named {k!r}")
    out.family = _family(names, info, stats, out, overrides.get("family"))
    return out


def _family(names, info, stats, out: Roles, forced: str | None) -> dict:
    if forced is not None:
        if forced not in FAMILIES:
            raise UserError(f"--map family={forced}: choose one of {', '.join(FAMILIES)}")
        return {"name": forced, "why": ["--map"], "description": FAMILY_TEXT[forced]}
    low = " ".join(n.lower() for n in names)
    for fam, rx in _FAMILY_WORDS:
        m = rx.search(low)
        if m:
            return {"name": fam, "why": [f"a series name says so ({m.group(0).strip('_ ')!r})"],
                    "description": FAMILY_TEXT[fam]}
    d = out.chosen.get("d_loss")
    g = out.chosen.get("g_loss")
    rel = _relativistic_by_logits(out)
    if rel is not None:
        return {"name": "relativistic", "why": [rel], "description": FAMILY_TEXT["relativistic"]}
    d_neg = stats[d["series"]]["neg"] if d and d["series"] in stats and stats[d["series"]]["n"] else 0.0
    g_neg = stats[g["series"]]["neg"] if g and g["series"] in stats and stats[g["series"]]["n"] else 0.0
    if d_neg > 0.05:
        return {"name": "wgan", "why": [f"the D loss is negative on {d_neg:.0%} of rows: a critic's "
                                        "loss (BCE, hinge and least-squares D losses are >= 0)"],
                "description": FAMILY_TEXT["wgan"]}
    if g_neg > 0.05 and d is not None:
        return {"name": "hinge", "why": [f"the G loss is negative on {g_neg:.0%} of rows while the "
                                         "D loss never is: G minimises -D(G(z)) (hinge / "
                                         "Wasserstein generator loss)"],
                "description": FAMILY_TEXT["hinge"]}
    if g_neg > 0.05:
        return {"name": "wgan", "why": [f"the G loss is negative on {g_neg:.0%} of rows: "
                                        "G minimises -D(G(z)), a critic's score"],
                "description": FAMILY_TEXT["wgan"]}
    return {"name": "bce", "why": ["no name says otherwise and no loss goes negative: the usual "
                                   "BCE / non-saturating losses assumed"],
            "description": FAMILY_TEXT["bce"]}


def _relativistic_by_logits(out: Roles) -> str | None:
    """Why the loss must be relativistic, when D's logged loss is far below what BCE on each of
    D's logged logits would cost (softplus(-real) + softplus(fake)): a loss that small beside
    those outputs can only be taken on their differences (RaGAN/RSGAN). None otherwise."""
    need = ("d_loss", "d_real_logit", "d_fake_logit")
    if not all(r in out.columns for r in need):
        return None
    d, r, f = (np.asarray(out.columns[k][0], float) for k in need)
    ok = np.isfinite(d) & np.isfinite(r) & np.isfinite(f)
    if ok.sum() < 2:
        return None
    bce = float(np.median(np.logaddexp(0, -r[ok]) + np.logaddexp(0, f[ok])))
    logged = float(np.median(np.abs(d[ok])))
    if bce / 2 > max(1.0, 10 * logged):        # /2: the logged loss may be the terms' mean
        return (f"D's loss (~{logged:.3g}) is far below what BCE on its logged outputs would cost "
                f"(~{bce:.3g}): the loss is taken on differences of D's outputs")
    return None


def parse_map(items: list[str] | None) -> dict:
    """``--map role=name`` (repeatable) -> {role: name}; a malformed item is a UserError."""
    out = {}
    for it in items or []:
        role, sep, name = it.partition("=")
        role, name = role.strip(), name.strip()
        if not sep or not role or not name:
            raise UserError(f"--map {it!r}: expected ROLE=SERIES, e.g. d_loss=Loss_D")
        if role not in ROLES + OTHER_ROLES + LOGIT_ROLES + ("family",):
            raise UserError(f"--map: unknown role {role!r}; roles are "
                            f"{', '.join(ROLES + OTHER_ROLES + LOGIT_ROLES)} and family")
        out[role] = name
    return out
