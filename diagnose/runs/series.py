"""The logged series of metrics.jsonl: one table of name, label, role and player.

The trainers write these names, the dynamics reader maps other people's names onto them, the
dashboard labels its curves with them and ``diagnose run`` summarises them: all from this table.
A row of metrics.jsonl may hold any other key too; these are the ones every part understands.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    """One logged series: ``name`` in metrics.jsonl, ``label`` on plots, ``role`` (loss,
    probability, grad_norm, lr) and ``player`` (D or G)."""

    name: str
    label: str
    role: str
    player: str


D_LOSS, G_LOSS, D_REAL, D_FAKE = "d_loss", "g_loss", "d_real", "d_fake"
GRAD_NORM_D, GRAD_NORM_G, LR_D, LR_G = "grad_norm_d", "grad_norm_g", "lr_d", "lr_g"

TABLE: tuple[Series, ...] = (
    Series(D_LOSS, "D loss", "loss", "D"),
    Series(G_LOSS, "G loss", "loss", "G"),
    Series(D_REAL, "D(x)", "probability", "D"),        # mean D(x) as a probability
    Series(D_FAKE, "D(G(z))", "probability", "D"),     # mean D(G(z)) as a probability
    Series(GRAD_NORM_D, "|grad D|", "grad_norm", "D"),
    Series(GRAD_NORM_G, "|grad G|", "grad_norm", "G"),
    Series(LR_D, "D learning rate", "lr", "D"),
    Series(LR_G, "G learning rate", "lr", "G"),
)

#: every series name, in the table's order
NAMES: tuple[str, ...] = tuple(s.name for s in TABLE)
#: the series a verdict on dynamics can rest on (losses and D's outputs)
SIGNAL: tuple[str, ...] = tuple(s.name for s in TABLE if s.role in ("loss", "probability"))
#: plot labels by name
LABELS: dict[str, str] = {s.name: s.label for s in TABLE}
#: keys of a row that count or time steps rather than measure training
COUNTERS: tuple[str, ...] = ("step", "epoch", "time")
#: series a curve plot leaves out (counters and learning rates)
NOT_PLOTTED: frozenset[str] = frozenset(COUNTERS) | {s.name for s in TABLE if s.role == "lr"}


def by_role(role: str) -> tuple[str, ...]:
    """Names of the series with this role, in the table's order."""
    return tuple(s.name for s in TABLE if s.role == role)
