"""The neutrino study (``enxs reproduce --studies neutrino``): an electron model's CCQE prediction
against MiniBooNE's measurement on carbon (Phys. Rev. D 81, 092005 (2010)), beside the relativistic
Fermi gas and superscaling with the phenomenological f₀ computed by the same code; σ(E_ν) for
¹²C, ¹⁶O and ⁴⁰Ar (ν_μ, ν̄_μ, ν_e and ν̄_e; a one-nucleus model: its own nucleus) with bands, written as tables
a generator can read, and the flavour ratios σ(ν_e)/σ(ν_μ), σ(ν̄_e)/σ(ν̄_μ) member by member. With the physics-
structured model, also with its transverse enhancement (``modelscaling.transverse_enhancement``): MiniBooNE counted
two-nucleon knockout as signal.

MiniBooNE's files (a directory with ``d2sigma_ccqe.txt``, ``d2sigma_ccqe_shape_error.txt`` and
``flux_neutrino_mode.txt``): 20 cos θ_μ rows (−1 to 1) × 18 T_μ columns (0.2 to 2.0 GeV), in
10⁻⁴¹ cm²/GeV per neutron; shape errors in 10⁻⁴² cm²/GeV; zeros are bins without a measurement.
The comparison: the data/model normalization k = Σ d p/e² / Σ p²/e², the shape χ²/ndf =
Σ (d − k p)²/e² / (n − 1) with the published shape errors e, and the band's coverage, the share of
bins whose data/k lie within the model's 16–84% band widened by the data's error.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from enxs import leptonbins, modelscaling, neutrino, neutrinorequest
from enxs.context import DEFAULT_CONTEXT, Context
from enxs.errors import EnxsError
from enxs.flux import Flux, read_flux
from enxs.pointfiles import write_table
from enxs.predict import Ensemble

REPORT = "neutrino.md"
FIGURES = ("neutrino-miniboone.png", "neutrino-sigma.png")
NUCLEI = ("12C", "16O", "40Ar")  # σ(E_ν) tables: these, or a one-nucleus model's own
TABLES = tuple(f"neutrino-sigma-{n}.csv" for n in NUCLEI)
REPORT_FILES = (REPORT, *FIGURES, *TABLES)
T_CENTRES = 0.25 + 0.1 * np.arange(18)  # GeV
COS_CENTRES = -0.95 + 0.1 * np.arange(20)
EMAX = 3.0  # GeV: the measurement's range
ENERGIES = np.linspace(0.2, 3.0, 29)  # GeV, for σ(E_ν): steps of 0.1 GeV
SHOWN = [2, 8, 14, 28]  # 0.4, 1.0, 1.6 and 3.0 GeV in the report
SLICES = (0.95, 0.85, 0.75, 0.55, 0.35, 0.05)  # cos θ_μ bin centres drawn
FLAVORS = tuple(leptonbins.FLAVORS)
MUON_FLAVORS = FLAVORS[:2]  # compared with the Fermi gas and drawn; the electron flavours' σ is shown as a ratio
RATIO_SHOWN = [0, 1, 2, 4, 8]  # 0.2, 0.3, 0.4, 0.6 and 1.0 GeV
LABELS = {"LT": "f_L/f_T", "T": "f_T", "L": "f_L"}  # the model's scaling functions (modelscaling.scaling_choice)


class MiniBooNEError(EnxsError):
    """MiniBooNE's files are missing or not in their published layout."""


def default_directory(context: Context = DEFAULT_CONTEXT) -> Path:
    """MiniBooNE's directory: $ENXS_NEUTRINO_DIR, else ``neutrino/miniboone-ccqe`` beside the context's QES archive."""
    import os

    if os.environ.get("ENXS_NEUTRINO_DIR"):
        return Path(os.environ["ENXS_NEUTRINO_DIR"])
    return context.archive_dir.parent / "neutrino" / "miniboone-ccqe"


def load_miniboone(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """(d²σ, shape error) [20, 18] in cm²/GeV per neutron from MiniBooNE's published files."""
    try:
        data = np.loadtxt(directory / "d2sigma_ccqe.txt") * 1e-41
        error = np.loadtxt(directory / "d2sigma_ccqe_shape_error.txt") * 1e-42
    except (OSError, ValueError) as exc:
        raise MiniBooNEError(f"{directory}: MiniBooNE's CCQE files cannot be read ({exc})") from None
    if data.shape != (20, 18) or error.shape != (20, 18):
        raise MiniBooNEError(f"{directory}: expected 20 cos θ × 18 T_μ bins, found {data.shape}")
    return data, error


def compare(data, error, prediction: neutrino.NeutrinoPrediction) -> dict[str, float]:
    """Normalization, shape χ²/ndf and band coverage of a [20·18] prediction (module docstring); of a model, the
    bins flagged and the share of the predicted cross section over the bins from unconstrained (q, ω)."""
    use = (data > 0) & (error > 0)

    def used(values: np.ndarray) -> np.ndarray:  # the prediction's grid runs over T, then cos; the data's over cos
        return values.reshape(18, 20).T[use]

    q16, q84 = (used(q) for q in prediction.quantiles())
    d, e, p = data[use], error[use], used(prediction.mean)
    k = float(np.sum(d * p / e**2) / np.sum(p * p / e**2))
    chi2 = float(np.sum((d - k * p) ** 2 / e**2) / (use.sum() - 1))
    inside = (d / k >= q16 - e / k) & (d / k <= q84 + e / k)
    flagged = unconstrained = None
    if prediction.outside_coverage is not None:
        flagged = int(used(prediction.outside_coverage).sum())
        unconstrained = float(np.sum(p * used(prediction.unconstrained_share)) / np.sum(p))
    return {"norm": k, "chi2": chi2, "coverage": float(inside.mean()), "bins": int(use.sum()), "flagged": flagged,
            "unconstrained": unconstrained}


def load_inputs(directory: Path) -> tuple[np.ndarray, np.ndarray, Flux]:
    """MiniBooNE's d²σ and shape error (``load_miniboone``) and its ν_μ flux up to ``EMAX``."""
    data, error = load_miniboone(directory)
    return data, error, read_flux(directory / "flux_neutrino_mode.txt", "numu", EMAX)


def write_report(model: str, out: Path, miniboone: Path) -> Path:
    """Run the comparisons and write ``out/neutrino.md`` with its figures and tables."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data, error, flux = load_inputs(miniboone)
    ensemble = Ensemble.load(model)
    t, c = (a.ravel() for a in np.meshgrid(T_CENTRES, COS_CENTRES, indexing="ij"))
    nuclei = NUCLEI if ensemble.manifest.nucleus is None else (ensemble.manifest.nucleus.name,)
    rows, predictions, timings = [], {}, {}
    default = modelscaling.scaling_choice(ensemble, None)  # a response network has f_L alone
    default_name = f"enxs {model}, {LABELS[default]} (default)"
    enhanced = default == "LT"  # the structured model: its transverse enhancement too
    enhanced_name = f"enxs {model}, {LABELS[default]} with the transverse enhancement"
    variants = {default_name: (ensemble, default, True, False),
                **({enhanced_name: (ensemble, default, True, True),
                    f"enxs {model}, f_T": (ensemble, "T", True, False),
                    f"enxs {model}, f_L": (ensemble, "L", True, False)} if enhanced else {}),
                f"enxs {model}, {LABELS[default]}, muon a plane wave (no Coulomb)": (ensemble, default, False, False),
                "relativistic Fermi gas": (None, "RFG", True, False),
                "superscaling with f₀ (Amaro et al. 2005)": (None, "f0", True, False)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (source, which, coulomb, te) in variants.items():
            for cell in (None, (0.1, 0.1)):
                start = time.perf_counter()
                p = neutrino.double_differential(source, "12C", t, c, flux=flux, cell=cell, scaling=which,
                                                 coulomb=coulomb, transverse_enhancement=te)
                timings[(name, cell)] = time.perf_counter() - start
                predictions[(name, cell)] = p
                rows.append({"name": name, "binned": cell is not None, **compare(data, error, p)})
        sigma = {}
        for nucleus in nuclei:
            for flavor in FLAVORS:
                start = time.perf_counter()
                sigma[(nucleus, flavor)] = neutrino.total_cross_section(ensemble, nucleus, ENERGIES, flavor=flavor)
                timings[(nucleus, flavor)] = time.perf_counter() - start
                if flavor in MUON_FLAVORS:
                    sigma[(nucleus, flavor, "RFG")] = neutrino.total_cross_section(None, nucleus, ENERGIES,
                                                                                   flavor=flavor)
                if flavor in MUON_FLAVORS and enhanced:
                    sigma[(nucleus, flavor, "TE")] = neutrino.total_cross_section(ensemble, nucleus, ENERGIES,
                                                                                  flavor=flavor,
                                                                                  transverse_enhancement=True)
    _figure_miniboone(plt, data, error, predictions, model, default_name, out / FIGURES[0],
                      enhanced_name if enhanced else None)
    _figure_sigma(plt, sigma, out / FIGURES[1])
    for nucleus, name in zip(NUCLEI, TABLES, strict=True):
        if nucleus not in nuclei:
            (out / name).unlink(missing_ok=True)  # an earlier run's, of another model: not this report's
            continue
        first, *others = (sigma[(nucleus, flavor)].to_frame().set_index("E_nu_GeV").rename(
            columns=lambda k, f=flavor: k.replace("_cm2", f"_{f}_cm2") if k.endswith("_cm2") else f"{k}_{f}")
            for flavor in FLAVORS)
        frame = first.join(others).reset_index()
        notes = {f: sigma[(nucleus, f)].metadata["coulomb_correction"] for f in FLAVORS}  # l⁻, l⁺: two final nuclei
        meta = {**sigma[(nucleus, "numu")].metadata, "quantity": "charged-current quasielastic sigma(E_nu) [cm^2]",
                "convention": "per active nucleon: per neutron for numu and nue, per proton for numubar and nuebar",
                "coulomb_correction": "; ".join(f"{', '.join(f for f in FLAVORS if notes[f] == note)}: {note}"
                                                for note in dict.fromkeys(notes.values()))}
        write_table(frame, out / name, meta)
    return _write_markdown(out, model, ensemble, rows, timings, sigma, nuclei, default_name, enhanced)


def _write_markdown(out: Path, model, ensemble, rows, timings, sigma, nuclei, default: str, enhanced: bool) -> Path:
    enhancement = (f" With the transverse enhancement (`--transverse-enhancement`): {modelscaling.ENHANCEMENT_NOTE}; "
                   f"what is then not included: {neutrinorequest.NOT_INCLUDED_ENHANCED}." if enhanced else "")
    lines = ["# enxs neutrino study: CCQE from the electron model", "",
             f"Model `{model}` ({ensemble.members} members): its learned scaling function in the relativistic "
             "Fermi-gas CCQE kernel (`enxs.ccqe`; M_A = 1.03 GeV, Pauli blocking, the muon's Coulomb distortion in the "
             "modified effective-momentum approximation unless said otherwise), flux-averaged over MiniBooNE's "
             f"ν_μ flux below {EMAX:g} GeV. Not included: {neutrinorequest.NOT_INCLUDED}. One-nucleon knockout alone "
             "is known to fall 20–30% below these data (attributed to 2p2h, which MiniBooNE counted as signal): a "
             f"data/model normalization above 1 is expected, and is not tuned away.{enhancement}", "",
             "## MiniBooNE CCQE d²σ/dT_μ dcos θ_μ on carbon (PRD 81, 092005)", "",
             "| prediction | at | data/model normalization | shape χ²/ndf | band coverage | bins | flagged | "
             "unconstrained share |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {'bin-averaged' if r['binned'] else 'bin centres'} | {r['norm']:.2f} | "
                     f"{r['chi2']:.2f} | {r['coverage']:.0%} | {r['bins']} | "
                     f"{'—' if r['flagged'] is None else r['flagged']} | "
                     f"{'—' if r['unconstrained'] is None else format(r['unconstrained'], '.1%')} |")
    lines += ["", "Shape χ² with the published (diagonal) shape errors after the fitted normalization; band "
              "coverage: bins whose data/normalization lie within the 16–84% band widened by the data's error "
              "(one member for the baselines: a band of zero width); flagged: bins taking half or more of their cross "
              f"section {neutrinorequest.unconstrained_rule(default)} (`outside_coverage`); unconstrained share: the "
              "share of the predicted cross section over the bins from there (`unconstrained_share`, weighted by "
              "each bin's). Figure: "
              "`neutrino-miniboone.png`.", "",
              "## σ(E_ν) per active nucleon [10⁻³⁸ cm²] (mean ± std over members; RFG by the same code"
              + ("; TE: with the transverse enhancement)" if enhanced else ")"), "",
              "| nucleus | flavour | " + " | ".join(f"{e:.1f} GeV" for e in ENERGIES[SHOWN]) + " |",
              "|---|---|---|---|---|---|"]
    for (nucleus, flavor, *variant), p in sigma.items():
        if flavor in MUON_FLAVORS:
            cells = (f"{1e38 * p.mean[i]:.3f}" + ("" if variant == ["RFG"] else f" ± {1e38 * p.std[i]:.3f}")
                     for i in SHOWN)
            lines.append(f"| {nucleus} | {flavor}{''.join(f' ({v})' for v in variant)} | " + " | ".join(cells) + " |")
    lines += ["", "## σ(ν_e)/σ(ν_μ) and σ(ν̄_e)/σ(ν̄_μ), member by member (mean ± std over members)", "",
              "What an appearance measurement takes from a ν_μ one: each member's ratio, so that what the members "
              "share cancels (the kinematics of the lepton's mass and its Coulomb distortion make the ratio). The band "
              "holds the scaling functions' spread only: not the uncertainties of the form factors or of radiative "
              "corrections, which act on ν_e and ν_μ differently (Day and McFarland, PRD 86, 053003 (2012)).", "",
              "| nucleus | ratio | " + " | ".join(f"{e:.1f} GeV" for e in ENERGIES[RATIO_SHOWN]) + " |",
              "|---|---|" + "---|" * len(RATIO_SHOWN)]
    for nucleus in nuclei:
        for electron, muon in (("nue", "numu"), ("nuebar", "numubar")):
            ratio = neutrino.flavor_ratio(sigma[(nucleus, electron)], sigma[(nucleus, muon)])
            cells = (f"{ratio.mean[i]:.3f} ± {ratio.std[i]:.3f}" for i in RATIO_SHOWN)
            lines.append(f"| {nucleus} | {electron}/{muon} | " + " | ".join(cells) + " |")
    tables = (t for n, t in zip(NUCLEI, TABLES, strict=True) if n in nuclei)
    lines += ["", f"Tables for generators: {', '.join(f'`{t}`' for t in tables)} ({len(ENERGIES)} energies 0.2–3 "
              "GeV in steps of 0.1 GeV; mean, std, 16/84% quantiles, the share of the mean from (q, ω) outside the "
              "training coverage and the flag for ν_μ, ν̄_μ, ν_e and ν̄_e; units and convention in the header). "
              "Figure: "
              "`neutrino-sigma.png`.", "", "## Speed (this machine)", "",
              f"- flux-averaged 18 × 20 grid, {ensemble.members} members, bin centres: "
              f"{timings[(default, None)]:.1f} s; bin-averaged (3 × 3 points per bin): "
              f"{timings[(default, (0.1, 0.1))]:.1f} s",
              f"- σ(E_ν) at {len(ENERGIES)} energies, {ensemble.members} members: "
              + ", ".join(f"{n} {f} {timings[(n, f)]:.1f} s"
                          for n, f in ((nuclei[0], "numu"), (nuclei[-1], "numubar")))]
    (out / REPORT).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / REPORT


def _figure_miniboone(plt, data, error, predictions, model, default_name: str, path: Path,
                      enhanced_name: str | None) -> None:
    from enxs import plots

    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), sharex=True)
    default = predictions[(default_name, (0.1, 0.1))]
    rfg = predictions[("relativistic Fermi gas", (0.1, 0.1))]
    q16, q84 = (q.reshape(18, 20) for q in default.quantiles())
    mean, fermi = default.mean.reshape(18, 20), rfg.mean.reshape(18, 20)
    enhanced = None if enhanced_name is None else predictions[(enhanced_name, (0.1, 0.1))].mean.reshape(18, 20)
    for ax, cos in zip(axes.ravel(), SLICES, strict=True):
        j = round((cos + 0.95) / 0.1)
        use = data[j] > 0
        ax.errorbar(T_CENTRES[use], 1e39 * data[j][use], yerr=1e39 * error[j][use], fmt="o", ms=3.5, color="k",
                    label="MiniBooNE (shape errors)")
        plots.band(ax, T_CENTRES, 1e39 * mean[:, j], 1e39 * q16[:, j], 1e39 * q84[:, j], f"enxs {model} (16–84%)")
        plots.curve(ax, T_CENTRES, 1e39 * fermi[:, j], "relativistic Fermi gas")
        if enhanced is not None:
            plots.curve(ax, T_CENTRES, 1e39 * enhanced[:, j], "enxs with the transverse enhancement", ls="-.",
                        color="C3")
        ax.set_title(f"{cos - 0.05:.1f} < cos θ_μ < {cos + 0.05:.1f}", fontsize=9)
        ax.set_ylim(bottom=0)
    for ax in axes[1]:
        ax.set_xlabel("T_μ [GeV]")
    for ax in axes[:, 0]:
        ax.set_ylabel("d²σ/dT_μ dcos θ_μ [10⁻³⁹ cm²/GeV/n]")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("ν_μ CCQE on carbon, MiniBooNE flux: bin-averaged predictions, absolute (no normalization fitted)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _figure_sigma(plt, sigma, path: Path) -> None:
    from enxs import plots

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for n, (nucleus, flavor) in enumerate(k for k in sigma if len(k) == 2 and k[1] in MUON_FLAVORS):
        p = sigma[(nucleus, flavor)]
        q16, q84 = p.quantiles()
        drawn = plots.band(ax, ENERGIES, 1e38 * p.mean, 1e38 * q16, 1e38 * q84, f"{nucleus} {flavor}", f"C{n}")
        ax.plot(ENERGIES, 1e38 * sigma[(nucleus, flavor, "RFG")].mean, ls=":", color=drawn["line"].get_color())
        if (nucleus, flavor, "TE") in sigma:
            ax.plot(ENERGIES, 1e38 * sigma[(nucleus, flavor, "TE")].mean, ls="-.", color=drawn["line"].get_color())
    ax.set_xlabel("E_ν [GeV]")
    ax.set_ylabel("σ per active nucleon [10⁻³⁸ cm²]")
    enhanced = ", with its transverse enhancement (dash-dotted)" if any(len(k) == 3 and k[2] == "TE"
                                                                         for k in sigma) else ""
    ax.set_title(f"CCQE σ(E_ν): enxs (bands){enhanced};\nthe Fermi gas (dotted)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
