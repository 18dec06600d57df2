"""``enxs predict``, ``plot``, ``export``, ``import``, ``tabulate``: using trained models."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from enxs.cli.common import (
    CLIError,
    DataDir,
    Overwrite,
    Threads,
    console,
    make_app,
    say,
    use_threads,
    warn,
)
from enxs.files import check_output_directory, check_output_file

ModelArg = Annotated[str, typer.Argument(help="Model directory or shipped model name.")]
Energy = Annotated[float | None, typer.Option("--energy", help="Beam energy E [GeV].")]
Angle = Annotated[float | None, typer.Option("--angle", help="Scattering angle θ [deg].")]
Omega = Annotated[str | None, typer.Option("--omega", help="ω [GeV]: start:stop:count or a comma list.")]

def parse_values(text: str, what: str = "--omega") -> list[float]:
    """'0.01:0.6:200' → 200 evenly spaced values; '0.1,0.2' → a list."""
    import numpy as np

    try:
        if ":" in text:
            start, stop, count = text.split(":")
            if int(count) < 1:
                raise ValueError
            return np.linspace(float(start), float(stop), int(count)).tolist()
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CLIError(f"{what} {text!r}: write start:stop:count (e.g. 0.01:0.6:200) or a list 0.1,0.2") from None


Nucleus = Annotated[str | None, typer.Option(
    "--nucleus", help="Nucleus to predict, e.g. 40Ar: needed for a model of several nuclei (any nucleus by name).")]


def _load(model: str, nucleus: str | None):
    """The ensemble and the nucleus to predict for (its own, or ``--nucleus``)."""
    from enxs.predict import Ensemble, NucleusChoiceError

    ensemble = Ensemble.load(model)
    try:
        return ensemble, ensemble.target(nucleus)
    except NucleusChoiceError as exc:
        raise CLIError(f"{exc} with --nucleus" if nucleus is None else str(exc)) from None


def _predict(ensemble, target, energy, theta, omega):
    """The prediction, its extrapolation warnings printed as warning lines."""
    from enxs.predict import ExtrapolationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ExtrapolationWarning)
        prediction = ensemble.predict(energy, theta, omega, nucleus=target)
    for w in caught:
        warn(str(w.message))
    return prediction


def _check_table_output(output: Path | None, overwrite: bool) -> None:
    """A table's --output: a known format, and no existing file replaced unless --overwrite."""
    from enxs import pointfiles

    if output is not None:
        if output.suffix.lower() not in pointfiles.FORMATS:
            raise CLIError(f"--output {output}: the extension must be .csv, .parquet or .json")
        check_output_file(output, overwrite=overwrite)


def predict(
    model: ModelArg, energy: Energy = None, angle: Angle = None, omega: Omega = None,
    input_: Annotated[Path | None, typer.Option("--input", help="CSV with E, theta, omega columns.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write .csv, .parquet or .json (by extension).")] = None,
    nucleus: Nucleus = None, overwrite: Overwrite = False, threads: Threads = None,
) -> None:
    """Cross sections (mean, std, 16%/84% quantiles) in nb/sr/GeV at given kinematics."""
    import numpy as np

    from enxs import pointfiles

    _check_table_output(output, overwrite)
    if input_ is not None and (energy, angle, omega) != (None, None, None):
        raise CLIError("give --input points.csv or --energy, --angle and --omega, not both")
    use_threads(threads)
    if input_ is not None:
        e, t, w = pointfiles.read_points(input_)
    elif energy is not None and angle is not None and omega is not None:
        w = np.asarray(parse_values(omega))
        e, t = np.full(len(w), energy), np.full(len(w), angle)
    else:
        raise CLIError("give --energy, --angle and --omega, or --input points.csv")
    ensemble, target = _load(model, nucleus)
    prediction, name = _predict(ensemble, target, e, t, w), target.name
    if output is None:
        zero_shot = " (zero-shot: no training data of this nucleus)" if prediction.zero_shot else ""
        table = Table(title=escape(f"{name} — {model} — d²σ/dΩdω [nb/sr/GeV]{zero_shot}"))
        for col in ("E [GeV]", "θ [deg]", "ω [GeV]", "mean", "std", "16%", "84%", "outside"):
            table.add_column(escape(col), justify="right")
        for r in prediction.to_frame().itertuples(index=False):
            table.add_row(*(f"{v:.5g}" for v in r[:7]), "yes" if r[7] else "")
        console.print(table)
        return
    pointfiles.write_prediction(prediction, output, ensemble.provenance(target))
    say(f"{len(e)} point(s) written to {output}")


def responses(
    model: ModelArg,
    q: Annotated[str | None, typer.Option(
        "--q", help="Momentum transfer q [GeV]: a value, start:stop:count or a comma list.")] = None,
    omega: Omega = None,
    input_: Annotated[Path | None, typer.Option("--input", help="CSV with q and omega columns [GeV].")] = None,
    output: Annotated[Path | None, typer.Option(help="Write .csv, .parquet or .json (by extension).")] = None,
    nucleus: Nucleus = None, overwrite: Overwrite = False, threads: Threads = None,
) -> None:
    """Longitudinal and transverse responses R_L, R_T [GeV⁻¹, per nucleus] (mean, std, 16%/84%)
    at (q, ω): from a response model, or by a Rosenbluth fit of a cross-section model where
    its training data hold several angles. --q and --omega make a grid (points with ω ≥ q,
    outside electron scattering, are left out and counted)."""
    import numpy as np

    from enxs import pointfiles

    _check_table_output(output, overwrite)
    if input_ is not None and (q, omega) != (None, None):
        raise CLIError("give --input points.csv or --q and --omega, not both")
    use_threads(threads)
    if input_ is not None:
        qq, w = pointfiles.read_points(input_, ("q", "omega"))
    elif q is not None and omega is not None:
        qq, w = (a.ravel() for a in np.meshgrid(parse_values(q, "--q"), parse_values(omega), indexing="ij"))
        keep = w < qq
        if not keep.any():
            raise CLIError("every (q, ω) of the grid has ω ≥ q: electron scattering needs ω < q")
        if not keep.all():
            warn(f"{int((~keep).sum())} grid point(s) with ω ≥ q left out (Q² = q² − ω² must be > 0)")
        qq, w = qq[keep], w[keep]
    else:
        raise CLIError("give --q and --omega, or --input points.csv")
    ensemble, target = _load(model, nucleus)
    from enxs.predict import ExtrapolationWarning
    from enxs.responses import predict_responses

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ExtrapolationWarning)
        result = predict_responses(ensemble, qq, w, nucleus=target)
    for message in caught:
        warn(str(message.message))
    frame = result.to_frame()
    if output is None:
        zero_shot = "; zero-shot: no training data of this nucleus" if result.zero_shot else ""
        table = Table(title=escape(f"{target.name} — {model} — R_L, R_T [GeV⁻¹] ({result.method}{zero_shot})"))
        for col in ("q [GeV]", "ω [GeV]", "R_L", "± std", "R_T", "± std", "outside"):
            table.add_column(escape(col), justify="right")
        for r in frame.itertuples(index=False):
            table.add_row(*(f"{v:.5g}" for v in (r[0], r[1], r[2], r[3], r[6], r[7])), "yes" if r[10] else "")
        console.print(table)
        return
    pointfiles.write_table(frame, output, {
        **ensemble.provenance(target), "method": result.method,
        "units": "q_GeV, omega_GeV [GeV]; R_L, R_T [GeV^-1] per nucleus (not per nucleon)",
        "convention": "d2sigma/dOmega/domega = sigma_Mott (v_L R_L + v_T R_T), sigma_Mott = (hbar c)^2 alpha^2 "
                      "cos^2(theta/2)/(4 E^2 sin^4(theta/2)), v_L = (Q^2/q^2)^2, v_T = Q^2/(2q^2) + tan^2(theta/2); "
                      "no Coulomb correction",
        "outside_coverage": "1 where training settings passing within 10% of q at this omega do not span an "
                            "epsilon range of 0.2 (R_L and R_T not separately constrained), below the elastic line, "
                            "or where the mean R_L or R_T is negative"})
    say(f"{len(frame)} point(s) written to {output}")


def plot(
    model: ModelArg, energy: Energy = None, angle: Angle = None, omega: Omega = None,
    scan: Annotated[str, typer.Option(help="omega (σ vs ω at E, θ) | angle or q2 (σ vs θ or Q² at E, ω).")] = "omega",
    with_data: Annotated[bool, typer.Option("--with-data", help="Overlay measured points of this setting.")] = False,
    responses: Annotated[bool, typer.Option(
        "--responses", help="Draw R_L and R_T [GeV⁻¹] against ω at each --q instead of a cross section.")] = False,
    q: Annotated[str | None, typer.Option("--q", help="With --responses: q [GeV], one value or a list.")] = None,
    output: Annotated[Path, typer.Option(help="Figure file (.png, .pdf, .svg).")] = Path("enxs-plot.png"),
    log_y: Annotated[bool, typer.Option("--log-y", help="Logarithmic y axis (a spectrum in ω; scans always are).")]
    = False,
    ylim: Annotated[str | None, typer.Option(
        "--ylim", help="y range LO,HI in the plotted unit (default: the whole model and every data point).")] = None,
    nucleus: Nucleus = None, overwrite: Overwrite = False, data_dir: DataDir = None,
) -> None:
    """Plot the ensemble mean and its 16–84% band: a spectrum in ω, a scan in angle or Q² at fixed E,
    or (--responses) R_L and R_T at fixed q."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from enxs import kinematics, plots

    if responses:
        if q is None:
            raise CLIError("--responses needs --q (GeV), e.g. --q 0.5 or --q 0.3,0.6,0.9")
        check_output_file(output, overwrite=overwrite)
        _plot_responses(model, nucleus, parse_values(q, "--q"), omega, output)
        return
    if energy is None:
        raise CLIError("give --energy")
    if scan not in ("omega", "angle", "q2"):
        raise CLIError(f"--scan {scan!r}: choose omega, angle or q2")
    check_output_file(output, overwrite=overwrite)
    limits = _parse_ylim(ylim)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    label = f"{model} (mean, 16–84%)"
    if scan == "omega":
        if angle is None:
            raise CLIError("a spectrum in ω needs --angle")
        ensemble, target = _load(model, nucleus)
        if omega:
            w = np.asarray(parse_values(omega))
        else:  # from just above the elastic line, below which σ = 0
            w_el = float(kinematics.omega_elastic(energy, angle, target.A))
            w = np.linspace(max(0.01 * energy, 1.05 * w_el), 0.95 * energy, 200)
        p, name = _predict(ensemble, target, energy, angle, w), target.name
        plots.band(ax, w, p.mean, p.q16, p.q84, label)
        plots.mark_extrapolation(ax, w, p.mean, p.outside_coverage)
        plots.label_spectrum(ax, name, energy, angle)
        pts, error = _overlay_data(ax, ensemble, target, energy, angle, data_dir) if with_data else (None, None)
        plots.y_range(ax, p.mean, p.q84, pts, error, log=log_y)
    else:
        if omega is None or len(parse_values(omega)) != 1:
            raise CLIError("a scan in angle or Q² needs one --omega value")
        w = parse_values(omega)[0]
        th = np.linspace(5, 175, 200)
        ensemble, target = _load(model, nucleus)
        p, name = _predict(ensemble, target, energy, th, w), target.name
        x = th if scan == "angle" else kinematics.q2(energy, th, w)
        plots.band(ax, x, p.mean, p.q16, p.q84, label)
        plots.mark_extrapolation(ax, x, p.mean, p.outside_coverage)
        ax.set_xlabel("θ [deg]" if scan == "angle" else "Q² [GeV²]")
        ax.set_ylabel("d²σ/dΩdω [nb/sr/GeV]")
        plots.y_range(ax, p.mean, p.q84, log=True)
        ax.set_title(f"{name}: E = {energy:g} GeV, ω = {w:g} GeV", fontsize=10)
    if limits:
        ax.set_ylim(*limits)
    ax.legend(fontsize=7)
    _save_figure(fig, output)


def _save_figure(fig, output: Path, note: str = "") -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:
        fig.savefig(output, dpi=130)
    except (ValueError, OSError) as exc:
        raise CLIError(f"{output}: cannot write figure ({exc})") from exc
    plt.close(fig)
    say(f"figure written to {output}{note}")


def _plot_responses(model: str, nucleus: str | None, q_values: list[float], omega: str | None, output: Path) -> None:
    """R_L and R_T against ω (two panels), one band per q; flagged points dotted."""
    import matplotlib.pyplot as plt
    import numpy as np

    from enxs import plots
    from enxs.predict import ExtrapolationWarning
    from enxs.responses import predict_responses

    ensemble, target = _load(model, nucleus)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for q in q_values:
        w = np.asarray(parse_values(omega)) if omega else np.linspace(0.01 * q, 0.98 * q, 150)
        w = w[(w > 0) & (w < q)]
        if not len(w):
            raise CLIError(f"--omega: no value with 0 < ω < q = {q:g} GeV")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ExtrapolationWarning)
            r = predict_responses(ensemble, q, w, nucleus=target)
        for message in caught:
            warn(f"q = {q:g} GeV: {message.message}")
        q16, q84 = r.quantiles()
        for j, ax in enumerate(axes):
            drawn = plots.band(ax, w, r.mean[:, j], q16[:, j], q84[:, j], f"q = {q:g} GeV")
            plots.mark_extrapolation(ax, w, r.mean[:, j], r.outside_coverage)
            drawn["line"].set_label(f"q = {q:g} GeV")
    for ax, name in zip(axes, ("longitudinal R_L", "transverse R_T"), strict=True):
        ax.set_xlabel("ω [GeV]")
        ax.set_ylabel(f"{name.split()[1]} [GeV⁻¹]")
        ax.set_title(f"{target.name}: {name} ({model}; mean, 16–84%)", fontsize=9)
        ax.set_ylim(bottom=0)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), fontsize=8)
    _save_figure(fig, output, f" ({r.method})")


def _parse_ylim(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        low = high = float("nan")
    if not low < high:
        raise CLIError(f"--ylim {text!r}: write LO,HI with LO < HI, e.g. 0,1500")
    return low, high


def _overlay_data(ax, ensemble, target, energy: float, angle: float, data_dir):
    """The measured points of this setting, marked as the model's training or test points
    (or as not trained on, for a nucleus without training data); returns them and their errors."""
    from enxs import archive, plots
    from enxs.datasets import total_error

    try:
        table = archive.read_file(archive.find_nucleus_file(target.name, data_dir))[0]
    except archive.ArchiveError as exc:
        warn(f"no data overlay: {exc}")
        return None, None
    pts = table[(abs(table.E - energy) <= 1e-3 * energy) & (abs(table.theta - angle) <= 0.05)].reset_index(drop=True)
    if pts.empty:
        warn(f"the archive has no {target.name} data at E={energy:g}, θ={angle:g}")
        return None, None
    error = total_error(pts)
    split = (ensemble.manifest.split or {}).get(target.name)
    train = pts.line.isin(split["train_lines"]).to_numpy() if split else None
    plots.data_points(ax, pts, error, train)
    return pts, error


export_app = make_app("Write a model in other formats.")
import_app = make_app("Turn other formats into enxs models.")


@export_app.command("onnx")
def export_onnx(model: ModelArg, out: Annotated[Path, typer.Option(help="Output directory.")],
                nucleus: Nucleus = None,
                responses: Annotated[bool, typer.Option(
                    "--responses", help="A response model's R_L, R_T [GeV⁻¹] as functions of (q, ω) [GeV], "
                                        "in OUT/<Symbol><A>-responses/, instead of the cross section.")] = False,
                ) -> None:
    """One float32 ONNX file per member with NuWro's interface (σ from E, ω, θ), in OUT/<Symbol><A>/;
    a response model computes σ from its R_L, R_T inside the graph."""
    from enxs import onnx_io
    from enxs.predict import Ensemble

    ensemble = Ensemble.load(model)
    target = ensemble.target(nucleus)
    if ensemble.zero_shot(target):
        warn(ensemble.zero_shot_note(target))
    summary = onnx_io.export(ensemble.model, target, out, ensemble.manifest.weights_sha256, responses=responses,
                             zero_shot=ensemble.zero_shot(target))
    say(f"{summary['members']} members written to {summary['directory']} (onnxruntime vs enxs: max |Δy| = "
        f"{summary['max_abs_diff']:.1e}, max relative difference where y > {onnx_io.CHECK_FLOOR:g}: "
        f"{summary['max_rel_diff']:.1e})")


@export_app.command("hepdata")
def export_hepdata(
    model: ModelArg, energy: Annotated[float, typer.Option(help="E [GeV].")],
    angle: Annotated[float, typer.Option(help="θ [deg].")],
    omega: Annotated[str, typer.Option(help="start:stop:count")],
    out: Annotated[Path, typer.Option(help="New (or empty) directory for the HEPData submission.")],
    nucleus: Nucleus = None,
) -> None:
    """A HEPData submission (hepdata_lib) of the prediction at one (E, θ) over ω, with its archive, in OUT."""
    import importlib.util

    import numpy as np

    from enxs import hepdata

    if importlib.util.find_spec("hepdata_lib") is None:
        raise CLIError(hepdata.INSTALL_HINT)
    check_output_directory(out)
    w = np.asarray(parse_values(omega))
    ensemble, target = _load(model, nucleus)
    hepdata.write_submission(ensemble, str(model), _predict(ensemble, target, energy, angle, w), out, target.name)
    say(f"HEPData submission written to {out} (with submission.tar.gz)")


@import_app.command("onnx")
def import_onnx(
    directory: Annotated[Path, typer.Argument(help="Directory of model_electron_*_<i>.onnx members.")],
    out: Annotated[Path, typer.Option(help="enxs model directory to write.")],
    nucleus: Annotated[str | None, typer.Option(help="Nucleus (default: from the directory or file names).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Turn a NuWro-style ONNX ensemble into an enxs model (evaluate, plot, fine-tune it).

    The members' training data are unknown: the model's kinematic coverage is taken from all
    selected points of the nucleus' file in the data directory, where there is one (else
    every prediction is flagged as a possible extrapolation).
    """
    from enxs import artifacts, onnx_io

    if (out / artifacts.MANIFEST).exists():
        raise CLIError(f"{out} already holds a model")
    model, manifest = onnx_io.import_ensemble(directory, nucleus, data_dir)
    if manifest.coverage is None:
        warn(f"no {manifest.name} data in the data directory: the imported model's coverage is unknown, "
             f"and every prediction will be flagged as a possible extrapolation")
    artifacts.save_model(out, model, manifest)
    say(f"imported {model.members} members ({model.config.depth}×{model.config.width}, "
        f"{model.parameter_count():,} parameters each) as {manifest.name} into {out}")


def tabulate(
    model: ModelArg, out: Annotated[Path, typer.Option(help="Grid file: .h5 or .npz.")],
    e_min: Annotated[float, typer.Option(help="Lowest E [GeV].")] = 0.1,
    e_max: Annotated[float, typer.Option(help="Highest E [GeV].")] = 6.0,
    shape: Annotated[str | None, typer.Option(
        help="Grid nodes in ln E, θ, v (default 128,138,160; v follows ω around the quasielastic peak); "
             "with --responses in q, ω (default 96,200).")] = None,
    responses: Annotated[bool, typer.Option(
        "--responses", help="Tabulate R_L, R_T [GeV⁻¹] (mean, std, 16%, 84%, coverage) on a q × ω grid.")] = False,
    q_min: Annotated[float, typer.Option(help="With --responses: lowest q [GeV].")] = 0.1,
    q_max: Annotated[float, typer.Option(help="With --responses: highest q and ω [GeV].")] = 2.0,
    nucleus: Nucleus = None, overwrite: Overwrite = False, threads: Threads = None,
) -> None:
    """Precompute mean and std on an (E, θ, ω) grid for generators, with its interpolation error
    against the ensemble measured and stored in the file; or (--responses) R_L and R_T on a (q, ω) grid."""
    from enxs import grid
    from enxs.files import atomic_write
    from enxs.predict import Ensemble

    if out.suffix not in (".h5", ".hdf5", ".npz"):
        raise CLIError(f"--out {out}: grid files end in .h5 or .npz")
    check_output_file(out, "--out", overwrite)
    shape = shape or ("96,200" if responses else "128,138,160")
    try:
        dims = tuple(int(v) for v in shape.split(","))
    except ValueError:
        dims = ()
    if len(dims) != (2 if responses else 3) or min(dims) < 2:
        raise CLIError(f"--shape {shape!r}: " + ("two integers ≥ 2 (q, ω), e.g. 96,200" if responses
                                                 else "three integers ≥ 2, e.g. 128,138,160"))
    if responses and not 0 < q_min < q_max:
        raise CLIError(f"--q-min {q_min:g} and --q-max {q_max:g}: need 0 < q-min < q-max (GeV)")
    if not responses and not 0 < e_min < e_max:
        raise CLIError(f"--e-min {e_min:g} and --e-max {e_max:g}: need 0 < e-min < e-max (GeV)")
    use_threads(threads)
    ensemble = Ensemble.load(model)
    target = ensemble.target(nucleus)
    if responses:
        from enxs.predict import ExtrapolationWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ExtrapolationWarning)
            arrays, meta = grid.build_responses(ensemble, target, (q_min, q_max), dims, ensemble.provenance(target))
        for message in caught:
            warn(str(message.message))
        atomic_write(out, lambda path: grid.save_arrays(path, arrays, meta))
        covered = 1 - arrays["outside_coverage"][arrays["q"][:, None] > arrays["omega"][None, :]].mean()
        say(f"responses grid {dims} (q {q_min:g}–{q_max:g} GeV, ω up to {q_max:g} GeV) of {target.name} written to "
            f"{out}: R_L, R_T mean/std/q16/q84 [GeV⁻¹] ({meta['method']}); {covered:.0%} of the physical points "
            f"inside the coverage")
        return
    provenance = ensemble.provenance(target)
    if provenance["zero_shot"]:
        warn(ensemble.zero_shot_note(target))
    g = grid.build(ensemble.model, target, (e_min, e_max), shape=dims, meta=provenance)
    settings = ensemble.training_settings(target)
    err = grid.interpolation_error(g, ensemble.model, target, settings)
    g.meta.update(err)
    atomic_write(out, g.save)
    inside = (f"inside the training coverage ({err['interpolation_error_points']} random points): median "
              f"{err['interpolation_error_median']:.2%}, 95% {err['interpolation_error_p95']:.2%}, max "
              f"{err['interpolation_error_max']:.2%}; " if "interpolation_error_p95" in err else "")
    say(f"grid {dims} written to {out}; interpolation error of the mean against the ensemble, {inside}whole grid "
        f"({err['whole_domain_interpolation_error_points']} points): median "
        f"{err['whole_domain_interpolation_error_median']:.2%}, 95% {err['whole_domain_interpolation_error_p95']:.2%},"
        f" max {err['whole_domain_interpolation_error_max']:.2%}")
