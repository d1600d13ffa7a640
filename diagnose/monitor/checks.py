"""Argument checks of :meth:`diagnose.Monitor.log`, kept apart from the hot path's module."""
from __future__ import annotations

import operator

from diagnose.core.errors import StepOrderError, UserError

#: Largest step magnitude accepted: an int64, what every reader and plot can hold.
MAX_STEP = 2 ** 63 - 1


def check_step(step, last: float, replay_until: float, path) -> int:
    """``step`` as an int; StepOrderError when it goes back (a resumed run's replay excepted)."""
    try:
        s = operator.index(step)          # ints, numpy/torch integer scalars; never a float
    except TypeError:
        if isinstance(step, float) and step.is_integer():
            s = int(step)
        else:
            raise UserError(f"step {step!r} is not an integer") from None
    if not -MAX_STEP <= s <= MAX_STEP:
        raise UserError(f"step {str(s)[:40]}{'...' if len(str(s)) > 40 else ''} is out of range "
                        f"(|step| <= {MAX_STEP})")
    if s <= last and s > replay_until:
        raise StepOrderError(f"step {s} is at or below step {int(last)} already logged to {path}: "
                             "steps must increase (log each step once, with all its values in "
                             "one call); not written")
    return s
