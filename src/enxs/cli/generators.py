"""``enxs export``, ``import`` and ``tabulate``: files for event generators and archives."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from enxs.cli.common import (
    CLIError,
    DataDir,
    Overwrite,
    Threads,
    make_app,
    progress_bar,
    refuse_unused,
    say,
    warn,
    warnings_on_screen,
)
from enxs.cli.use import ModelArg, Nucleus, load, parse_values, predict_with_warnings
from enxs.files import check_output_directory, check_output_file

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
    ensemble, target = load(model, nucleus)
    from enxs import onnx_io

    if ensemble.zero_shot(target):
        warn(ensemble.zero_shot_note(target))
    summary = onnx_io.export_ensemble(ensemble, out, target, responses=responses)
    say(f"{summary['members']} members written to {summary['directory']} (onnxruntime vs enxs: max |Δy| = "
        f"{summary['max_abs_diff']:.1e}, max relative difference above {onnx_io.CHECK_FLOOR:g} of each file's "
        f"largest: {summary['max_rel_diff']:.1e})")


@export_app.command("genie")
def export_genie(model: ModelArg, out: Annotated[Path, typer.Option(help="New (or empty) output directory.")],
                 nucleus: Nucleus = None,
                 step: Annotated[float, typer.Option(help="Grid step in ω and |q| [GeV].")] = 0.01,
                 highest: Annotated[float, typer.Option("--max", help="Largest ω and |q| [GeV].")] = 2.0,
                 members: Annotated[bool, typer.Option(
                     "--members", help="Also write each member's tables (OUT/members/): the band as universes.")
                 ] = False,
                 scaling: Annotated[str | None, typer.Option(
                     help="LT (default for the physics-structured model), T or L: as enxs neutrino --scaling.")
                 ] = None,
                 axial_mass: Annotated[float, typer.Option(help="Axial mass M_A [GeV].")] = 1.03,
                 transverse_enhancement: Annotated[bool, typer.Option(
                     "--transverse-enhancement", help="Multiply f_T by the model's transverse enhancement TE(q): as "
                                                      "enxs neutrino --transverse-enhancement (not for a QE tensor "
                                                      "beside a separate 2p2h model).")] = False) -> None:
    """The CCQE hadron tensor W^μν(ω, q) [GeV⁻¹ per nucleus] in GENIE's lab-frame table format, for ν (on
    neutrons) and ν̄ (on protons): the ensemble mean, with --members each member; ω is the lepton's energy
    transfer (the nucleus' shift inside: GENIE's Q-value 0). Conventions in OUT/enxs-export.json."""
    ensemble, target = load(model, nucleus)
    from enxs import hadrontensor

    with warnings_on_screen():
        summary = hadrontensor.export(ensemble, target, out, step=step, highest=highest, members=members,
                                      scaling=scaling, axial_mass=axial_mass,
                                      transverse_enhancement=transverse_enhancement)
    each = f" and {summary['members']} members each" if summary["members"] else ""
    say(f"{', '.join(summary['files'])}{each} written to {summary['directory']} ({summary['points']} (ω, q) points; "
        f"{summary['unconstrained']:.0%} of the nonzero ones not constrained by the electron data, marked in "
        f"{target.name}_unconstrained.dat)")


@export_app.command("hepdata")
def export_hepdata(
    model: ModelArg, energy: Annotated[float, typer.Option(help="E [GeV].")],
    angle: Annotated[float, typer.Option(help="θ [deg].")],
    omega: Annotated[str, typer.Option(help="start:stop:count")],
    out: Annotated[Path, typer.Option(help="New (or empty) directory for the HEPData submission.")],
    nucleus: Nucleus = None,
) -> None:
    """A HEPData submission (hepdata_lib) of the prediction at one (E, θ) over ω, with its archive, in OUT."""
    import numpy as np

    from enxs import hepdata, kinematics

    hepdata.check_ready(out)
    w = np.asarray(parse_values(omega))
    kinematics.check_kinematics(energy, angle, w)
    ensemble, target = load(model, nucleus)
    prediction = predict_with_warnings(ensemble, target, energy, angle, w)
    hepdata.write_submission(ensemble, str(model), prediction, out, target.name)
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
    from enxs import artifacts, onnx_import

    check_output_directory(out)
    model, manifest = onnx_import.import_ensemble(directory, nucleus, data_dir)
    if manifest.coverage is None:
        warn(f"no {manifest.name} data in the data directory: the imported model's coverage is unknown, "
             f"and every prediction will be flagged as a possible extrapolation")
    artifacts.save_model(out, model, manifest)
    say(f"imported {model.members} members ({model.config.depth}×{model.config.width}, "
        f"{model.parameter_count():,} parameters each) as {manifest.name} into {out}")


def tabulate(
    model: ModelArg, out: Annotated[Path, typer.Option(help="Grid file: .h5 or .npz.")],
    e_min: Annotated[float | None, typer.Option(help="Lowest E [GeV] (default 0.1).")] = None,
    e_max: Annotated[float | None, typer.Option(help="Highest E [GeV] (default 6).")] = None,
    shape: Annotated[str | None, typer.Option(
        help="Grid nodes in ln E, θ, v (default 128,138,160; v follows ω around the quasielastic peak); "
             "with --responses in q, ω (default 96,200).")] = None,
    responses: Annotated[bool, typer.Option(
        "--responses", help="Tabulate R_L, R_T [GeV⁻¹] (mean, std, 16%, 84%, coverage) on a q × ω grid.")] = False,
    q_min: Annotated[float | None, typer.Option(help="With --responses: lowest q [GeV] (default 0.1).")] = None,
    q_max: Annotated[float | None, typer.Option(help="With --responses: highest q and ω [GeV] (default 2).")] = None,
    nucleus: Nucleus = None, overwrite: Overwrite = False, threads: Threads = None,
) -> None:
    """Precompute mean and std on an (E, θ, ω) grid for generators, with its interpolation error
    against the ensemble measured and stored in the file; or (--responses) R_L and R_T on a (q, ω) grid."""
    from enxs.files import atomic_write

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
    refuse_unused({"--e-min": e_min is not None, "--e-max": e_max is not None} if responses else
                  {"--q-min": q_min is not None, "--q-max": q_max is not None},
                  "with --responses (its grid is in q and ω: use --q-min and --q-max)" if responses else
                  "without --responses (they bound its q × ω grid)")
    e_min, e_max = 0.1 if e_min is None else e_min, 6.0 if e_max is None else e_max
    q_min, q_max = 0.1 if q_min is None else q_min, 2.0 if q_max is None else q_max
    if responses and not 0 < q_min < q_max < math.inf:
        raise CLIError(f"--q-min {q_min:g} and --q-max {q_max:g}: need 0 < q-min < q-max, finite (GeV)")
    if not responses and not 0 < e_min < e_max < math.inf:
        raise CLIError(f"--e-min {e_min:g} and --e-max {e_max:g}: need 0 < e-min < e-max, finite (GeV)")
    ensemble, target = load(model, nucleus, threads)
    from enxs import grid

    if responses:
        with warnings_on_screen():
            arrays, meta = grid.build_responses(ensemble, target, (q_min, q_max), dims, ensemble.provenance(target))
        atomic_write(out, lambda path: grid.save_arrays(path, arrays, meta))
        covered = 1 - arrays["outside_coverage"][arrays["q"][:, None] > arrays["omega"][None, :]].mean()
        say(f"responses grid {dims} (q {q_min:g}–{q_max:g} GeV, ω up to {q_max:g} GeV) of {target.name} written to "
            f"{out}: R_L, R_T mean/std/q16/q84 [GeV⁻¹] ({meta['method']}); {covered:.0%} of the physical points "
            f"inside the coverage")
        return
    provenance = ensemble.provenance(target)
    if provenance["zero_shot"]:
        warn(ensemble.zero_shot_note(target))
    with progress_bar(f"tabulating {target.name}", "E node", dims[0]) as update:
        g = grid.build(ensemble, target, (e_min, e_max), shape=dims, meta=provenance, on_energy=update)
    err = grid.interpolation_error(g, ensemble, target)
    g.meta.update(err)
    atomic_write(out, g.save)
    inside = (f"inside the training coverage ({err['interpolation_error_points']} random points): median "
              f"{err['interpolation_error_median']:.2%}, 95% {err['interpolation_error_p95']:.2%}, max "
              f"{err['interpolation_error_max']:.2%}; " if "interpolation_error_p95" in err else "")
    say(f"grid {dims} written to {out}; interpolation error of the mean against the ensemble, {inside}whole grid "
        f"({err['whole_domain_interpolation_error_points']} points): median "
        f"{err['whole_domain_interpolation_error_median']:.2%}, 95% {err['whole_domain_interpolation_error_p95']:.2%},"
        f" max {err['whole_domain_interpolation_error_max']:.2%}; max "
        f"{err['whole_domain_interpolation_error_max_significant']:.2%} where σ is at least {grid.SIGNIFICANT_SHARE:g} "
        f"of its spectrum's peak ({err['whole_domain_interpolation_error_significant_points']} points)")
