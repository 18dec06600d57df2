"""ONNX export: files with the interface of NuWro's published electron ensembles.

Interface (NuWro, github.com/NuWro/nuwro pull request 53): one float32 file per member; input ``input``
[N, 5] = [E/20, ω/20, θ/180, cos θ, Q²/100]; output ``Identity:0`` [N, 1] = y, and
σ = y · S(E, θ) nb/sr/GeV. Files ``model_electron_A_<A>_<i>.onnx`` in ``<Symbol><A>/``
(``C12``, ``Fe56``); NuWro averages the members' outputs.

Export folds everything enxs adds into that interface: the input standardization into the
first layer's weights and bias, batch norm (evaluation mode) or the affine layer into the
preceding linear layer, and the A/12 factor of a transferred model as a final ``Mul``
(so y = (A/12)·sigmoid(z) stays below 1 on the data but is not bounded by 1 in principle).
An ``exp`` output is exported as ``Exp``. A model-B network (MC dropout) is exported
deterministically, dropout off: NuWro's ONNX inference has no dropout sampling, so a fixed
file cannot carry its spread; export an ensemble (model A) for that.

The sigmoid is written as 1/(1 + exp(−z)) with ``Neg``/``Exp``/``Add``/``Reciprocal``
nodes rather than one ``Sigmoid`` node: onnxruntime's CPU ``Sigmoid`` kernel is a fast
approximation, measured here at up to 9e-4 relative error for y ∈ [1e-4, 1) and exactly 0
for z < −16, while the composed form is within 2e-7 everywhere. Same interface, same
numbers, only accurate.

A response model (``model.output='responses'``) exports the same NuWro interface: the graph
computes q, ω and its network's inputs from the five inputs, then R_L, R_T and
y = (σ_Mott/S)(v_L R_L + v_T R_T) (``Concat``, ``Log``, ``ReduceSum`` nodes besides the
network's). With ``responses=True`` it exports the responses themselves instead: input
[N, 2] = (q, ω) in GeV, output ``responses`` [N, 2] = (R_L, R_T) in GeV⁻¹ per nucleus.

(Import: ``onnx_import``.)
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from enxs import __version__, coulomb, kinematics, onnx_trace
from enxs.descriptors import N_KINEMATIC, Descriptors, describe, inputs, nucleus_factor
from enxs.errors import EnxsError
from enxs.files import check_output_directory
from enxs.network import N_RESPONSE_KINEMATIC, R_UNIT, EnsembleNet
from enxs.nuclei import Nucleus
from enxs.responses import member_responses
from enxs.rosenbluth import MOTT_OVER_S
from enxs.zeroshot import member_factors

INPUT, OUTPUT, OPSET = "input", "Identity:0", 17
IR_VERSION = 8  # the published members': onnxruntime 1.18 (the oldest enxs supports) reads IR ≤ 10
RESPONSES_OUTPUT = "responses"


class OnnxFormatError(EnxsError):
    """An ONNX file that is not a network of the supported NuWro form."""


def folded_layers(model: EnsembleNet, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Member k as affine maps (W [in, out], b [out]) in float64: standardization and norms folded."""
    state = {name: t.detach().double().numpy() for name, t in model.state_dict().items()}
    mean, std = state["feature_mean"], state["feature_std"]
    layers = []
    for i, block in enumerate(model.blocks):
        w, b = state[f"blocks.{i}.linear.weight"][k], state[f"blocks.{i}.linear.bias"][k, 0]
        if i == 0:  # x_std = (x − μ)/s  →  W' = W/s, b' = b − (μ/s)·W
            w, b = w / std[:, None], b - (mean / std) @ w
        if model.config.norm == "batch":
            scale = state[f"blocks.{i}.norm.weight"][k, 0] / np.sqrt(state[f"blocks.{i}.norm.running_var"][k, 0]
                                                                    + block.norm.eps)
            shift = state[f"blocks.{i}.norm.bias"][k, 0] - state[f"blocks.{i}.norm.running_mean"][k, 0] * scale
            w, b = w * scale, b * scale + shift
        elif model.config.norm == "affine":
            scale, shift = state[f"blocks.{i}.norm.weight"][k, 0], state[f"blocks.{i}.norm.bias"][k, 0]
            w, b = w * scale, b * scale + shift
        layers.append((w, b))
    layers.append((state["head.weight"][k], state["head.bias"][k, 0]))
    return layers


def _constants(prefix: str, values: dict[str, Any]) -> tuple[list, dict[str, str]]:
    """float32 initializers ``prefix_name`` and a map name → initializer name."""
    inits = [numpy_helper.from_array(np.asarray(v, np.float32).reshape(np.shape(v) or (1,)), f"{prefix}_{k}")
             for k, v in values.items()]
    return inits, {k: f"{prefix}_{k}" for k in values}


def _nuwro_kinematics_nodes() -> tuple[list, list]:
    """Nodes taking E, ω, cos θ, Q² and q² = Q² + ω² ([N, 1] each: ``kin_E``, ``kin_omega``,
    ``kin_cos``, ``kin_Q2``, ``kin_q2``) from the NuWro input [N, 5]."""
    picks = {"E": 0, "omega": 1, "cos": 3, "Q2": 4}
    scales = {"E": 20, "omega": 20, "cos": 1, "Q2": 100}
    inits, c = _constants("kin", {f"pick_{k}": np.eye(5)[:, [i]] * scales[k] for k, i in picks.items()})
    nodes = [helper.make_node("MatMul", [INPUT, c[f"pick_{k}"]], [f"kin_{k}"]) for k in picks]
    nodes += [helper.make_node("Mul", ["kin_omega", "kin_omega"], ["kin_omega2"]),
              helper.make_node("Add", ["kin_Q2", "kin_omega2"], ["kin_q2"])]
    return nodes, inits


def _psi_prime_nodes(d: Descriptors, omega: str, q2: str) -> tuple[list, list]:
    """Nodes computing ψ′ [N, 1] (``descriptors.psi_prime``) from the tensors named ``omega`` and ``q2`` [N, 1]."""
    m = kinematics.NUCLEON_MASS
    xi = np.sqrt(1 + (d.k_fermi / m) ** 2) - 1
    inits, c = _constants("psi", {"e_shift": d.e_shift, "two_m": 2 * m, "four_m2": 4 * m * m, "one": 1.0,
                                  "tiny": 1e-12, "inv_sqrt_xi": 1 / np.sqrt(xi)})
    node = helper.make_node
    nodes = [
        node("Identity", [omega], ["psi_omega"]), node("Identity", [q2], ["psi_q2"]),
        node("Sub", ["psi_omega", c["e_shift"]], ["psi_w_shift"]),
        node("Div", ["psi_w_shift", c["two_m"]], ["psi_lam"]),
        node("Div", ["psi_q2", c["four_m2"]], ["psi_kappa2"]), node("Sqrt", ["psi_kappa2"], ["psi_kappa"]),
        node("Mul", ["psi_lam", "psi_lam"], ["psi_lam2"]), node("Sub", ["psi_kappa2", "psi_lam2"], ["psi_tau"]),
        node("Max", ["psi_tau", c["tiny"]], ["psi_tau_safe"]), node("Add", ["psi_tau_safe", c["one"]], ["psi_tau1"]),
        node("Mul", ["psi_tau_safe", "psi_tau1"], ["psi_tt"]), node("Sqrt", ["psi_tt"], ["psi_sqrt_tt"]),
        node("Mul", ["psi_kappa", "psi_sqrt_tt"], ["psi_k_term"]), node("Add", ["psi_lam", c["one"]], ["psi_lam1"]),
        node("Mul", ["psi_lam1", "psi_tau_safe"], ["psi_l_term"]),
        node("Add", ["psi_l_term", "psi_k_term"], ["psi_d2"]),
        node("Max", ["psi_d2", c["tiny"]], ["psi_d2_safe"]), node("Sqrt", ["psi_d2_safe"], ["psi_den"]),
        node("Sub", ["psi_lam", "psi_tau"], ["psi_num"]), node("Div", ["psi_num", "psi_den"], ["psi_ratio"]),
        node("Mul", ["psi_ratio", c["inv_sqrt_xi"]], ["psi"]),
    ]
    return nodes, inits


def _q_omega_nodes() -> tuple[list, list]:
    """Nodes taking q, ω, q² and Q² = q² − ω² ([N, 1]: ``kin_q``, ``kin_omega``, ``kin_q2``,
    ``kin_Q2``) from the responses input [N, 2] = (q, ω) in GeV."""
    inits, c = _constants("kin", {"pick_q": np.array([[1.0], [0.0]]), "pick_omega": np.array([[0.0], [1.0]])})
    node = helper.make_node
    nodes = [node("MatMul", [INPUT, c["pick_q"]], ["kin_q"]), node("MatMul", [INPUT, c["pick_omega"]], ["kin_omega"]),
             node("Mul", ["kin_q", "kin_q"], ["kin_q2"]), node("Mul", ["kin_omega", "kin_omega"], ["kin_omega2"]),
             node("Sub", ["kin_q2", "kin_omega2"], ["kin_Q2"])]
    return nodes, inits


def _response_kinematics_nodes() -> tuple[list, list]:
    """Nodes of ``rosenbluth.response_kinematics``: ``resp_x`` [N, 6] = [q, ω, Q², ν, ln q, ln ω]."""
    inits, c = _constants("rk", {"two_m": 2 * kinematics.NUCLEON_MASS})
    node = helper.make_node
    nodes = [node("Sqrt", ["kin_q2"], ["rk_q"]), node("Div", ["kin_Q2", c["two_m"]], ["rk_qe"]),
             node("Sub", ["kin_omega", "rk_qe"], ["rk_shift"]), node("Div", ["rk_shift", "rk_q"], ["rk_nu"]),
             node("Log", ["rk_q"], ["rk_log_q"]), node("Log", ["kin_omega"], ["rk_log_omega"]),
             node("Concat", ["rk_q", "kin_omega", "kin_Q2", "rk_nu", "rk_log_q", "rk_log_omega"], ["resp_x"], axis=1)]
    return nodes, inits


def _rosenbluth_weight_nodes() -> tuple[list, list]:
    """Nodes of ``rosenbluth.weights_over_scale``: ``rw`` [N, 2] = (σ_Mott v_L/S, σ_Mott v_T/S)."""
    inits, c = _constants("rw", {"one": 1.0, "half": 0.5, "mott_over_s": MOTT_OVER_S})
    node = helper.make_node
    nodes = [node("Add", [c["one"], "kin_cos"], ["rw_opc"]), node("Sub", [c["one"], "kin_cos"], ["rw_omc"]),
             node("Mul", ["rw_opc", c["half"]], ["rw_c2"]), node("Sqrt", ["rw_c2"], ["rw_cos_half"]),
             node("Div", ["rw_omc", "rw_opc"], ["rw_tan2"]), node("Mul", ["kin_E", "rw_cos_half"], ["rw_ec"]),
             node("Mul", ["rw_ec", c["mott_over_s"]], ["rw_mos"]), node("Div", ["kin_Q2", "kin_q2"], ["rw_ratio"]),
             node("Mul", ["rw_ratio", "rw_ratio"], ["rw_ratio2"]), node("Mul", ["rw_mos", "rw_ratio2"], ["rw_l"]),
             node("Mul", ["rw_ratio", c["half"]], ["rw_half_ratio"]),
             node("Add", ["rw_half_ratio", "rw_tan2"], ["rw_vt"]), node("Mul", ["rw_mos", "rw_vt"], ["rw_t"]),
             node("Concat", ["rw_l", "rw_t"], ["rw"], axis=1)]
    return nodes, inits


def member_graph(model: EnsembleNet, k: int, name: str, nucleus: Nucleus | None = None,
                 responses: bool = False) -> onnx.ModelProto:
    """The float32 ONNX model of member k with NuWro's interface: for a model with nucleus
    inputs, ``nucleus``'s descriptors folded into the first layer's bias, ψ′ computed in the
    graph from the five inputs, and the nucleus factor (A/12 …) in the final ``Mul``.

    A response model computes (q, ω) and its network's inputs in the graph, then
    R_L, R_T and y = (σ_Mott/S)(v_L R_L + v_T R_T). With ``responses`` (response models only)
    the graph is instead (q, ω) [N, 2] in GeV → (R_L, R_T) [N, 2] in GeV⁻¹ per nucleus."""
    if responses and not model.is_response:
        raise OnnxFormatError("only a response model (model.output=responses) has an R_L, R_T graph")
    if model.is_structured:  # traced from the torch module (onnx_trace)
        return onnx_trace.member_graph(model, k, name, nucleus, responses, INPUT,
                                       RESPONSES_OUTPUT if responses else OUTPUT, OPSET, IR_VERSION)
    layers = folded_layers(model, k)
    mode = model.config.nucleus_inputs
    nodes, inits = _q_omega_nodes() if responses else (
        _nuwro_kinematics_nodes() if model.is_response or mode in ("psi", "scaling") else ([], []))
    x, n_kinematic = INPUT, N_KINEMATIC
    if model.is_response:
        more_nodes, more_inits = _response_kinematics_nodes()
        nodes, inits, x, n_kinematic = nodes + more_nodes, inits + more_inits, "resp_x", N_RESPONSE_KINEMATIC
    if mode != "none":  # first layer: x·W[:n] (+ ψ′·W[n]) + (descriptors·W[rest] + b)
        d = describe(nucleus)
        w, b = layers[0]
        constant = np.array([d.z_over_a, d.a_third, d.k_fermi, *([] if mode == "shape" else [d.e_shift])])
        b = b + constant @ w[-len(constant):]
        if mode != "shape":
            psi_nodes, psi_inits = _psi_prime_nodes(d, "kin_omega", "kin_q2")
            nodes += psi_nodes
            inits += [*psi_inits, numpy_helper.from_array(w[n_kinematic:n_kinematic + 1].astype(np.float32), "W_psi")]
            nodes.append(helper.make_node("MatMul", ["psi", "W_psi"], ["psi_term"]))
        layers = [(w[:n_kinematic], b), *layers[1:]]
    for i, (w, b) in enumerate(layers):
        inits += [numpy_helper.from_array(w.astype(np.float32), f"W{i}"),
                  numpy_helper.from_array(b.astype(np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [x, f"W{i}"], [f"mm{i}"]),
                  helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"z{i}"])]
        x = f"z{i}"
        if i == 0 and mode in ("psi", "scaling"):
            nodes.append(helper.make_node("Add", [x, "psi_term"], ["z0_psi"]))
            x = "z0_psi"
        if i < len(layers) - 1:
            act = model.config.activation
            if act == "relu":
                nodes.append(helper.make_node("Relu", [x], [f"a{i}"]))
            elif act == "tanh":
                nodes.append(helper.make_node("Tanh", [x], [f"a{i}"]))
            else:  # silu: x·sigmoid(x)
                nodes += [helper.make_node("Sigmoid", [x], [f"s{i}"]), helper.make_node("Mul", [x, f"s{i}"], [f"a{i}"])]
            x = f"a{i}"
    factor = float(model.output_factor) * nucleus_factor(mode, nucleus)
    if model.is_response:
        final, width = (RESPONSES_OUTPUT if responses else "responses"), 2
        factor *= R_UNIT
    else:
        final, width = (OUTPUT if factor == 1.0 else "y"), 1
    if model.config.output in ("sigmoid", "responses"):  # 1/(1 + exp(−z)): see the module docstring
        inits.append(numpy_helper.from_array(np.array([1.0], np.float32), "one"))
        unit = "unit" if factor != 1.0 else final
        nodes += [helper.make_node("Neg", [x], ["neg_z"]), helper.make_node("Exp", ["neg_z"], ["exp_neg_z"]),
                  helper.make_node("Add", ["exp_neg_z", "one"], ["denominator"]),
                  helper.make_node("Reciprocal", ["denominator"], [unit])]
    else:
        unit = "unit" if factor != 1.0 else final
        nodes.append(helper.make_node("Exp", [x], [unit]))
    if factor != 1.0:
        inits.append(numpy_helper.from_array(np.array([factor], np.float32), "output_factor"))
        nodes.append(helper.make_node("Mul", ["unit", "output_factor"], [final if model.is_response else OUTPUT]))
    if model.is_response and not responses:  # y = Σ (σ_Mott v/S) R over L, T
        weight_nodes, weight_inits = _rosenbluth_weight_nodes()
        inits += [*weight_inits, numpy_helper.from_array(np.array([1], np.int64), "sum_axis")]
        nodes += [*weight_nodes, helper.make_node("Mul", ["responses", "rw"], ["weighted"]),
                  helper.make_node("ReduceSum", ["weighted", "sum_axis"], [OUTPUT], keepdims=1)]
        width = 1
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", 2 if responses else 5])],
        [helper.make_tensor_value_info(RESPONSES_OUTPUT if responses else OUTPUT, TensorProto.FLOAT, ["N", width])],
        inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="enxs", producer_version=__version__)
    onnx.checker.check_model(proto)
    return proto


#: The self-check compares onnxruntime's y with enxs's: |Δy| ≤ CHECK_TOLERANCE · max(|y|, floor), relative where
#: y is above the floor and absolute where it underflows toward 0; floor = CHECK_FLOOR × the file's largest |y|
#: (at least CHECK_FLOOR): float32 tails of responses 10⁻⁷ below their peak are not held to 10⁻⁴ relative.
CHECK_TOLERANCE = 1e-4
CHECK_FLOOR = 1e-6


def check_member(path: Path, features: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Run one ONNX file with onnxruntime against enxs's output (y [N], or R_L, R_T [N, 2]) on
    the same inputs.

    Returns (max |Δy|, max |Δy|/y over values above the floor); raises
    :class:`OnnxFormatError` naming the file and the worst point beyond the tolerance.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = session.run(None, {INPUT: features})[0].reshape(-1).astype(np.float64)
    reference = reference.reshape(-1).astype(np.float64)
    diff = np.abs(y - reference)
    floor = CHECK_FLOOR * max(1.0, float(np.abs(reference).max(initial=0.0)))
    excess = diff / (CHECK_TOLERANCE * np.maximum(np.abs(reference), floor))
    if not np.all(np.isfinite(y)) or excess.max() > 1:
        i = int(np.nanargmax(np.where(np.isfinite(excess), excess, np.inf)))
        raise OnnxFormatError(f"{path}: onnxruntime gives y={y[i]:.6g} where enxs gives {reference[i]:.6g} "
                              f"(point {i}; tolerance {CHECK_TOLERANCE:g} relative, absolute below y={floor:g})")
    above = np.abs(reference) > floor
    return float(diff.max()), float(np.max(diff[above] / np.abs(reference[above]), initial=0.0))


def export(model: EnsembleNet, nucleus: Nucleus, out: Path, weights_sha256: str = "", check_count: int = 2000,
           seed: int = 0, responses: bool = False, zero_shot_note: str | None = None) -> dict[str, Any]:
    """Write one ONNX file per member (IR version 8, opset 17, as the published members: older
    onnxruntime builds linked into generators refuse newer IR) to ``out/<Symbol><A>/`` (or to
    ``out`` itself when it is named so) and check each with onnxruntime; with ``responses`` (a
    response model), the (q, ω) → (R_L, R_T) graphs ``response_A_<A>_<i>.onnx`` to
    ``out/<Symbol><A>-responses/``. ``zero_shot_note``: the model has no data of ``nucleus``
    (``Ensemble.zero_shot_note``), said in the sidecar ``enxs-export.json``.

    The directory must not exist yet (or be empty): files are written to a staging
    directory, checked against enxs's own float32 prediction on random physical points
    (:func:`check_member`; ~1e-6 relative for the fast preset, ~2e-5 for 10×300 networks
    from float32 summation order), and moved into place only when every member passes.
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
        reference = member_responses(model, q, omega, nucleus)  # [K, N, 2]
        features = np.ascontiguousarray(np.stack([q, omega], axis=1).astype(np.float32))
    else:
        features = inputs(mode, energy, theta, omega, nucleus if mode != "none" else None).astype(np.float32)
        with torch.inference_mode():
            reference = (model.eval()(torch.as_tensor(features)).numpy() * nucleus_factor(mode, nucleus)
                         * member_factors(model, nucleus))
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
            diff_abs, diff_rel = check_member(path, features, reference[k])
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
                   "onnx_ir_version": IR_VERSION, "opset": OPSET, "dtype": "float32", **interface,
                   "ensemble": "one file per member: the prediction is the mean over members, its uncertainty the "
                               "sample standard deviation over members (ddof = 1)",
                   "source_weights_sha256": weights_sha256,
                   "check": {"points": check_count, "max_abs_diff": worst_abs, "max_rel_diff": worst_rel,
                             "tolerance": CHECK_TOLERANCE,
                             "floor": f"{CHECK_FLOOR:g} × the largest |y| of each file, at least {CHECK_FLOOR:g}"},
                   "files": files}
        (staging / "enxs-export.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        if directory.exists():
            directory.rmdir()  # empty (checked above)
        staging.rename(directory)
    return {**summary, "directory": str(directory), "max_abs_diff": worst_abs, "max_rel_diff": worst_rel}


def export_ensemble(ensemble, out: str | Path, nucleus: str | Nucleus | None = None,
                    responses: bool = False) -> dict[str, Any]:
    """:func:`export` for an :class:`enxs.predict.Ensemble`: its members for ``nucleus`` (its own,
    or any for a model of several), zero-shot said in the sidecar where it has no such data."""
    target = ensemble.target(nucleus)
    return export(ensemble.model, target, Path(out), ensemble.manifest.weights_sha256, responses=responses,
                  zero_shot_note=ensemble.zero_shot_note(target) if ensemble.zero_shot(target) else None)
