"""ONNX export: files with the interface of NuWro's published electron ensembles.

Interface (NuWro, github.com/NuWro/nuwro pull request 53): one float32 file per member; input ``input``
[N, 5] = [E/20, ω/20, θ/180, cos θ, Q²/100]; output ``Identity:0`` [N, 1] = y, and
σ = y · S(E, θ) nb/sr/GeV. Files ``model_electron_A_<A>_<i>.onnx`` in ``<Symbol><A>/``
(``C12``, ``Fe56``); NuWro averages the members' outputs.

Each member's graph is traced from torch (``enxs.onnx_trace``): the input standardization, batch norm
and a nucleus' constants folded into the layers, every factor of the model (A/12 of a transferred
model, the nucleus') in one final ``Mul``, the output written 1/(1 + exp(−z)) because
onnxruntime's ``Sigmoid`` kernel is approximate. A model-B network (MC dropout) is exported
deterministically, dropout off: NuWro's ONNX inference has no dropout sampling, so a fixed file
cannot carry its spread; export an ensemble (model A) for that.

A model with responses (``model.output`` responses or superscaling) exports the same NuWro
interface, the Rosenbluth sum inside the graph; with ``responses=True`` it exports the responses
themselves instead: input [N, 2] = (q, ω) in GeV, output ``responses`` [N, 2] = (R_L, R_T) in
GeV⁻¹ per nucleus.

(Import: ``onnx_import``.)
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from enxs import __version__, coulomb, coverage, kinematics, onnx_trace
from enxs.descriptors import N_KINEMATIC, inputs, nucleus_factor
from enxs.errors import EnxsError
from enxs.files import check_output_directory
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble
from enxs.responses import member_responses
from enxs.zeroshot import member_factors

INPUT, OUTPUT, OPSET = "input", "Identity:0", 17
IR_VERSION = 8  # the published members': onnxruntime 1.18 (the oldest enxs supports) reads IR ≤ 10
RESPONSES_OUTPUT = "responses"


class OnnxFormatError(EnxsError):
    """An ONNX file that is not a network of the supported NuWro form."""


def member_graph(model: EnsembleNet, k: int, name: str, nucleus: Nucleus | None = None,
                 responses: bool = False) -> onnx.ModelProto:
    """The float32 ONNX model of member k with NuWro's interface, traced from torch
    (``enxs.onnx_trace``): a model with nucleus inputs for ``nucleus``, its constants folded in.
    With ``responses`` (models with responses only) the graph is (q, ω) [N, 2] in GeV → (R_L, R_T)
    [N, 2] in GeV⁻¹ per nucleus."""
    if responses and not model.is_response:
        raise OnnxFormatError("only a response model (model.output=responses) has an R_L, R_T graph")
    return onnx_trace.member_graph(model, k, name, nucleus, responses, INPUT,
                                   RESPONSES_OUTPUT if responses else OUTPUT, OPSET, IR_VERSION)


#: The self-check compares onnxruntime's y with enxs's: |Δy| ≤ CHECK_TOLERANCE · max(|y|, floor), relative where
#: y is above the floor and absolute where it underflows toward 0; floor = CHECK_FLOOR × the file's largest |y|
#: (at least CHECK_FLOOR): float32 tails of responses 10⁻⁷ below their peak are not held to 10⁻⁴ relative.
CHECK_TOLERANCE = 1e-4
CHECK_FLOOR = 1e-6
#: A network whose float32 evaluation is itself further than CHECK_TOLERANCE from its float64 one (a deep, wide
#: network at some points: the published 10×300 members up to 1.3e-4) is held to this many times that distance.
ROUNDING_SLACK = 2.0


def _floor(reference: np.ndarray) -> float:
    """The self-check's floor: ``CHECK_FLOOR`` × the largest |reference|, at least ``CHECK_FLOOR``."""
    return CHECK_FLOOR * max(1.0, float(np.abs(reference).max(initial=0.0)))


def relative_difference(values: np.ndarray, reference: np.ndarray) -> float:
    """max |values − reference| / max(|reference|, floor) with the self-check's floor (``_floor``)."""
    return float(np.max(np.abs(values - reference) / np.maximum(np.abs(reference), _floor(reference)), initial=0.0))


def check_member(path: Path, features: np.ndarray, reference: np.ndarray,
                 tolerance: float = CHECK_TOLERANCE) -> tuple[float, float]:
    """Run one ONNX file with onnxruntime against enxs's output (y [N], or R_L, R_T [N, 2]) on
    the same inputs, within ``tolerance`` (relative above the floor, absolute below it).

    Returns (max |Δy|, max |Δy|/y over values above the floor); raises
    :class:`OnnxFormatError` naming the file and the worst point beyond the tolerance.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = session.run(None, {INPUT: features})[0].reshape(-1).astype(np.float64)
    reference = reference.reshape(-1).astype(np.float64)
    diff = np.abs(y - reference)
    floor = _floor(reference)
    excess = diff / (tolerance * np.maximum(np.abs(reference), floor))
    if not np.all(np.isfinite(y)) or excess.max() > 1:
        i = int(np.nanargmax(np.where(np.isfinite(excess), excess, np.inf)))
        raise OnnxFormatError(f"{path}: onnxruntime gives y={y[i]:.6g} where enxs gives {reference[i]:.6g} "
                              f"(point {i}; tolerance {tolerance:.3g} relative, absolute below y={floor:g})")
    above = np.abs(reference) > floor
    return float(diff.max()), float(np.max(diff[above] / np.abs(reference[above]), initial=0.0))


def export(model: EnsembleNet, nucleus: Nucleus, out: Path, weights_sha256: str = "", check_count: int = 2000,
           seed: int = 0, responses: bool = False, zero_shot_note: str | None = None,
           training_coverage: dict | None = None) -> dict[str, Any]:
    """Write one ONNX file per member (IR version 8, opset 17, as the published members: older
    onnxruntime builds linked into generators refuse newer IR) to ``out/<Symbol><A>/`` (or to
    ``out`` itself when it is named so) and check each with onnxruntime; with ``responses`` (a
    response model), the (q, ω) → (R_L, R_T) graphs ``response_A_<A>_<i>.onnx`` to
    ``out/<Symbol><A>-responses/``. ``zero_shot_note``: the model has no data of ``nucleus``
    (``Ensemble.zero_shot_note``), said in the sidecar ``enxs-export.json``, as is ``training_coverage``
    (``export_ensemble``: the coverage rule, the training settings, and why every point is outside, if it is).

    The directory must not exist yet (or be empty): files are written to a staging
    directory, checked on random physical points (:func:`check_member`) against enxs's float64 prediction within
    ``CHECK_TOLERANCE``, or ``ROUNDING_SLACK`` times the network's own float32 rounding where that is larger
    (~1e-5 relative for the fast preset, up to 8e-5 for the published 10×300 members; response graphs: against
    enxs's float32 responses within ``CHECK_TOLERANCE``), and moved into place only when every member passes.
    Returns a summary with the files and the worst differences.
    """
    if responses and not model.is_response:
        raise OnnxFormatError("--responses needs a response model (model.output=responses); for a cross-section "
                              "model use enxs responses, which separates R_L and R_T by a Rosenbluth fit")
    out, name = Path(out), nucleus.nuwro_dir + ("-responses" if responses else "")
    directory = out if out.name == name else out / name
    # a new --out needs its parent (a file is refused); in an existing one, the member directory must be new or empty
    check_output_directory(out if directory != out and not out.is_dir() else directory, "--out")
    mode = model.config.nucleus_inputs
    energy, theta, omega = kinematics.random_points(check_count, seed)
    if responses:
        q = kinematics.three_momentum_transfer(energy, theta, omega)
        features = np.ascontiguousarray(np.stack([q, omega], axis=1).astype(np.float32))
        reference = member_responses(model, *features.astype(np.float64).T, nucleus)  # [K, N, 2], the same inputs
        tolerance, reference_name = CHECK_TOLERANCE, "enxs's float32 responses"
    else:
        features = inputs(mode, energy, theta, omega, nucleus if mode != "none" else None).astype(np.float32)
        with torch.inference_mode():
            single = model.eval()(torch.as_tensor(features)).numpy().astype(np.float64)
            exact = copy.deepcopy(model).double().eval()(torch.as_tensor(features, dtype=torch.float64)).numpy()
        reference = exact * nucleus_factor(mode, nucleus) * member_factors(model, nucleus)
        tolerance = max(CHECK_TOLERANCE, ROUNDING_SLACK * max(relative_difference(s, e) for s, e in zip(single, exact,
                                                                                                   strict=True)))
        reference_name = "enxs in float64"
        features = np.ascontiguousarray(features[:, :N_KINEMATIC])
    directory.parent.mkdir(exist_ok=True)
    files, worst_abs, worst_rel = [], 0.0, 0.0
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=f".{directory.name}.") as tmp:
        staging = Path(tmp) / directory.name
        staging.mkdir()
        for k in range(model.members):
            path = staging / f"{'response' if responses else 'model_electron'}_A_{nucleus.A}_{k}.onnx"
            path.write_bytes(member_graph(model, k, f"enxs_{nucleus.name}_member_{k}", nucleus,
                                          responses).SerializeToString())
            diff_abs, diff_rel = check_member(path, features, reference[k], tolerance)
            worst_abs, worst_rel = max(worst_abs, diff_abs), max(worst_rel, diff_rel)
            files.append(path.name)
        interface = ({"input": "input [N, 2] = [q, ω] (GeV)",
                      "output": f"{RESPONSES_OUTPUT} [N, 2] = [R_L, R_T] (GeV⁻¹, per nucleus), final: every "
                                f"factor of the model is inside the graph",
                      "cross_section": "σ = σ_Mott (v_L R_L + v_T R_T) nb/sr/GeV, σ_Mott = (ħc)² α² cos²(θ/2)/(4E² "
                                       "sin⁴(θ/2)), v_L = (Q²/q²)², v_T = Q²/2q² + tan²(θ/2); no Coulomb "
                                       "correction"} if responses else
                     {"input": f"{INPUT} [N, 5] = [E/20, ω/20, θ/180, cos θ, Q²/100] (E, ω in GeV, θ in degrees, "
                               f"Q² in GeV²)",
                      "output": f"{OUTPUT} [N, 1] = y; every factor of the model (its A/A_parent scaling, the "
                                f"nucleus) is already inside the graph",
                      "cross_section": "σ = y × S(E, θ) nb/sr/GeV, S = 1e9 cos²(θ/2)/(137² E cos(θ/2) 4E² "
                                       "sin⁴(θ/2)); multiply y by S only, by nothing else"})
        summary = {"enxs_version": __version__, "nucleus": nucleus.name, "members": model.members,
                   "zero_shot": zero_shot_note is not None,
                   "coulomb_correction": coulomb.note(nucleus, model.is_structured),
                   **({"zero_shot_note": zero_shot_note} if zero_shot_note else {}),
                   **({"training_coverage": training_coverage} if training_coverage else {}),
                   "onnx_ir_version": IR_VERSION, "opset": OPSET, "dtype": "float32", **interface,
                   "ensemble": "one file per member: the prediction is the mean over members, its uncertainty the "
                               "sample standard deviation over members (ddof = 1)",
                   "source_weights_sha256": weights_sha256,
                   "check": {"points": check_count, "max_abs_diff": worst_abs, "max_rel_diff": worst_rel,
                             "reference": reference_name, "tolerance": tolerance,
                             "floor": f"{CHECK_FLOOR:g} × the largest |y| of each file, at least {CHECK_FLOOR:g}"},
                   "files": files}
        (staging / "enxs-export.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        if directory.exists():
            directory.rmdir()  # empty (checked above)
        staging.rename(directory)
    return {**summary, "directory": str(directory), "max_abs_diff": worst_abs, "max_rel_diff": worst_rel}


def export_ensemble(ensemble, out: str | Path, nucleus: str | Nucleus | None = None,
                    responses: bool = False) -> dict[str, Any]:
    """:func:`export` for an :class:`enxs.predict.Ensemble` (or a model name or path, loaded): its members
    for ``nucleus`` (its own, or any for a model of several), zero-shot said in the sidecar where it has
    no such data."""
    ensemble = Ensemble.of(ensemble)
    target = ensemble.target(nucleus)
    settings = ensemble.training_settings(target, responses=responses)
    reason = ensemble.everywhere_outside(target)
    training_coverage = {"rule": coverage.rule(responses), "settings [E GeV, theta deg, omega_min GeV, omega_max GeV]":
                         settings or [], **({"every_point_outside": reason} if reason else {})}
    return export(ensemble.model, target, Path(out), ensemble.manifest.weights_sha256, responses=responses,
                  zero_shot_note=ensemble.zero_shot_note(target) if ensemble.zero_shot(target) else None,
                  training_coverage=training_coverage)
