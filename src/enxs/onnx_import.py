"""ONNX import: NuWro-style member files (the published ensembles, or enxs's own exports)
read into an enxs model.

Reads graphs of the form [MatMul → Add (→ Mul → Add) → Relu]×n → MatMul → Add → Sigmoid (or
its composed form 1/(1 + exp(−z)), and a final Mul; constants as initializers or ``Constant``
nodes) into an enxs model with ``norm='affine'`` (the folded batch norm as a per-unit scale and
shift) and NuWro's five inputs.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from enxs import archive
from enxs.artifacts import Manifest
from enxs.config import Config, Imported, ModelConfig, build_config
from enxs.coverage import coverage_settings
from enxs.files import sha256
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus, UnknownNucleusError
from enxs.onnx_io import OnnxFormatError

_NUWRO_A = {"12": "12C", "56": "56Fe"}  # NuWro's own mapping from the A in a file name
_MEMBER_FILE = re.compile(r"^model_electron_.*_(\d+)\.onnx$")


def member_files(directory: Path) -> list[Path]:
    """NuWro's rule: ``model_electron_*_<i>.onnx`` sorted by i, names containing ``_ver_`` skipped."""
    found = [(int(m[1]), p) for p in Path(directory).glob("*.onnx")
             if (m := _MEMBER_FILE.match(p.name)) and "_ver_" not in p.name]
    if not found:
        what = "no model_electron_*_<i>.onnx files" if Path(directory).is_dir() else "no such directory"
        raise OnnxFormatError(f"{directory}: {what}")
    return [p for _, p in sorted(found)]


def read_member(path: Path) -> list[dict]:
    """The layers of one ONNX member: [{'W', 'b', 'scale'?, 'shift'?}, …], last = output layer
    (with 'factor' where a final Mul scales the output)."""
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # onnx raises several types for corrupt files
        raise OnnxFormatError(f"{path}: not a readable ONNX file ({exc})") from exc
    init = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in proto.graph.initializer}
    layers: list[dict] = []
    for node in proto.graph.node:
        op, const = node.op_type, [init[n] for n in node.input if n in init]
        if op == "Constant" or (op == "Identity" and const):  # constants as nodes, or an initializer's alias
            init[node.output[0]] = const[0] if const else numpy_helper.to_array(node.attribute[0].t).astype(np.float64)
            continue
        if op == "MatMul" and const:
            layers.append({"W": const[0]})
            continue
        if not layers:
            raise OnnxFormatError(f"{path}: {op} before the first MatMul ({node.name})")
        last = layers[-1]
        if op in ("Sigmoid", "Neg", "Exp", "Reciprocal"):
            last["output"] = True
        elif op == "Add" and const and last.get("output"):
            continue  # the 1 of 1/(1 + exp(−z))
        elif op == "Mul" and const and last.get("output"):
            last["factor"] = float(const[0].reshape(-1)[0])  # A/12 of a transferred model
        elif op == "Add" and const:
            last["shift" if "scale" in last else "b"] = const[0].reshape(-1)
        elif op == "Mul" and const:
            last["scale"] = const[0].reshape(-1)
        elif op not in ("Relu", "Identity"):
            raise OnnxFormatError(f"{path}: unsupported node {op!r} ({node.name})")
    if not layers or any("b" not in layer for layer in layers):
        raise OnnxFormatError(f"{path}: not a [MatMul → Add …]+ → Sigmoid network")
    return layers


def import_ensemble(directory: Path, nucleus: str | None = None,
                    data_dir: str | Path | None = None) -> tuple[EnsembleNet, Manifest]:
    """An ONNX ensemble as an enxs model with its manifest (start ``imported``).

    The nucleus is ``nucleus``, else the directory's name (``C12``), else NuWro's own
    file-name rule (A = 12 → 12C, 56 → 56Fe; any other A is ambiguous, 40 being Ar or Ca).
    The members' training data are unknown: the coverage is that of all selected points of
    the nucleus' file in the data directory, or None (unknown) where there is none.
    """
    model, paths = import_members(directory)
    a_field = paths[0].stem.split("_")[-2]  # NuWro's model_electron_A_<A>_<i>.onnx
    if nucleus is None:
        try:
            nuc = Nucleus.parse(Path(directory).name)
        except UnknownNucleusError:
            if a_field not in _NUWRO_A:
                raise OnnxFormatError(f"cannot tell the nucleus of {directory} (A={a_field}); give --nucleus") from None
            nuc = Nucleus.parse(_NUWRO_A[a_field])
    else:
        nuc = Nucleus.parse(nucleus)
        if a_field.isdigit() and int(a_field) != nuc.A:
            warnings.warn(f"{paths[0].name} says A = {a_field}; imported as {nuc.name}, as asked", stacklevel=2)
    config = build_config(Config(model=model.config, preset="imported"), Imported(source=Path(directory).name),
                          members=model.members)
    coverage, source = None, "unknown: no data file for this nucleus in the data directory"
    try:
        data_file = archive.find_nucleus_file(nuc.name, data_dir)
        coverage = coverage_settings(config.selection.apply(archive.read_file(data_file, nuc)[0]))
        source = f"all selected points of {data_file.name} (the members' own training data are unknown)"
    except archive.ArchiveError:
        pass
    manifest = Manifest(kind="imported", nuclei=[nuc], config=config, members=model.members,
                        coverage=None if coverage is None else {nuc.name: coverage},
                        coverage_source=source,
                        source={"directory": Path(directory).resolve().name,
                                "files": [{"name": p.name, "sha256": sha256(p)} for p in paths]})
    return model, manifest


def import_members(directory: Path) -> tuple[EnsembleNet, list[Path]]:
    """An enxs model (norm='affine', NuWro inputs, sigmoid) holding the directory's members."""
    paths = member_files(directory)
    members = [read_member(p) for p in paths]
    hidden = members[0][:-1]
    depth, width = len(hidden), hidden[0]["W"].shape[1]
    has_affine = "scale" in hidden[0]
    config = ModelConfig(depth=depth, width=width, norm="affine" if has_affine else "none", inputs="nuwro")
    model = EnsembleNet(config, len(members))
    state = model.state_dict()
    for k, layers in enumerate(members):
        if len(layers) != depth + 1 or layers[0]["W"].shape != (5, width):
            raise OnnxFormatError(f"{paths[k]}: architecture differs from {paths[0].name}")
        for i, layer in enumerate(layers):
            prefix = "head" if i == depth else f"blocks.{i}.linear"
            state[f"{prefix}.weight"][k] = torch.as_tensor(layer["W"])
            state[f"{prefix}.bias"][k, 0] = torch.as_tensor(layer["b"])
            if i < depth and has_affine:
                state[f"blocks.{i}.norm.weight"][k, 0] = torch.as_tensor(layer["scale"])
                state[f"blocks.{i}.norm.bias"][k, 0] = torch.as_tensor(layer["shift"])
    state["output_factor"].fill_(members[0][-1].get("factor", 1.0))
    model.load_state_dict(state)
    return model.eval(), paths
