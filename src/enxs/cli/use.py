"""``enxs predict``, ``responses`` and ``plot``: using trained models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from enxs.cli.common import (
    CLIError,
    MembersOut,
    Overwrite,
    Threads,
    job_context,
    print_rows,
    say,
    warn,
    warnings_on_screen,
)
from enxs.files import check_output_file

ModelArg = Annotated[str, typer.Argument(help="Model directory or shipped model name.")]
Energy = Annotated[float | None, typer.Option("--energy", help="Beam energy E [GeV].")]
Angle = Annotated[float | None, typer.Option("--angle", "--theta", help="Scattering angle θ [deg].")]
Omega = Annotated[str | None, typer.Option("--omega", help="ω [GeV]: start:stop:count or a comma list.")]

def parse_values(text: str, what: str = "--omega", positive: bool = False) -> list[float]:
    """'0.01:0.6:200' → 200 evenly spaced values; '0.1,0.2' → a list; at least one value, each finite and > 0 if
    ``positive``."""
    import numpy as np

    try:
        if ":" in text:
            start, stop, count = text.split(":")
            if int(count) < 1:
                raise ValueError
            values = np.linspace(float(start), float(stop), int(count)).tolist()
        else:
            values = [float(v) for v in text.split(",") if v.strip()]
        if not values:
            raise ValueError
    except ValueError:
        raise CLIError(f"{what} {text!r}: write start:stop:count (e.g. 0.01:0.6:200) or a list 0.1,0.2") from None
    bad = [v for v in values if not np.isfinite(v) or (positive and not v > 0)]
    if bad:
        raise CLIError(f"{what} {text!r}: every value must be finite{' and > 0' if positive else ''} (found "
                       f"{bad[0]:g})")
    return values


Nucleus = Annotated[str | None, typer.Option(
    "--nucleus", help="Nucleus to predict, e.g. 40Ar: needed for a model of several nuclei (any nucleus by name).")]


def choose_nucleus(model: str, nucleus: str | None):
    """The model's manifest and the nucleus to predict (the model's own, or ``--nucleus``), from the manifest
    alone: a wrong model or nucleus is refused before torch loads."""
    from enxs import artifacts

    manifest = artifacts.read_manifest(artifacts.resolve_model(model))
    try:
        return manifest, manifest.target(nucleus, model)
    except artifacts.NucleusChoiceError as exc:
        raise CLIError(f"{exc} with --nucleus" if nucleus is None else str(exc)) from None


def load(model: str, nucleus: str | None, threads: int | None = None, chosen=None):
    """The ensemble and the nucleus to predict (``choose_nucleus``; ``chosen``: what it gave, where the command
    asked first), torch's threads set (``--threads``); the manifest is read once."""
    manifest, target = chosen or choose_nucleus(model, nucleus)
    job_context(threads=threads)
    from enxs.predict import Ensemble

    return Ensemble.load(model, manifest), target


def predict_with_warnings(ensemble, target, energy, theta, omega):
    """The prediction, its extrapolation warnings printed as warning lines."""
    with warnings_on_screen():
        return ensemble.predict(energy, theta, omega, nucleus=target)


def check_table_output(output: Path | None, overwrite: bool, option: str = "--output") -> None:
    """A table's --output (or ``option``): a known format, and no existing file replaced unless --overwrite."""
    from enxs import pointfiles

    if output is not None:
        if output.suffix.lower() not in pointfiles.FORMATS:
            raise CLIError(f"{option} {output}: the extension must be .csv, .parquet or .json")
        check_output_file(output, option, overwrite=overwrite)


def predict(
    model: ModelArg, energy: Energy = None, angle: Angle = None, omega: Omega = None,
    input_: Annotated[Path | None, typer.Option(
        "--input", help="CSV with E [GeV], theta [deg], omega [GeV] columns; lines starting with # are comments.")]
    = None,
    output: Annotated[Path | None, typer.Option(help="Write .csv, .parquet or .json (by extension).")] = None,
    nucleus: Nucleus = None, overwrite: Overwrite = False, threads: Threads = None, members: MembersOut = None,
) -> None:
    """Cross sections (mean, std, 16%/84% quantiles) in nb/sr/GeV at given kinematics."""
    import numpy as np

    from enxs import kinematics, pointfiles

    check_table_output(output, overwrite)
    check_table_output(members, overwrite, "--members")
    if input_ is not None and (energy, angle, omega) != (None, None, None):
        raise CLIError("give --input points.csv or --energy, --angle and --omega, not both")
    if input_ is not None:
        e, t, w = pointfiles.read_points(input_, check=kinematics.check_kinematics)
    elif energy is not None and angle is not None and omega is not None:
        w = np.asarray(parse_values(omega))
        e, t = np.full(len(w), energy), np.full(len(w), angle)
        kinematics.check_kinematics(e, t, w)
    else:
        raise CLIError("give --energy, --angle and --omega, or --input points.csv")
    ensemble, target = load(model, nucleus, threads)
    prediction, name = predict_with_warnings(ensemble, target, e, t, w), target.name
    if members is not None:
        pointfiles.write_members(prediction.to_frame()[list(pointfiles.KINEMATIC_COLUMNS)], prediction.members,
                                 members, {**ensemble.provenance(target),
                                           "units": f"{pointfiles.KINEMATIC_UNITS}, members in nb/sr/GeV"})
        say(f"{len(prediction.members)} members' predictions written to {members}")
    if output is None:
        zero_shot = " (zero-shot: no training data of this nucleus)" if prediction.zero_shot else ""
        table = Table(title=escape(f"{name} — {model} — d²σ/dΩdω [nb/sr/GeV]{zero_shot}"))
        for col in ("E [GeV]", "θ [deg]", "ω [GeV]", "mean", "std", "16%", "84%", "outside"):
            table.add_column(escape(col), justify="right")
        print_rows(table, prediction.to_frame(), lambda r: [*(f"{v:.5g}" for v in r[:7]), "yes" if r[7] else ""])
        return
    pointfiles.write_prediction(prediction, output, ensemble.provenance(target))
    say(f"{len(e)} point(s) written to {output}")


def responses(
    model: ModelArg,
    q: Annotated[str | None, typer.Option(
        "--q", help="Momentum transfer q [GeV]: a value, start:stop:count or a comma list.")] = None,
    omega: Omega = None,
    input_: Annotated[Path | None, typer.Option(
        "--input", help="CSV with q and omega columns [GeV]; lines starting with # are comments.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write .csv, .parquet or .json (by extension).")] = None,
    nucleus: Nucleus = None, overwrite: Overwrite = False, threads: Threads = None,
) -> None:
    """Longitudinal and transverse responses R_L, R_T [GeV⁻¹, per nucleus] (mean, std, 16%/84%)
    at (q, ω): from a response model, or by a Rosenbluth fit of a cross-section model where
    its training data hold several angles. --q and --omega make a grid (points with ω ≥ q,
    outside electron scattering, are left out and counted)."""
    import numpy as np

    from enxs import kinematics, pointfiles

    check_table_output(output, overwrite)
    if input_ is not None and (q, omega) != (None, None):
        raise CLIError("give --input points.csv or --q and --omega, not both")
    if input_ is not None:
        qq, w = pointfiles.read_points(input_, ("q", "omega"), check=kinematics.check_q_omega)
    elif q is not None and omega is not None:
        q_values = parse_values(q, "--q", positive=True)
        qq, w = (a.ravel() for a in np.meshgrid(q_values, parse_values(omega), indexing="ij"))
        keep = w < qq
        if not keep.any():
            raise CLIError("every (q, ω) of the grid has ω ≥ q: electron scattering needs ω < q")
        if not keep.all():
            warn(f"{int((~keep).sum())} grid point(s) with ω ≥ q left out (Q² = q² − ω² must be > 0)")
        qq, w = qq[keep], w[keep]
    else:
        raise CLIError("give --q and --omega, or --input points.csv")
    ensemble, target = load(model, nucleus, threads)
    from enxs.responses import TRANSVERSE_QE_NOTE, predict_responses

    with warnings_on_screen():
        result = predict_responses(ensemble, qq, w, nucleus=target)
    frame = result.to_frame()
    if output is None:
        zero_shot = "; zero-shot: no training data of this nucleus" if result.zero_shot else ""
        table = Table(title=escape(f"{target.name} — {model} — R_L, R_T [GeV⁻¹] ({result.method}{zero_shot})"))
        shown = {"q [GeV]": "q_GeV", "ω [GeV]": "omega_GeV", "R_L": "R_L_mean_per_GeV", "± std": "R_L_std_per_GeV",
                 "R_T": "R_T_mean_per_GeV", "± std ": "R_T_std_per_GeV", "R_T (QE)": "R_T_QE_mean_per_GeV"}
        shown = {title: column for title, column in shown.items() if column in frame}
        for col in (*shown, "outside"):
            table.add_column(escape(col), justify="right")
        print_rows(table, frame, lambda r: [*(f"{getattr(r, column):.5g}" for column in shown.values()),
                                            "yes" if r.outside_coverage else ""])
        return
    pointfiles.write_table(frame, output, {
        **ensemble.provenance(target), "method": result.method,
        "units": "q_GeV, omega_GeV [GeV]; R_L, R_T [GeV^-1] per nucleus (not per nucleon)",
        **({"R_T_QE": TRANSVERSE_QE_NOTE} if result.transverse_qe is not None else {}),
        "convention": "d2sigma/dOmega/domega = sigma_Mott (v_L R_L + v_T R_T), sigma_Mott = (hbar c)^2 alpha^2 "
                      "cos^2(theta/2)/(4 E^2 sin^4(theta/2)), v_L = (Q^2/q^2)^2, v_T = Q^2/(2q^2) + tan^2(theta/2); "
                      "no Coulomb correction",
        "outside_coverage": "1 where training settings passing within 10% of q at this omega do not span an "
                            "epsilon range of 0.2 (R_L and R_T not separately constrained), below the elastic line, "
                            "or where the mean R_L or R_T is negative"})
    say(f"{len(frame)} point(s) written to {output}")
