"""What the names in people's logs mean: "Loss/D", "errG", "D(G(z))", "lossD" -> canonical series.

The word lists and the matching behind :func:`canonical_name`, shared by the table (which maps
every column), the role assignment (which settles the ambiguous ones) and the ingesters.
"""
from __future__ import annotations

import functools
import re

# Columns that index rows rather than measure training (not shown as series).
NOT_SERIES = {"step", "epoch", "batch", "time", "wall_time", "timestamp", "iteration"}
# Words that name a player; matched as whole tokens after splitting a key.
D_WORDS = {"d", "dis", "disc", "discrim", "discr", "discriminator", "critic", "netd"}
G_WORDS = {"g", "gen", "generator", "netg"}
STEP_WORDS = {"step", "steps", "global_step", "globalstep", "iteration", "iterations", "iter",
               "iters", "it", "itr", "batch", "batches", "batch_idx", "i", "n_iter", "niter"}
EPOCH_WORDS = {"epoch", "epochs", "ep", "epoch_idx"}
# Compact spellings that a token split cannot separate.
COMPACT = {
    "lossd": "d_loss", "dloss": "d_loss", "errd": "d_loss", "lossdis": "d_loss", "disloss": "d_loss",
    "discloss": "d_loss", "lossdisc": "d_loss", "criticloss": "d_loss", "losscritic": "d_loss",
    "lossg": "g_loss", "gloss": "g_loss", "errg": "g_loss", "lossgen": "g_loss", "genloss": "g_loss",
    "dx": "d_real", "dreal": "d_real", "realscore": "d_real", "scorereal": "d_real",
    "dgz": "d_fake", "dfake": "d_fake", "fakescore": "d_fake", "scorefake": "d_fake",
    "dgz1": "d_fake", "dgz2": "d_fake", "dr": "d_real", "df": "d_fake",
    "gradnormd": "grad_norm_d", "dgradnorm": "grad_norm_d", "gradd": "grad_norm_d",
    "gradnormg": "grad_norm_g", "ggradnorm": "grad_norm_g", "gradg": "grad_norm_g",
    "lrd": "lr_d", "dlr": "lr_d", "lrg": "lr_g", "glr": "lr_g",
}


# extra (unmapped) series worth showing: they look like training measurements
MEASURE = re.compile(r"loss|err|score|acc|grad|norm|lr|fid|kid|penalty|gp|wasserstein|real|fake"
                      r"|gan|adv|^[dg]_|^[dg]$|^l_", re.IGNORECASE)
FAKE = re.compile(r"d\(g\(z\d?\)\)|d\(fake\)|d\(g\(x\)\)")
REAL = re.compile(r"(^|[^a-z])d\((x|real)\)")


def tokens(key: str) -> list[str]:
    # "Loss/D", "train.loss_D", "DiscriminatorLoss" -> ["loss", "d"] / ["discriminator", "loss"]
    key = re.sub(r"([a-z])([A-Z])", r"\1 \2", key)
    return [t for t in re.split(r"[^a-z0-9]+", key.lower()) if t]


@functools.lru_cache(maxsize=4096)
def canonical_name(key: str) -> str | None:
    """Map a logged name to a canonical column, or None when it is not one we know.

    D(x)/D(G(z)) are matched before tokenising, because their parentheses carry the meaning.
    """
    raw = key.strip().lower().replace(" ", "")
    if FAKE.search(raw):
        return "d_fake"
    if REAL.search(raw):
        return "d_real"
    toks = tokens(key)
    if not toks:
        return None
    compact = "".join(toks)
    if compact in COMPACT:
        return COMPACT[compact]
    s = set(toks)
    if len(toks) == 1 and toks[0] in EPOCH_WORDS:
        return "epoch"
    if len(toks) == 1 and toks[0] in D_WORDS | G_WORDS:
        # a scalar named only after a player ("D: 0.6 G: 1.1", tqdm's "d=..., g=...") is its loss
        return "d_loss" if toks[0] in D_WORDS else "g_loss"
    if len(toks) <= 2 and s & STEP_WORDS and not s & (D_WORDS | G_WORDS | {"loss"}):
        return "step"
    player = "d" if s & D_WORDS else "g" if s & G_WORDS else None
    if player == "d" and s & G_WORDS:
        return None                                   # "d_g_ratio" and the like: ambiguous
    if player is None:
        return None
    if s & {"real", "fake"} and s & {"loss", "err", "error"}:
        return None                                   # one BCE term (kept as an extra column)
    if s & {"loss", "err", "error", "cost"}:
        return f"{player}_loss"
    if s & {"grad", "gradnorm", "grads", "gradient", "norm"}:
        return f"grad_norm_{player}"
    if s & {"lr", "learning", "learningrate"}:
        return f"lr_{player}"
    if player == "d" and s & {"real", "x"}:
        return "d_real"
    if player == "d" and s & {"fake", "gz"}:
        return "d_fake"
    return None
