"""The ``diagnose`` command line: parse, dispatch to diagnose/commands/<verb>.py, render.

User errors (UserError, bad flags, unreadable files) print ONE line on stderr and exit 2.
Anything else is a bug and keeps its traceback. Results go to stdout; progress and notes to stderr.
"""
from __future__ import annotations

import argparse
import json
import sys

from diagnose.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one line (plus a hint) and exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, one subcommand per module in diagnose.commands."""
    from diagnose import __version__
    from diagnose.commands import verb_modules

    p = _Parser(prog="diagnose", description="Train, measure and diagnose GANs: verdicts on mode "
                "collapse, discriminator imbalance and broken metrics, with evidence and advice.")
    p.add_argument("--version", action="version", version=f"gan-diagnose {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for mod in verb_modules():
        mod.add_parser(sub)
    return p


def add_json_flag(p: argparse.ArgumentParser) -> None:
    """The shared --json flag."""
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def render(result, as_json: bool) -> None:
    """Print a command's Result: JSON with --json, else its text."""
    from diagnose.atomic import sanitize_json

    if as_json:
        sys.stdout.write(json.dumps(sanitize_json(result.data), indent=2) + "\n")
    elif result.text:
        sys.stdout.write(result.text.rstrip("\n") + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diagnose`` script; returns the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        result = args.func(args)
        render(result, getattr(args, "json", False))
        return int(getattr(result, "exit_code", 0))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
