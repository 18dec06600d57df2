"""The one error base of enxs: bad input from a user or a file.

Every error enxs raises for something a user can fix (a nucleus name, a data file, a model
directory, an output path, kinematics) is an :class:`EnxsError`; the command line prints it
as one line and exits non-zero. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class EnxsError(ValueError):
    """Bad input: printed by the command line as one line, exit status ``exit_code``."""

    exit_code = 2


class Interrupted(EnxsError):
    """A long job stopped by Ctrl-C (exit status 130) or SIGTERM (143), saying how to resume."""

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code
