"""The ``diagnose`` command line: parse, dispatch to diagnose/commands/<verb>.py, render.

User errors (UserError, bad flags, unreadable files) print ONE line on stderr and exit 2.
Anything else is a bug and keeps its traceback. Results go to stdout; progress and notes to stderr.
"""
from __future__ import annotations

import argparse
import json
import sys

from diagnose.core.errors import UserError, os_error_line


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one line (plus a hint) and exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, one subcommand per module in diagnose.commands; ``only``: the parser with
    just that verb (what ``main`` builds when the command line names a verb)."""
    from diagnose.core.version import VERSION as __version__
    from diagnose.commands import verb_modules

    p = _Parser(prog="diagnose", description="Train, measure and diagnose GANs: verdicts on mode "
                "collapse, discriminator imbalance and broken metrics, with evidence and advice.")
    p.add_argument("--version", action="version", version=f"gan-diagnose {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for mod in verb_modules(only):
        mod.add_parser(sub)
    return p


def render(result, as_json: bool) -> None:
    """Print a command's Result: JSON with --json, else its text."""
    from diagnose.core.atomic import sanitize_json

    if as_json:
        sys.stdout.write(json.dumps(sanitize_json(result.data), indent=2) + "\n")
    elif result.text:
        sys.stdout.write(result.text.rstrip("\n") + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diagnose`` script; returns the exit code."""
    try:
        parser = build_parser(_named_verb(sys.argv[1:] if argv is None else argv))
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)   # what --nproc relaunches
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        result = args.func(args)
        render(result, getattr(args, "json", False))
        return int(getattr(result, "exit_code", 0))
    except UserError as e:
        print(f"error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:
        # The file system refused (full disk, no permission, read-only, a file where a folder
        # should be): the user's to fix, so one line naming the path, not a traceback.
        msg = os_error_line(e)
        if msg is None:
            raise
        print(f"error: {msg}", file=sys.stderr)
        return 2


def _named_verb(argv: list[str]) -> str | None:
    """The verb the command line names, when it names one: then only that verb's module is
    imported (a light verb never pays for the others' imports); None builds the full parser
    (``diagnose --help``, no verb, or an unknown word, which the full parser reports)."""
    from diagnose.commands import verb_names

    for word in argv:
        if word.startswith("-"):
            if word in ("-h", "--help", "--version"):
                return None
            continue
        return word if word in verb_names() else None
    return None


def _one_line(text: str) -> str:
    """A message as one line (embedded newlines would break the one-line contract)."""
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
