"""HEPData submissions (hepdata_lib, an optional extra) of ensemble predictions.

A submission is written into a directory that did not exist before (or was empty): its
YAML files and the ``submission.tar.gz`` that HEPData uploads, nothing anywhere else.
Values keep 6 significant figures (hepdata_lib rounds relatively); the table's metadata
come from the model's manifest, and a dependent variable flags the points outside the
training coverage (extrapolation).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from enxs import __version__
from enxs.errors import EnxsError
from enxs.files import check_output_directory

if TYPE_CHECKING:
    from enxs.predict import Ensemble, Prediction

SIGNIFICANT_DIGITS = 6
INSTALL_HINT = "HEPData export needs hepdata_lib: pip install 'enxs[hepdata]'"


class HepDataError(EnxsError):
    """A HEPData export that cannot be written (missing extra, non-empty output directory)."""


def check_ready(out: Path, option: str = "--out") -> None:
    """Before any work: hepdata_lib installed (else the one-line hint) and ``out`` new or empty."""
    import importlib.util

    if importlib.util.find_spec("hepdata_lib") is None:
        raise HepDataError(INSTALL_HINT)
    check_output_directory(out, option)


def _library(out: Path):
    """hepdata_lib's (Submission, Table, Uncertainty, Variable), once ``out`` is checked (``check_ready``)."""
    check_ready(out)
    from hepdata_lib import Submission, Table, Uncertainty, Variable

    return Submission, Table, Uncertainty, Variable


def write_submission(ensemble: Ensemble, model_name: str, prediction: Prediction, out: Path,
                     nucleus: str | None = None) -> Path:
    """Write the prediction for ``nucleus`` (default: the model's) at one (E, θ) over ω as a
    HEPData submission into ``out``."""
    Submission, Table, Uncertainty, Variable = _library(out)
    m = ensemble.manifest
    energy, theta = float(prediction.energy[0]), float(prediction.theta[0])
    name = nucleus or ensemble.nucleus
    trained_on = ", ".join(r["name"] for r in m.data or [])
    table = Table(f"{name} E={energy:g} GeV theta={theta:g} deg")
    trained = f"trained on {trained_on}" if trained_on else "training data unknown"
    table.description = (
        f"enxs prediction, not a measurement: mean and standard deviation over the {ensemble.members} members "
        f"of the ensemble '{model_name}' ({m.kind}, {trained}) of the "
        f"inclusive electron-{name} cross section d2sigma/dOmega/domega."
        + (f" {ensemble.zero_shot_note(ensemble.target(name))}." if prediction.zero_shot else "")
        + f" Coulomb correction: {ensemble.provenance(ensemble.target(name))['coulomb_correction']}.")
    table.location = (f"enxs {m.enxs_version} model '{model_name}', weights sha256 "
                      f"{m.weights_sha256[:12]}..., exported by enxs {__version__}")
    table.keywords["reactions"] = [f"E {name} --> E X"]
    table.keywords["observables"] = ["D2SIG/DOMEGA/DE"]
    x = Variable("$\\omega$", is_independent=True, is_binned=False, units="GeV")
    x.values = prediction.omega.tolist()
    y = Variable("$d^2\\sigma/d\\Omega d\\omega$", is_independent=False, is_binned=False, units="nb/sr/GeV")
    y.values = prediction.mean.tolist()
    y.add_qualifier("E", energy, "GeV")
    y.add_qualifier("THETA", theta, "DEG")
    unc = Uncertainty("ensemble standard deviation", is_symmetric=True)
    unc.values = prediction.std.tolist()
    y.add_uncertainty(unc)
    flag = Variable("outside training coverage (1: extrapolation)", is_independent=False, is_binned=False)
    flag.values = prediction.outside_coverage.astype(int).tolist()
    for variable in (x, y, flag):
        variable.digits = SIGNIFICANT_DIGITS
        table.add_variable(variable)
    _write(Submission, table, out)
    return out


def write_neutrino_submission(prediction, out: Path) -> Path:
    """Write a neutrino prediction (``enxs.neutrino.NeutrinoPrediction``: d²σ/dT dcos θ over a grid or
    σ(E_ν)) as a HEPData submission into ``out``, its metadata in the description."""
    Submission, Table, Uncertainty, Variable = _library(out)
    meta = prediction.metadata
    table = Table(f"{meta['nucleus']} CCQE {'sigma' if prediction.unit == 'cm2' else 'd2sigma'}")
    table.description = ("enxs prediction, not a measurement: mean and standard deviation over the ensemble's members "
                         "of the " + "; ".join(f"{k}: {v}" for k, v in meta.items()) + ".")
    table.location = f"exported by enxs {__version__}"
    table.keywords["observables"] = ["SIG" if prediction.unit == "cm2" else "D2SIG/DT/DCOSTH"]
    points = prediction.points
    widths = {c: "d" + c for c in points.columns if "d" + c in points.columns}  # a bin per point (``cell``)
    for column in (c for c in points.columns if c not in widths.values()):
        width = widths.get(column)  # a bin is written as its edges
        x = Variable(column, is_independent=True, is_binned=width is not None, units="GeV" if "GeV" in column else "")
        x.values = (points[column].tolist() if width is None else
                    list(zip(points[column] - points[width] / 2, points[column] + points[width] / 2, strict=True)))
        table.add_variable(x)
    y = Variable(meta["quantity"], is_independent=False, is_binned=False,
                 units="cm2" if prediction.unit == "cm2" else "cm2/GeV")
    y.values = prediction.mean.tolist()
    unc = Uncertainty("ensemble standard deviation", is_symmetric=True)
    unc.values = prediction.std.tolist()
    y.add_uncertainty(unc)
    y.digits = SIGNIFICANT_DIGITS
    table.add_variable(y)
    if prediction.outside_coverage is not None:
        share = Variable("share of the mean the electron data do not constrain (unconstrained_share, description)",
                         is_independent=False, is_binned=False)
        share.values = prediction.unconstrained_share.tolist()
        share.digits = SIGNIFICANT_DIGITS
        flag = Variable("unconstrained (1: half of the mean or more)", is_independent=False, is_binned=False)
        flag.values = prediction.outside_coverage.astype(int).tolist()
        for variable in (share, flag):
            table.add_variable(variable)
    _write(Submission, table, out)
    return out


def _write(submission_class, table, out: Path) -> None:
    """The submission of one table, written atomically into ``out`` with its archive."""
    submission = submission_class()
    submission.comment = table.description
    submission.add_table(table)
    out = out.resolve()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        staging = Path(tmp) / "submission"
        with contextlib.chdir(tmp):  # hepdata_lib writes its tar ball into the working directory
            submission.create_files(str(staging), remove_old=False)
        shutil.move(Path(tmp) / "submission.tar.gz", staging / "submission.tar.gz")
        if out.exists():
            out.rmdir()  # empty (checked above)
        staging.rename(out)
