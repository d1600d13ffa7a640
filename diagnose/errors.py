"""The one error class for problems a user can fix.

The CLI catches it once, prints its message as one line on stderr and exits with code 2.
Anything else that escapes is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input (a path, a flag, a file's content), not with our code."""
