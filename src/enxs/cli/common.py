"""Options and helpers shared by the CLI commands (no heavy imports here).

Every message goes out as plain text (rich markup off), so that brackets in units, paths
and configuration keys ("θ [deg]", "[train]") reach the user as written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# Piped output (logs, grep) gets wide tables instead of rich's 80-column fallback.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="QES archive directory (default: $ENXS_DATA_DIR, else the per-user data dir).",
                 show_default=False),
]


Threads = Annotated[
    int | None,
    typer.Option("--threads", min=1, show_default=False,
                 help="CPU threads for torch (default: one per usable core). Waiting threads sleep instead of "
                      "spinning, so two enxs jobs on one machine share it; --threads 1 leaves the other cores free."),
]


def use_threads(threads: int | None) -> None:
    """Set torch's CPU threads: ``threads``, else one per core this process may use."""
    import torch

    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))


class CLIError(Exception):
    """An error to print as one line and exit non-zero."""


def make_app(help_text: str) -> typer.Typer:
    """A command group whose help is plain text (no rich markup)."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def say(text: str) -> None:
    """A line for the user on stdout, printed as written."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    """A warning line on stderr, printed as written after a yellow 'warning:'."""
    err_console.print("[yellow]warning:[/yellow] ", end="", highlight=False)
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


def error(text: str) -> None:
    """An error line on stderr, printed as written after a red 'error:'."""
    err_console.print("[red]error:[/red] ", end="", highlight=False)
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the output file if it exists.")]


def check_output_file(path: Path, option: str = "--output", overwrite: bool = False,
                      replace_own: bool = False) -> None:
    """Refuse, before any work, an output file whose directory is missing, that is a
    directory, or that exists (unless ``overwrite``, or ``replace_own`` and it is a table
    enxs wrote: ``pointfiles.written_by_enxs``)."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CLIError(f"{option} {path}: directory {parent} does not exist")
    if path.is_dir():
        raise CLIError(f"{option} {path}: is a directory; give a file name")
    if path.exists() and not overwrite:
        from enxs.pointfiles import written_by_enxs

        if not (replace_own and written_by_enxs(path)):
            raise CLIError(f"{option} {path}: exists and enxs did not write it; give --overwrite to replace it")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"{option} {path}: directory {parent} is not writable")


def fmt_range(lo: float, hi: float, digits: int = 3) -> str:
    return f"{lo:.{digits}g}–{hi:.{digits}g}"
