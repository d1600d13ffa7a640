"""What an experiment is: its variants, its budgets, and the registry the tables fill.

The tables themselves are in trainers/experiments.py, which registers each documented report
through :func:`define_experiment`; nothing here imports them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from trainers.config import QuickBudget, TrainConfig
from diagnose.core.registry import Registry

EXPERIMENTS = Registry("experiment")


@dataclass(frozen=True)
class Variant:
    """One row of an experiment table."""

    name: str                 # variant name, the run directory's last part
    description: str          # one line: what this variant changes
    config: TrainConfig       # what it trains (full documented budget)
    choices: tuple[str, ...] = ()  # decisions taken where the report is silent


@dataclass(frozen=True)
class Experiment:
    """A named experiment: source report, dataset note, quick budget and its variants."""

    name: str                         # `diagnose run --exp NAME`
    source: str                       # "000".."004" or "benchmark"
    description: str                  # one line
    dataset_note: str                 # embedded stand-in or real, said to the user
    variants: dict[str, Variant]      # name -> variant, in table order
    quick: QuickBudget                # the --quick budget (2-core CPU)
    choices: tuple[str, ...] = ()     # experiment-wide choices where the report is silent
    quick_overrides: dict = field(default_factory=dict)  # variant name -> QuickBudget

    def variant(self, name: str) -> Variant:
        """The variant ``name``; UserError listing valid names if unknown."""
        from diagnose.core.errors import UserError

        if name not in self.variants:
            raise UserError(f"unknown variant {name!r} of {self.name}; valid: {', '.join(self.variants)}")
        return self.variants[name]

    def quick_budget(self, variant: str) -> QuickBudget:
        """The quick budget of one variant."""
        return self.quick_overrides.get(variant, self.quick)


def define_experiment(name: str, source: str, description: str, dataset_note: str, base: TrainConfig,
         table: list[tuple[str, str, dict]], quick: QuickBudget, choices: tuple[str, ...] = (),
         variant_choices: dict | None = None, quick_overrides: dict | None = None) -> Experiment:
    """Build an experiment from a base config and a table of (variant, description, changes)
    rows, register it in :data:`EXPERIMENTS` and return it."""
    variants = {}
    for vname, vdesc, changes in table:
        vc = tuple(choices) + tuple((variant_choices or {}).get(vname, ()))
        variants[vname] = Variant(vname, vdesc, base.replace(**changes), vc)
    exp = Experiment(name, source, description, dataset_note, variants, quick, tuple(choices),
                     dict(quick_overrides or {}))
    EXPERIMENTS.register(name, exp, description=description, source=source)
    return exp


def get_experiment(name: str) -> Experiment:
    """The experiment ``name``; UserError listing valid names if unknown."""
    return EXPERIMENTS.get(name)
