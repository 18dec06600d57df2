"""The ``enxs`` command: parse, call the library, print. Heavy imports live inside commands."""

from __future__ import annotations

import os
import signal
import sys
import warnings
from typing import Annotated

import typer

from enxs import __version__, cpu
from enxs.cli import data, generators, neutrino, plot, train, use
from enxs.cli.common import SIGNALS, error, interrupted_status, terminate, warn
from enxs.errors import EnxsError

app = typer.Typer(
    name="enxs",
    help="Electron–nucleus inclusive cross sections from deep-neural-network ensembles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help is plain text: "[deg]" stays "[deg]"
)
app.add_typer(data.app, name="data")
app.command()(train.pretrain)
app.command()(train.finetune)
app.command()(train.evaluate)
app.command()(train.reproduce)
app.command()(use.predict)
app.command()(use.responses)
app.command()(plot.plot)
app.command()(neutrino.neutrino)
app.command()(generators.tabulate)
app.add_typer(generators.export_app, name="export")
app.add_typer(generators.import_app, name="import")
app.add_typer(train.models_app, name="models")


def _version(value: bool) -> None:
    if value:
        print(f"enxs {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """enxs: train, fine-tune, evaluate and use cross-section ensembles."""


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning no command gathered (``warnings_on_screen``) as one warning line, not Python's
    file:line and source line."""
    warn(str(message))


def run() -> None:
    """Console-script entry point: one-line errors, non-zero exit (``invoke``).

    Before torch loads, how its OpenMP threads wait is chosen from the machine's load (``enxs.cpu``):
    spinning on an idle machine, sleeping on a busy one, where spinning threads of two jobs slow each
    other down several-fold (benchmarks/shared_machine.py). Help, the version and shell completion
    run nothing, and skip the 0.1 s look.
    """
    args = sys.argv[1:]
    if args and not {"--help", "--version"} & set(args) and "_ENXS_COMPLETE" not in os.environ:  # else nothing runs
        cpu.choose_wait_policy()
    signal.signal(signal.SIGTERM, terminate)
    sys.exit(invoke(args))


def invoke(args: list[str]) -> int:
    """The command line ``args`` (``["predict", "enxs-12C-fast", ...]``) run as the ``enxs`` command runs it:
    its output on stdout, every error a user can fix as one line on stderr, warnings as warning lines;
    returns the exit status."""
    shown = warnings.showwarning
    warnings.showwarning = _warning_line
    try:
        return _exit_status(args)
    finally:
        warnings.showwarning = shown


def _exit_status(args: list[str]) -> int:
    """``invoke``'s command run, every way it can end turned into an exit status."""
    try:
        code = app(args, prog_name="enxs", standalone_mode=False)  # click returns typer.Exit's code in this mode
        if code == 130:  # typer turns Ctrl-C (and SIGTERM, through `terminate`) into a silent exit code 130
            raise KeyboardInterrupt
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        error("interrupted" + (" (SIGTERM)" if SIGNALS["SIGTERM"] else "") + ": enxs writes each output whole or "
              "not at all, so nothing half-written is left")
        return interrupted_status()
    except typer.TyperException as exc:  # usage errors (typer ≥ 0.29 carries its own click)
        show = getattr(exc, "show", None)
        if show is None:
            error(exc.format_message())
        else:
            show()
        return exc.exit_code
    except EnxsError as exc:
        error(str(exc))
        return exc.exit_code
    except MemoryError as exc:  # a grid or a point set larger than this machine holds
        error(f"not enough memory for what was asked ({exc or 'MemoryError'}): ask for fewer points or a smaller grid")
        return 2
    except OSError as exc:  # a file the user named: unreadable, unwritable, disk full
        error(f"{exc.filename + ': ' if getattr(exc, 'filename', None) else ''}{exc.strerror or exc}")
        return 2
