"""``enxs plot``: a model's spectrum in ω, a scan in angle or Q², R_L and R_T at fixed q, or CCQE neutrino
cross sections, with the ensemble's band."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from enxs.cli.common import CLIError, DataDir, Overwrite, refuse_unused, say, warn, warnings_on_screen
from enxs.cli.use import (
    Angle,
    Energy,
    ModelArg,
    Nucleus,
    Omega,
    choose_nucleus,
    load,
    parse_values,
    predict_with_warnings,
)
from enxs.files import check_output_file


def check_figure_output(output: Path, overwrite: bool) -> None:
    """A figure's --output: a format matplotlib writes, and no existing file replaced unless --overwrite."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if output.suffix.lower().lstrip(".") not in formats:
        raise CLIError(f"--output {output}: the extension must name a figure format ({', '.join(sorted(formats))})")
    check_output_file(output, overwrite=overwrite)


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
    neutrino: Annotated[str | None, typer.Option(
        "--neutrino", help="Draw CCQE neutrino cross sections of this flavour (numu, numubar, nue, nuebar): "
                           "d²σ/dT dcos θ against T in slices of --cos at --energy or over --flux, or (--total) "
                           "σ(E_ν) up to --emax.")] = None,
    cos: Annotated[str | None, typer.Option("--cos", help="With --neutrino: the cos θ slices (a list).")] = None,
    flux: Annotated[Path | None, typer.Option("--flux", help="With --neutrino: a flux table instead of --energy.")]
    = None,
    total: Annotated[bool, typer.Option("--total", help="With --neutrino: σ(E_ν) instead of d²σ/dT dcos θ.")] = False,
    emax: Annotated[float | None, typer.Option("--emax", help="With --neutrino: the highest E_ν [GeV].")] = None,
    transverse_enhancement: Annotated[bool, typer.Option(
        "--transverse-enhancement", help="With --neutrino: f_T times the model's transverse enhancement TE(q), as "
                                         "enxs neutrino --transverse-enhancement.")] = False,
    hydrogen: Annotated[int, typer.Option(
        "--hydrogen", min=0, help="With --neutrino: free protons per nucleus, as enxs neutrino --hydrogen (per "
                                  "active nucleon of the molecule; over a --flux for d²σ/dT dcos θ).")] = 0,
    ratio_to: Annotated[str | None, typer.Option(
        "--ratio-to", help="With --neutrino --total: σ of --neutrino over σ of this flavour, member by member, as "
                           "enxs neutrino --ratio-to.")] = None,
    nucleus: Nucleus = None, overwrite: Overwrite = False, data_dir: DataDir = None,
) -> None:
    """Plot the ensemble mean and its 16–84% band: a spectrum in ω, a scan in angle or Q² at fixed E,
    (--responses) R_L and R_T at fixed q, or (--neutrino) CCQE neutrino cross sections."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from enxs import kinematics, plots

    given = {"--energy": energy is not None, "--angle": angle is not None, "--omega": omega is not None,
             "--scan": scan != "omega", "--with-data": with_data, "--responses": responses, "--q": q is not None,
             "--log-y": log_y, "--ylim": ylim is not None, "--cos": cos is not None, "--flux": flux is not None,
             "--total": total, "--emax": emax is not None, "--transverse-enhancement": transverse_enhancement,
             "--hydrogen": hydrogen != 0, "--ratio-to": ratio_to is not None}
    if scan not in ("omega", "angle", "q2"):
        raise CLIError(f"--scan {scan!r}: choose omega, angle or q2")
    _check_plot_options(given, "--neutrino --total" if neutrino and total else "--neutrino" if neutrino
                        else "--responses" if responses else "--scan" if scan != "omega" else "")
    if neutrino is not None:
        from enxs.cli.neutrino import plot_neutrino

        check_figure_output(output, overwrite)
        plot_neutrino(model, nucleus, neutrino, energy, flux, emax, cos, total, output, transverse_enhancement,
                      hydrogen, ratio_to)
        return
    if responses:
        if q is None:
            raise CLIError("--responses needs --q (GeV), e.g. --q 0.5 or --q 0.3,0.6,0.9")
        check_figure_output(output, overwrite)
        _plot_responses(model, nucleus, parse_values(q, "--q", positive=True), omega, output)
        return
    if energy is None:
        raise CLIError("give --energy")
    check_figure_output(output, overwrite)
    limits = _parse_ylim(ylim, log=log_y or scan != "omega")
    fig, ax = plt.subplots(figsize=(6, 4.2))
    label = f"{model} (mean, 16–84%)"
    if scan == "omega":
        if angle is None:
            raise CLIError("a spectrum in ω needs --angle")
        chosen = choose_nucleus(model, nucleus)
        if omega:
            w = np.asarray(parse_values(omega))
        else:  # from just above the elastic line, below which σ = 0
            w_el = float(kinematics.omega_elastic(energy, angle, chosen[1].A))
            w = np.linspace(max(0.01 * energy, 1.05 * w_el), 0.95 * energy, 200)
        kinematics.check_kinematics(energy, angle, w)
        ensemble, target = load(model, nucleus, chosen=chosen)
        p, name = predict_with_warnings(ensemble, target, energy, angle, w), target.name
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
        kinematics.check_kinematics(energy, th, w)
        ensemble, target = load(model, nucleus)
        p, name = predict_with_warnings(ensemble, target, energy, th, w), target.name
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
    save_figure(fig, output)


def save_figure(fig, output: Path, note: str = "") -> None:
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
    from enxs.responses import predict_responses

    ensemble, target = load(model, nucleus)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for q in q_values:
        w = np.asarray(parse_values(omega)) if omega else np.linspace(0.01 * q, 0.98 * q, 150)
        w = w[(w > 0) & (w < q)]
        if not len(w):
            raise CLIError(f"--omega: no value with 0 < ω < q = {q:g} GeV")
        with warnings_on_screen(f"q = {q:g} GeV: "):
            r = predict_responses(ensemble, q, w, nucleus=target)
        q16, q84 = r.quantiles()
        for j, ax in enumerate(axes):
            drawn = plots.band(ax, w, r.mean[:, j], q16[:, j], q84[:, j], f"q = {q:g} GeV")
            plots.mark_extrapolation(ax, w, r.mean[:, j], r.outside_coverage)
            drawn["line"].set_label(f"q = {q:g} GeV")
        if r.transverse_qe is not None:  # a structured model: R_T's quasielastic part, dashed
            axes[1].plot(w, r.transverse_qe.mean(0), ls="--", lw=1, color=drawn["line"].get_color(),
                         label="its quasielastic part" if q == q_values[0] else None)
    for ax, name in zip(axes, ("longitudinal R_L", "transverse R_T"), strict=True):
        ax.set_xlabel("ω [GeV]")
        ax.set_ylabel(f"{name.split()[1]} [GeV⁻¹]")
        ax.set_title(f"{target.name}: {name} ({model}; mean, 16–84%)", fontsize=9)
        ax.set_ylim(bottom=0)
        plots.legend(ax)
    save_figure(fig, output, f" ({r.method})")


#: Each kind of plot (by the option that chooses it; "" a spectrum in ω): how it is named, the options it uses.
PLOT_KINDS = {"": ("for a spectrum in ω (without --scan, --neutrino or --responses)",
                   ("--energy", "--angle", "--omega", "--scan", "--with-data", "--log-y", "--ylim")),
              "--scan": ("in a scan in angle or Q²", ("--energy", "--omega", "--scan", "--log-y", "--ylim")),
              "--responses": ("with --responses", ("--responses", "--q", "--omega")),
              "--neutrino": ("with --neutrino", ("--energy", "--flux", "--emax", "--cos", "--transverse-enhancement",
                                                 "--hydrogen")),
              "--neutrino --total": ("with --neutrino --total", ("--total", "--emax", "--transverse-enhancement",
                                                                 "--hydrogen", "--ratio-to"))}


def _check_plot_options(given: dict[str, bool], kind: str) -> None:
    """Refuse options the chosen kind of plot would ignore (a --flux without --neutrino drew electrons)."""
    name, uses = PLOT_KINDS[kind]
    refuse_unused({o: present for o, present in given.items() if o not in uses}, f"{name}; this plot takes "
                                                                                 f"{', '.join(uses)}")


def _parse_ylim(text: str | None, log: bool) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        low = high = float("nan")
    if not -math.inf < low < high < math.inf:
        raise CLIError(f"--ylim {text!r}: write LO,HI, finite, with LO < HI, e.g. 0,1500")
    if log and low <= 0:
        raise CLIError(f"--ylim {text!r}: a logarithmic y axis needs LO > 0")
    return low, high


def _overlay_data(ax, ensemble, target, energy: float, angle: float, data_dir):
    """The measured points of this setting, marked as the model's training or test points
    (or as not trained on, for a nucleus without training data); returns them and their errors."""
    from enxs import archive, plots
    from enxs.artifacts import warn_if_data_changed
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
    with warnings_on_screen():  # train/test marks come from the stored split: said if the file changed
        warn_if_data_changed(ensemble.manifest, ensemble.name)
    split = (ensemble.manifest.split or {}).get(target.name)
    train = pts.line.isin(split["train_lines"]).to_numpy() if split else None
    plots.data_points(ax, pts, error, train)
    return pts, error
