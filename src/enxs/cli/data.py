"""``enxs data``: look at and validate the measured cross sections."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from enxs.cli.common import CLIError, DataDir, console, fmt_range, make_app, warn

app = make_app("Inspect and validate the QES archive files.")


def _nucleus_files(data_dir: Path | None) -> dict[str, Path]:
    """The directory's nucleus files (``archive.nucleus_files``); a CLIError when it has none."""
    from enxs import archive

    found = archive.nucleus_files(data_dir)
    if not found:
        raise CLIError(f"{archive.resolve_data_dir(data_dir)}: no nucleus file (<A><Symbol>.dat, e.g. 12C.dat) "
                       f"in this directory")
    return found


@app.command()
def summary(data_dir: DataDir = None) -> None:
    """One row per nucleus file: raw and selected points, datasets, kinematic ranges."""
    from enxs import archive
    from enxs.selection import Selection

    selection = Selection()
    table = Table(title=escape(f"QES archive in {archive.resolve_data_dir(data_dir)}"))
    for col in ("nucleus", "Z", "A", "raw", "selected", "datasets", "E [GeV]", "θ [deg]",
                "ω [GeV]", "Q² [GeV²]"):
        table.add_column(escape(col), justify="left" if col == "nucleus" else "right")
    notes = []
    for name, path in _nucleus_files(data_dir).items():
        try:
            data, report = archive.read_file(path)
        except archive.ArchiveError as exc:
            warn(f"{path.name} left out: {exc}")
            continue
        selected = selection.mask(data).sum()
        table.add_row(name, str(data.Z[0]), str(data.A[0]), str(report.raw_points), str(selected),
                      str(data.dataset.nunique()), fmt_range(data.E.min(), data.E.max()),
                      fmt_range(data.theta.min(), data.theta.max()),
                      fmt_range(data.omega.min(), data.omega.max()),
                      fmt_range(data.Q2.min(), data.Q2.max()))
        notes += [f"{path.name}: {n}" for n in report.notes()]
    console.print(table)
    console.print(f"selection: ω ≥ {selection.omega_min} GeV, 0 < ω < E, 0° < θ < 180°, Δσ > 0, "
                  f"excluding {', '.join(selection.exclude_datasets)}")
    for note in notes:
        console.print(f"  {note}", style="dim", markup=False)


@app.command()
def show(
    nucleus: Annotated[str, typer.Argument(help="Nucleus, e.g. 12C, or a file in the archive format.")],
    data_dir: DataDir = None,
) -> None:
    """One row per dataset: points, (E, θ) settings, normalization uncertainty, reference."""
    from enxs import archive
    from enxs.datasets import dataset_info
    from enxs.selection import Selection

    path = Path(nucleus) if Path(nucleus).is_file() else archive.find_nucleus_file(nucleus, data_dir)
    data, report = archive.read_file(path)
    kept = Selection().mask(data)
    try:
        refs = archive.read_citations(data_dir)
    except archive.ArchiveError:
        refs = {}
    table = Table(title=escape(f"{data.nucleus[0]} ({path})"), show_lines=True)
    for col in ("dataset", "points raw/sel", "(E [GeV], θ [deg]) settings", "Δλ", "Δλ source",
                "reference"):
        table.add_column(escape(col), overflow="fold")
    for label, group in data.groupby("dataset", sort=False):
        info = dataset_info(label)
        settings = group.groupby(["E", "theta"]).size().index
        text = ", ".join(f"({e:g}, {t:g})" for e, t in settings)
        table.add_row(label, f"{len(group)}/{int(kept[group.index].sum())}",
                      f"{len(settings)}: {text}", f"{info.norm_unc:.1%}", info.norm_source,
                      refs.get(label, "—"))
    console.print(table)
    for note in report.notes():
        console.print(f"  {path.name}: {note}", style="dim", markup=False)


@app.command()
def check(
    files: Annotated[list[Path] | None, typer.Argument(
        help="Files, or directories of nucleus files, to check (default: every nucleus file).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Validate archive files: one line FILE:LINE: what is wrong, per bad line; exit 1 if any."""
    from enxs import archive

    paths = []
    for path in files or [archive.resolve_data_dir(data_dir)]:
        if path.is_dir():
            paths += _nucleus_files(path).values()
        elif path.is_file():
            paths.append(path)
        else:
            raise CLIError(f"{path}: no such file or directory")
    bad, points = 0, 0
    for path in paths:
        _, report = archive.parse_file(path)
        for error in report.errors:
            print(error)
        bad += len(report.errors)
        points += report.raw_points
    if bad:
        print(f"{bad} bad line(s) in {len(paths)} file(s)")
        raise typer.Exit(1)
    print(f"OK: {len(paths)} file(s), {points} data lines, no malformed line")
