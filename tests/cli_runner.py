"""The enxs command in tests. ``enxs`` runs it in this process, as the console script does (``enxs.cli.main.invoke``)
but without an interpreter and torch to start for every call (about 2.5 s each); ``enxs_process`` runs it in a child
process where the process itself is under test (signals, the interpreter's flags, the entry point)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
import warnings

import torch

from enxs.cli.common import SIGNALS
from enxs.cli.main import invoke


def _fresh_interpreter_warnings() -> None:
    """The warning filters a new Python process starts with (not the test run's, which make warnings errors)."""
    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)


def enxs(*args, cwd=None) -> subprocess.CompletedProcess:
    """``enxs ARGS`` (in ``cwd``): its exit status, stdout and stderr as a child process would give them; an exception
    no handler turned into one line is a traceback on stderr and status 1, as in a child process. The process's
    state a command sets (torch's threads, the working directory, warning filters) is put back."""
    argv = [str(a) for a in args]
    stdout, stderr = io.StringIO(), io.StringIO()
    threads, here = torch.get_num_threads(), os.getcwd()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), warnings.catch_warnings():
        _fresh_interpreter_warnings()
        try:
            os.chdir(cwd or here)
            code = invoke(argv)
        except Exception:  # what Python prints for an uncaught exception
            traceback.print_exc()
            code = 1
        finally:
            os.chdir(here)
            torch.set_num_threads(threads)
            SIGNALS["SIGTERM"] = False
    return subprocess.CompletedProcess(["enxs", *argv], code, stdout.getvalue(), stderr.getvalue())


def enxs_process(*args, cwd=None) -> subprocess.CompletedProcess:
    """``python -m enxs ARGS`` (in ``cwd``) in a child process."""
    return subprocess.run([sys.executable, "-m", "enxs", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> list[str]:
    """The command failed without a traceback, its stderr holding every fragment; returns stderr's lines."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(f in result.stderr for f in fragments), result.stderr
    return lines
