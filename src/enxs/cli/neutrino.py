"""``enxs neutrino``: charged-current quasielastic neutrino cross sections from an electron model."""

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
    print_rows,
    progress_bar,
    refuse_unused,
    say,
    warnings_on_screen,
)
from enxs.cli.use import ModelArg, Nucleus, check_table_output, parse_values

Flavor = Annotated[str, typer.Option("--flavor", help="numu, numubar, nue or nuebar.")]
EnergyAxis = Annotated[str | None, typer.Option(
    "--energy", help="Neutrino energy E_ν [GeV]; with --total start:stop:count or a list.")]
FluxFile = Annotated[Path | None, typer.Option(
    "--flux", help="Flux table: (E_ν, Φ) columns, or bin edges and one column per flavour (MiniBooNE's layout).")]
Emax = Annotated[float | None, typer.Option("--emax", help="Cut the flux above this E_ν [GeV] (default: its range).")]
AxialMass = Annotated[float, typer.Option("--axial-mass", help="Axial mass M_A [GeV] of the dipole axial form factor.")]
AxialMassStd = Annotated[float, typer.Option(
    "--axial-mass-std", help="Draw M_A per member with this spread [GeV] (e.g. 0.021), so that the band holds it.")]
Per = Annotated[str, typer.Option("--per", help="nucleon (per active nucleon: n for ν, p for ν̄) or nucleus.")]
Scaling = Annotated[str | None, typer.Option(
    "--scaling", help="The model's scaling functions used: LT (the longitudinal f_L in the longitudinal, the "
                      "transverse quasielastic f_T in the transverse responses, as SuSAv2 splits them; default for "
                      "the physics-structured model), T (f_T in all) or L (f_L in all; the only one of a response "
                      "network).")]
NoPauli = Annotated[bool, typer.Option("--no-pauli", help="Leave out the Fermi gas's Pauli blocking at low q.")]
Enhanced = Annotated[bool, typer.Option(
    "--transverse-enhancement", help="Multiply f_T by the transverse enhancement TE(q) the model's electron R_T shows "
                                     "below the pion threshold: two-nucleon knockout as the electron data show it, "
                                     "with the quasielastic shape (CCQE-like data such as MiniBooNE's count it).")]
NoCoulomb = Annotated[bool, typer.Option(
    "--no-coulomb", help="Leave out the outgoing lepton's Coulomb distortion (a plane wave; by default the modified "
                         "effective-momentum approximation in the final nucleus' field).")]


def compute(model: str, nucleus: str | None, flavor: str, energy: str | None, flux: Path | None, emax: float | None,
            tmu: str | None, cos: str | None, total: bool, axial_mass: float, per: str, scaling: str | None,
            bin_average: bool, pauli: bool, axial_mass_std: float = 0.0, input_: Path | None = None,
            coulomb: bool = True, enhanced: bool = False, cell_points: int | None = None, hydrogen: int = 0,
            ratio_to: str | None = None, threads: int | None = None):
    """The prediction the options ask for (``NeutrinoPrediction``); with ``ratio_to`` σ(E_ν) of ``flavor`` over that
    flavour's, member by member; ``threads``: torch's CPU threads (``--threads``)."""
    from enxs import leptonbins
    from enxs.cli.use import choose_nucleus, load
    from enxs.nuclei import is_free_nucleon

    axes = {"--tmu": tmu is not None, "--cos": cos is not None, "--bin-average": bin_average}
    for ignored, where in ([({**axes, "--input": input_ is not None, "--emax": emax is not None and flux is None,
                              "--cell-points": cell_points is not None},
                             "with --total (σ at each --energy, or flux-averaged with --flux)")] if total else
                          [(axes if input_ is not None else {}, "with --input (its T or p and cos columns; dT or dp "
                                                                "and dcos columns give cells)"),
                           ({"--emax": emax is not None and flux is None}, "without --flux")]):
        refuse_unused(ignored, where)
    if is_free_nucleon(nucleus):  # pointed to --hydrogen, not refused by the model without the hint
        from enxs.neutrinorequest import refuse_free_nucleon

        refuse_free_nucleon(nucleus)
    chosen = choose_nucleus(model, nucleus)  # a mistyped model, nucleus, flavour, value or file: refused before torch
    lepton_mass = leptonbins.lepton_mass(flavor)  # GeV; any other flavour: one line naming them
    if ratio_to is not None:
        leptonbins.lepton_mass(ratio_to, "--ratio-to")
        if not total or flux is not None:
            raise CLIError("--ratio-to: with --total at --energy values (σ(E_ν) of two flavours; a flux-averaged "
                           "ratio would depend on each flavour's flux)")
    if total:
        table = _flux_table(energy, flux, flavor, emax,
                            "--total needs --energy start:stop:count (or a list), or --flux FILE for ⟨σ⟩")
        energies = None if table else parse_values(energy, "--energy")
    else:
        points = _lepton_points(input_, lepton_mass) if input_ is not None else None
        if points is None and (tmu is None or cos is None):
            raise CLIError("give --tmu and --cos (start:stop:count or lists), --input points.csv, or --total")
        table = _flux_table(energy, flux, flavor, emax)
        e_nu = None
        if energy is not None:
            values = parse_values(energy, "--energy")
            if len(values) != 1:
                raise CLIError("--energy: one value for d²σ/dT dcos θ (a range needs --total)")
            e_nu = values[0]
        t, c, cell, momentum = points or (*_grid(tmu, cos, bin_average), None)
        if cell is None and cell_points is not None:
            raise CLIError("--cell-points needs cells: --bin-average, or dT (dp) and dcos columns in --input")
    ensemble, target = load(model, nucleus, threads, chosen)
    from enxs import neutrino

    with warnings_on_screen():
        if total:
            return total_or_ratio(ensemble, target, energies, flavor, ratio_to, flux=table, axial_mass=axial_mass,
                                  per=per, scaling=scaling, pauli=pauli, axial_mass_std=axial_mass_std,
                                  coulomb=coulomb, transverse_enhancement=enhanced, hydrogen=hydrogen)
        with progress_bar(f"d²σ/dT dcos θ of {target.name}", "pass", transient=True) as update:
            result = neutrino.double_differential(
                ensemble, target, t, c, flavor=flavor, energy=e_nu, flux=table, axial_mass=axial_mass, per=per,
                cell=cell, scaling=scaling, pauli=pauli, axial_mass_std=axial_mass_std, coulomb=coulomb,
                transverse_enhancement=enhanced, hydrogen=hydrogen, on_pass=update,
                cell_points=neutrino.CELL_POINTS if cell_points is None else cell_points)
        lepton = leptonbins.FLAVORS[flavor][0]
        return result if momentum is None else leptonbins.in_momentum(result, *momentum, lepton)


def _flux_table(energy, flux: Path | None, flavor: str, emax: float | None,
                need: str = "give one of --energy E_nu (GeV) or --flux FILE"):
    """The flux table of --flux FILE (its ``flavor`` column, cut at ``emax``), None with --energy: exactly one of
    the two (else the one line ``need``)."""
    from enxs.flux import read_flux

    if (energy is None) == (flux is None):
        raise CLIError(need)
    return read_flux(flux, flavor, emax) if flux is not None else None


def _grid(tmu: str, cos: str, bin_average: bool) -> tuple:
    """The points of the --tmu × --cos grid, checked, and with --bin-average its spacing as the cell."""
    import numpy as np

    from enxs import leptonbins

    t_axis, c_axis = parse_values(tmu, "--tmu"), parse_values(cos, "--cos")
    cell = None
    if bin_average:
        if min(len(t_axis), len(c_axis)) < 2:
            raise CLIError("--bin-average needs at least two values on --tmu and --cos (the spacing is the bin)")
        cell = (abs(t_axis[1] - t_axis[0]), abs(c_axis[1] - c_axis[0]))
        if min(t_axis) < cell[0] / 2:
            raise CLIError(f"--bin-average: the bin around T = {min(t_axis):g} GeV ({cell[0]:g} GeV wide, the --tmu "
                           f"spacing) reaches below T = 0; start --tmu at ≥ {cell[0] / 2:g} GeV")
        if max(abs(v) for v in c_axis) + cell[1] / 2 > 1 + 1e-9:
            raise CLIError(f"--bin-average: the bins ({cell[1]:g} wide, the --cos spacing) around the --cos values "
                           f"must lie within [-1, 1]; keep |cos θ| ≤ {1 - cell[1] / 2:g}")
    t, c = (a.ravel() for a in np.meshgrid(t_axis, c_axis, indexing="ij"))
    leptonbins.check_points(t, c, cell)
    return t, c, cell


def _lepton_points(path: Path, lepton_mass: float) -> tuple:
    """T, cos θ and the cells ((dT, dcos), or None) of a points file, checked line by line, and for a file in
    the lepton's momentum (p, dp columns) (p, dp, dT/dp) (``enxs.leptonbins``), else None."""
    from enxs import leptonbins, pointfiles

    def check(c, t, p, d_t, d_p, d_c, rows):
        if (t is None) == (p is None):
            raise CLIError(f"--input {path}: give a T or a p column (the lepton's kinetic energy or momentum), "
                           f"not both")
        width = d_t if p is None else d_p
        if (width is None) != (d_c is None) or (p is not None and d_t is not None):
            raise CLIError(f"--input {path}: cells need both a d{'T' if p is None else 'p'} and a dcos column "
                           f"(or neither)")
        leptonbins.check_points(t if p is None else p, c, None if width is None else (width, d_c), rows,
                                "T" if p is None else "p")

    c, t, p, d_t, d_p, d_c = pointfiles.read_points(path, ("cos",), check=check,
                                                     optional=("T", "p", "dT", "dp", "dcos"))
    if p is None:
        return t, c, None if d_t is None else (d_t, d_c), None
    t, d_t, jacobian = leptonbins.from_momentum(p, d_p, lepton_mass)
    return t, c, None if d_t is None else (d_t, d_c), (p, d_p, jacobian)


def neutrino(
    model: ModelArg, nucleus: Nucleus = None, flavor: Flavor = "numu", energy: EnergyAxis = None,
    flux: FluxFile = None, emax: Emax = None,
    tmu: Annotated[str | None, typer.Option("--tmu", help="Lepton kinetic energy T [GeV]: start:stop:count or a list.")]
    = None,
    cos: Annotated[str | None, typer.Option("--cos", help="cos θ, lepton to beam: start:stop:count or a list.")]
    = None,
    input_: Annotated[Path | None, typer.Option(
        "--input", help="CSV with T [GeV] and cos columns instead of --tmu and --cos; dT and dcos columns average "
                        "each point over its own bin (irregular binnings). With a p [GeV] (and dp) column instead of "
                        "T: d²σ/dp dcos θ in the lepton's momentum. Lines starting with # are comments.")]
    = None,
    total: Annotated[bool, typer.Option("--total", help="σ(E_ν) [cm²] at each --energy, or with --flux its flux "
                                                      "average, instead of d²σ/dT dcos θ.")]
    = False,
    bin_average: Annotated[bool, typer.Option(
        "--bin-average", help="Average each point over its cell (the grid spacing), as binned data are.")] = False,
    cell_points: Annotated[int | None, typer.Option(
        "--cell-points", help="Gauss–Legendre points per side of a cell (with --bin-average or cells in --input; "
                              "default 3, enough for MiniBooNE's bins): raise it to check wider bins at higher "
                              "energies.")] = None,
    axial_mass: AxialMass = 1.03, axial_mass_std: AxialMassStd = 0.0, per: Per = "nucleon", scaling: Scaling = None,
    no_pauli: NoPauli = False, no_coulomb: NoCoulomb = False, transverse_enhancement: Enhanced = False,
    hydrogen: Annotated[int, typer.Option(
        "--hydrogen", min=0, help="Free protons (hydrogen atoms) per nucleus, added for antineutrinos (ν̄ p → l⁺ n, "
                                  "Llewellyn Smith): 1 with 12C for CH, 2 with 16O for water. --per nucleus is then "
                                  "per molecule, --per nucleon per active nucleon of the molecule. At one --energy "
                                  "they need cells (their d²σ/dT dcos θ is a line).")] = 0,
    output: Annotated[Path | None, typer.Option(help="Write .csv, .parquet or .json (by extension).")] = None,
    hepdata: Annotated[Path | None, typer.Option(
        "--hepdata", help="Also write a HEPData submission into this new (or empty) directory.")] = None,
    ratio_to: Annotated[str | None, typer.Option(
        "--ratio-to", help="With --total at --energy values: σ of --flavor over σ of this flavour (e.g. --flavor nue "
                           "--ratio-to numu), member by member, so that what both share cancels and the band is the "
                           "ratio's own.")] = None,
    overwrite: Overwrite = False, threads: Threads = None, members: MembersOut = None,
) -> None:
    """Charged-current quasielastic neutrino cross sections d²σ/dT dcos θ [cm²/GeV] (or σ(E_ν) [cm²]) with the
    ensemble's band, per active nucleon: the model's learned scaling function in the relativistic Fermi-gas
    CCQE kernel (superscaling). The band holds the scaling function's spread (and M_A's with --axial-mass-std),
    not the form factors'. Points taking half their cross section or more from (q, ω) where no electron data at
    several angles constrain the responses, or through f_T where the quasielastic part is below 25% of the
    model's electron R_T, are flagged (outside_coverage, beside unconstrained_share).
    Not included: two-nucleon (2p2h) knockout (but as the transverse enhancement, with --transverse-enhancement),
    pion production and absorption, final-state interactions beyond what the scaling function holds."""
    from enxs import pointfiles

    check_table_output(output, overwrite)
    check_table_output(members, overwrite, "--members")
    if hepdata is not None:
        from enxs.hepdata import check_ready

        if ratio_to is not None:
            raise CLIError("--hepdata: a submission of cross sections, not of a --ratio-to ratio")
        check_ready(hepdata, "--hepdata")
    result = compute(model, nucleus, flavor, energy, flux, emax, tmu, cos, total, axial_mass, per, scaling,
                     bin_average, not no_pauli, axial_mass_std, input_, not no_coulomb, transverse_enhancement,
                     cell_points, hydrogen, ratio_to, threads)
    frame = result.to_frame()
    if members is not None:
        pointfiles.write_members(result.points, result.members, members, result.metadata)
        say(f"{len(result.members)} members' predictions written to {members}")
    if hepdata is not None:
        from enxs.hepdata import write_neutrino_submission

        write_neutrino_submission(result, hepdata)
        say(f"HEPData submission written to {hepdata} (with submission.tar.gz)")
    if output is None and hepdata is not None:
        return
    if output is None:
        table = Table(title=escape(f"{result.metadata['nucleus']} — {model} — {result.metadata['quantity']} "
                                   f"({result.metadata['convention']})"))
        for column in frame.columns:
            table.add_column(escape(column), justify="right")
        print_rows(table, frame, lambda row: [f"{v:.5g}" for v in row])
        say(f"not included: {result.metadata['not_included']}")
        return
    pointfiles.write_table(frame, output, result.metadata)
    say(f"{len(frame)} point(s) written to {output}")


def total_or_ratio(ensemble, target, energies, flavor: str, ratio_to: str | None, **options):
    """σ(E_ν) of ``flavor`` (``neutrino.total_cross_section`` with ``options``), or with ``ratio_to`` its ratio to
    that flavour's, member by member (``neutrino.flavor_ratio``); a progress bar for each flavour."""
    from enxs import neutrino

    sigma = []
    for which in (flavor, ratio_to) if ratio_to else (flavor,):
        with progress_bar(f"σ(E_ν) of {which} on {target.name}", "energy", transient=True) as update:
            sigma.append(neutrino.total_cross_section(ensemble, target, energies, flavor=which, on_energy=update,
                                                      **options))
    return neutrino.flavor_ratio(*sigma) if ratio_to else sigma[0]


def plot_neutrino(model: str, nucleus: str | None, flavor: str, energy: float | None, flux: Path | None,
                  emax: float | None, cos: str | None, total: bool, output: Path, enhanced: bool = False,
                  hydrogen: int = 0, ratio_to: str | None = None) -> None:
    """d²σ/dT dcos θ against T in slices of cos θ (one band each), or σ(E_ν) with its band (with ``ratio_to``: σ of
    ``flavor`` over that flavour's, member by member, from 0.2 GeV, above every muon threshold); with ``enhanced``
    f_T times the model's transverse enhancement; with ``hydrogen`` free protons per nucleus (per active nucleon of
    the molecule)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from enxs import leptonbins
    from enxs.cli.plot import save_figure
    from enxs.cli.use import choose_nucleus, load

    chosen = choose_nucleus(model, nucleus)  # a mistyped model, nucleus, flavour or value: refused before torch
    lepton_mass = leptonbins.lepton_mass(flavor, "--neutrino")  # GeV
    low = 0.1 if ratio_to is None else 0.2  # E_ν [GeV] where σ(E_ν) (a ratio: above every muon threshold) starts
    if ratio_to is not None:
        leptonbins.lepton_mass(ratio_to, "--ratio-to")
    if emax is not None and not low < emax < np.inf:
        raise CLIError(f"--emax {emax:g}: must be finite and > {low:g} GeV")
    if energy is not None and not 0 < energy < np.inf:
        raise CLIError(f"--energy {energy:g}: a neutrino energy must be finite and > 0 GeV")
    if not total:
        table = _flux_table(energy, flux, flavor, emax)
        slices = parse_values(cos or "0.95,0.8,0.6,0.3,0.0", "--cos")
        top = energy if energy is not None else (emax or 2.0)  # E_ν [GeV]
        t_max = 0.98 * (top - lepton_mass)
        if t_max <= 0.02:
            raise CLIError(f"E_nu = {top:g} GeV: too low to make the charged lepton of {flavor}")
        t_values = np.linspace(0.02, t_max, 80)
        t, c = np.meshgrid(t_values, slices, indexing="ij")
        leptonbins.check_points(t.ravel(), c.ravel())
    ensemble, target = load(model, nucleus, chosen=chosen)
    from enxs import neutrino, neutrinorequest, plots

    symbol = neutrinorequest.FLAVOR_SYMBOLS
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    with warnings_on_screen():
        if total:
            wide = (emax or 3.0) > 5.0 or ratio_to is not None  # a logarithmic E_ν axis: the rise below 1 GeV shows
            x = np.geomspace(low, emax or 3.0, 60) if wide else np.linspace(low, emax or 3.0, 40)
            result = total_or_ratio(ensemble, target, x, flavor, ratio_to, transverse_enhancement=enhanced,
                                    hydrogen=hydrogen)
            scale = 1.0 if ratio_to else 1e38
            q16, q84 = result.quantiles()
            plots.band(ax, x, scale * result.mean, scale * q16, scale * q84, f"{model} (mean, 16–84%)")
            plots.mark_extrapolation(ax, x, scale * result.mean, result.outside_coverage)
            ax.set_xlabel("E_ν [GeV]")
            if wide:
                from matplotlib.ticker import FormatStrFormatter, NullFormatter

                ax.set_xscale("log")
                ax.set_xticks([t for t in (0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10, 20, 50) if x[0] <= t <= x[-1]])
                ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_ylabel(f"σ({symbol[flavor]})/σ({symbol[ratio_to]}), member by member" if ratio_to
                          else "σ per active nucleon [10⁻³⁸ cm²]")
        else:
            result = neutrino.double_differential(ensemble, target, t.ravel(), c.ravel(), flavor=flavor,
                                                  energy=energy, flux=table, transverse_enhancement=enhanced,
                                                  hydrogen=hydrogen)
            mean, outside = result.mean.reshape(t.shape), result.outside_coverage.reshape(t.shape)
            q16, q84 = (q.reshape(t.shape) for q in result.quantiles())
            for j, value in enumerate(slices):
                plots.band(ax, t_values, 1e39 * mean[:, j], 1e39 * q16[:, j], 1e39 * q84[:, j], f"cos θ = {value:g}")
                plots.mark_extrapolation(ax, t_values, 1e39 * mean[:, j], outside[:, j])
            ax.set_xlabel("T [GeV] (the charged lepton's kinetic energy)")
            ax.set_ylabel("d²σ/dT dcos θ per active nucleon [10⁻³⁹ cm²/GeV]")
    if ratio_to is None:
        ax.set_ylim(bottom=0)
    where = f"E_ν = {energy:g} GeV" if energy is not None and not total else ("flux-averaged" if flux else "")
    plus = " with its transverse enhancement" if enhanced else ""
    name = target.name + (f" + {hydrogen} H" if hydrogen else "")  # the molecule: per its active nucleons
    what = symbol[flavor] + (f"/{symbol[ratio_to]}" if ratio_to else "")
    ax.set_title(f"{name}: CCQE {what}{' ' + where if where else ''} ({model}{plus}; mean, 16–84%)", fontsize=9)
    plots.legend(ax, fontsize=7)
    save_figure(fig, output, f"; not included: {result.metadata['not_included']}")
