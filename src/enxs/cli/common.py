"""Options and helpers shared by the CLI commands (no heavy imports here).

Every message goes out as plain text (rich markup off), so that brackets in units, paths
and configuration keys ("θ [deg]", "[train]") reach the user as written.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from enxs.errors import EnxsError

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
                 help="CPU threads for torch (default: $OMP_NUM_THREADS where set, else one per usable core, "
                      "no more than a CPU quota allows). Waiting threads spin where the machine was idle at the "
                      "start, else sleep, so that two enxs jobs share it; --threads 1 leaves the other cores free."),
]


def job_context(data_dir: Path | None = None, threads: int | None = None, device: str = "cpu"):
    """The command's ``enxs.context.Context`` from its options, torch's CPU threads set from it."""
    from enxs.context import Context

    context = Context(data_dir, device, threads)
    context.use_threads()
    return context


class CLIError(EnxsError):
    """An error to print as one line and exit non-zero."""


SIGNALS = {"SIGTERM": False}


def refuse_unused(given: dict[str, bool], where: str) -> None:
    """One line naming every option given (``given``: option → given or not) that the command would ignore
    ``where`` (e.g. "without --flux"): an option that changes nothing is refused, not silently dropped."""
    unused = [option for option, present in given.items() if present]
    if unused:
        raise CLIError(f"{', '.join(unused)}: not used {where}")


def terminate(signum, frame) -> None:
    """SIGTERM handled like Ctrl-C (a training run says how to resume), remembered for exit status 143."""
    SIGNALS["SIGTERM"] = True
    raise KeyboardInterrupt


def interrupted_status() -> int:
    """The exit status of a job stopped by Ctrl-C (130) or SIGTERM (143, through :func:`terminate`)."""
    return 143 if SIGNALS["SIGTERM"] else 130


def make_app(help_text: str) -> typer.Typer:
    """A command group whose help is plain text (no rich markup)."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def say(text: str) -> None:
    """A line for the user on stdout, printed as written."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


#: A table on screen shows at most this many rows: the first and the last half of them, the rest left to --output.
SCREEN_ROWS = 500


def print_rows(table, frame, cells) -> None:
    """Print ``table`` (a rich Table with its columns) with a row of ``cells(row)`` for each row of ``frame`` (a
    pandas DataFrame, rows as named tuples); beyond ``SCREEN_ROWS`` rows only the first and the last half of them,
    a ⋮ row between, and a line saying how many are not shown and how to write them all."""
    half = SCREEN_ROWS // 2
    cut = len(frame) > SCREEN_ROWS
    for i, part in enumerate((frame.iloc[:half], frame.iloc[-half:]) if cut else (frame,)):
        if i:
            table.add_row(*["⋮"] * len(table.columns))
        for row in part.itertuples(index=False):
            table.add_row(*cells(row))
    console.print(table)
    if cut:
        say(f"{len(frame) - 2 * half} of {len(frame)} rows not shown: --output FILE writes every row")


def warn(text: str) -> None:
    """A warning line on stderr, printed as written after a yellow 'warning:'."""
    err_console.print("[yellow]warning:[/yellow] ", end="", highlight=False)
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


def error(text: str) -> None:
    """An error line on stderr, printed as written after a red 'error:'."""
    err_console.print("[red]error:[/red] ", end="", highlight=False)
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the output file if it exists "
                                                              "(without it, an existing file is kept).")]
MembersOut = Annotated[Path | None, typer.Option(
    "--members", help="Also write each member's prediction, one column per member (.csv, .parquet or .json): "
                      "the covariance between points is that of their rows.")]


@contextmanager
def warnings_on_screen(prefix: str = ""):
    """Show the library's warnings (coverage, zero-shot, changed data) as warning lines, each once
    per call, instead of Python's file:line format."""
    import warnings

    from enxs.artifacts import DataChangedWarning
    from enxs.predict import ExtrapolationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ExtrapolationWarning)
        warnings.simplefilter("always", DataChangedWarning)
        yield
    for message in dict.fromkeys(str(w.message) for w in caught):
        warn(f"{prefix}{message}")


class LogProgress:
    """Progress as plain lines on stderr where no bar can be drawn (output to a file: a batch job's log): one line at
    each tenth of the work once ``QUIET_SECONDS`` have passed (a short job prints none), with the time it took and an
    estimate of what is left (from the rate since the first call, so a resumed run estimates from its own pace)."""

    QUIET_SECONDS = 5.0

    def __init__(self, label: str, unit: str, total: int | None = None):
        self.label, self.unit, self.total = label, unit, total
        self.first: tuple[float, int] | None = None
        self.shown = 0

    def __call__(self, done: int, total: int | None = None, detail: str = "") -> None:
        total = total or self.total
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
            self.shown = 10 * done // total if total else 0
        start, begun = self.first
        if not total or 10 * done // total <= self.shown or now - start < self.QUIET_SECONDS:
            return
        self.shown = 10 * done // total
        left = (now - start) * (total - done) / max(done - begun, 1)
        err_console.print(f"{self.label}: {self.unit} {done}/{total}{detail}, {_clock(now - start)} elapsed, about "
                          f"{_clock(left)} left", markup=False, highlight=False, soft_wrap=True)


def _clock(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"


@contextmanager
def progress_bar(label: str, unit: str, total: int | None = None, transient: bool = False):
    """A bar for a long library call: yields ``update(done, total)``, the callback such calls take (``total``: known
    before the first call, if it is); lines (``LogProgress``) where the output is no terminal."""
    if not console.is_interactive:
        yield LogProgress(label, unit, total)
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn(escape(label)), BarColumn(), TextColumn(f"{unit} {{task.completed}}/{{task.total}}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=transient) as progress:
        task = progress.add_task("", total=total)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def fmt_range(lo: float, hi: float, digits: int = 3) -> str:
    return f"{lo:.{digits}g}–{hi:.{digits}g}"
