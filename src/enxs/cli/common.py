"""Options and helpers shared by the CLI commands (no heavy imports here)."""

from __future__ import annotations

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


class CLIError(Exception):
    """An error to print as one line and exit non-zero."""


def fmt_range(lo: float, hi: float, digits: int = 3) -> str:
    return f"{lo:.{digits}g}–{hi:.{digits}g}"
