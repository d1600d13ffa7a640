"""The one error class for problems a user can fix.

The CLI catches it once, prints its message as one line on stderr and exits with code 2.
Anything else that escapes is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input (a path, a flag, a file's content), not with our code."""


class DiskFullError(UserError, OSError):
    """The disk (or quota) filled up while writing ``path``: a UserError that is also an OSError.

    Being an OSError keeps ``except OSError`` handlers working; being a UserError makes the CLI
    print its one line ("no space left on device while writing PATH") and exit 2.
    """

    def __init__(self, path, errno_: int = 28):
        message = f"no space left on device while writing {path}"
        OSError.__init__(self, errno_, message, str(path))

    def __str__(self) -> str:
        return self.strerror


class StepOrderError(UserError, ValueError):
    """A logged step at or below one already written: steps of a run must increase.

    A UserError (the CLI prints its one line) and a ValueError (what a Python caller expects for
    a bad argument).
    """


def is_disk_full(e: BaseException) -> bool:
    """True when ``e`` is an OSError saying the disk or the user's quota is full."""
    import errno

    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", 122))


def os_error_line(e: OSError) -> str | None:
    """One line for an OSError that the environment caused, or None for anything else (a bug)."""
    import errno

    where = f" {e.filename}" if e.filename else ""
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return f"no space left on device while writing{where or ' a file'}"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR,
                   errno.ENAMETOOLONG):
        return f"{e.strerror or 'cannot access'}:{where or ' (no path given)'}"
    return None
