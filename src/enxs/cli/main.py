"""The ``enxs`` command: parse, call the library, print. Heavy imports live inside commands."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from enxs import __version__
from enxs.cli import data, train, use
from enxs.cli.common import CLIError, err_console, error

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
app.command()(use.plot)
app.command()(use.tabulate)
app.add_typer(use.export_app, name="export")
app.add_typer(use.import_app, name="import")
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


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Error types that mean bad input: printed as one line, no traceback."""
    from enxs.archive import ArchiveError
    from enxs.kinematics import KinematicsError
    from enxs.nuclei import UnknownNucleusError

    errors: list[type[BaseException]] = [CLIError, ArchiveError, KinematicsError, UnknownNucleusError]
    for module, name in (("enxs.artifacts", "ModelFileError"), ("enxs.config", "ConfigError"),
                         ("enxs.runs", "RunError"), ("enxs.onnx_io", "OnnxFormatError"),
                         ("enxs.hepdata", "HepDataError"), ("enxs.pointfiles", "PointFileError"),
                         ("enxs.predict", "NucleusChoiceError")):
        if module in sys.modules:
            errors.append(getattr(sys.modules[module], name))
    return tuple(errors)


def run() -> None:
    """Console-script entry point: one-line errors, non-zero exit.

    OpenMP threads that wait sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``, set
    before torch loads unless the user set it): with spinning threads two jobs on one
    machine slow each other down several-fold (benchmarks/shared_machine.py).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code in this mode
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors (typer ≥ 0.29 carries its own click)
        show = getattr(exc, "show", None)
        if show is None:
            error(exc.format_message())
        else:
            show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        if isinstance(exc, _expected_errors()):
            error(str(exc))
            sys.exit(2)
        raise
