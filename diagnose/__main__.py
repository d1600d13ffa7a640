"""``python -m diagnose`` = the ``diagnose`` command."""
from diagnose.cli import _entry

_entry()
